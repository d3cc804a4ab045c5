from customer_tiering.core.errors import ConfigError, InputError, Problem


def test_problem_names_file_row_column_value_and_rule() -> None:
    p = Problem("orders.csv", 118, "平均月销售", "abc", "is not a number")
    assert str(p) == "orders.csv, row 118, column 平均月销售: 'abc': is not a number"


def test_input_error_lists_every_problem() -> None:
    problems = [Problem("a.csv", i, "amount", "x", "is not a number") for i in range(1, 4)]
    err = InputError(problems)
    assert err.problems == problems
    assert str(err).count("is not a number") == 3


def test_config_error_names_file_field_and_line() -> None:
    err = ConfigError("scorecard.yaml", "criteria[0].bands[1].points", "exceeds max 50", line=12)
    assert str(err) == "scorecard.yaml, line 12: criteria[0].bands[1].points: exceeds max 50"
