"""schemathesis against the running app's own OpenAPI: no 5xx, no response that breaks its schema.

Runs with an admin key (every operation reachable) on a rated SQLite store, first operation by
operation, then statefully: sequences of calls that pass the values of one answer on to the next
call along the OpenAPI links (a grade list's customers to their grades, explanations, overrides,
reviews and special ratings; a rating list's ids to rating details), so that generated requests
reach real customers and ratings, not only 404s (``api/links.py``). Examples are bounded to stay
within about two minutes on two cores.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from customer_tiering.store.keys import create_key
from tests.api.conftest import app_settings, live_server
from tests.support.rating_env import AS_OF, TrainedEnv

pytestmark = pytest.mark.xdist_group("rating")
_KEY: dict[str, str] = {}
_CHECKS = [not_a_server_error, response_schema_conformance]


@pytest.fixture(scope="module")
def api_schema(trained: TrainedEnv, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    base = tmp_path_factory.mktemp("fuzz")
    # no cost budget: a fuzzer spends it in seconds, and then only the 429 would be tested
    settings_ = app_settings(trained, f"sqlite:///{base / 'tiering.db'}", rate_limit_burst=0.0)
    with live_server(settings_, trained.clean_dir, as_ofs=(AS_OF,)) as api:
        _KEY["admin"] = create_key(api.store, "admin", "fuzzer")
        yield schemathesis.openapi.from_url(f"{api.url}/openapi.json")


def test_no_server_error_and_every_response_matches_the_schema(api_schema: Any) -> None:
    # schemathesis' pytest plugin (``from_fixture``) does not run under this pytest version, so
    # each operation's strategy is driven by Hypothesis directly: same generation, same checks.
    from hypothesis import given

    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 15
    failures = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
        def run(case: schemathesis.Case) -> None:
            case.call_and_validate(headers={"X-API-Key": _KEY["admin"]}, checks=_CHECKS)

        try:
            run()
        except Exception as exc:
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)


def test_the_openapi_links_lead_from_lists_to_real_customers_and_ratings(api_schema: Any) -> None:
    links = api_schema.raw_schema["paths"]["/v1/grades"]["get"]["responses"]["200"]["links"]
    assert {"CustomerGrade", "CustomerOverride", "CustomerSpecialRating"} <= set(links)
    rules = [name for name in dir(api_schema.as_state_machine()) if "__" in name]
    assert any(r.startswith("GET_v1_grades") and "GET_v1_customers_customer_id" in r
               for r in rules), rules


def test_stateful_call_sequences_meet_no_server_error(api_schema: Any, tmp_path: Path) -> None:
    # The schemathesis command runs the stateful phase: its engine tolerates what a live server
    # does between runs (a special rating changes the review queue), where Hypothesis' own
    # state-machine runner stops at the first replay that draws differently ("flaky").
    command = [sys.executable, "-m", "schemathesis.cli", "run", api_schema.location,
               "--phases", "stateful", "--checks", ",".join(c.__name__ for c in _CHECKS),
               "-H", f"X-API-Key: {_KEY['admin']}", "--max-examples", "150", "--workers", "1",
               "--generation-database", "none", "--no-color"]
    run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600,
                         check=False)
    report = run.stdout + run.stderr
    assert run.returncode == 0 and "No issues found" in report, report[-6000:]
    tested = re.search(r"Tested: (\d+)", report)
    # the grade list, a customer's six operations, ratings and reviews: reached through links
    assert tested and int(tested.group(1)) >= 10, report[-3000:]
