"""schemathesis against the running app's own OpenAPI: no 5xx, no response that breaks its schema.

Runs with an admin key (every operation reachable) on a rated SQLite store; a few dozen generated
requests per operation keep it inside the CI budget.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from customer_tiering.rating.runs import run_periodic_rating
from customer_tiering.store.keys import create_key
from customer_tiering.store.tier_store import TierStore
from tests.api.conftest import serve
from tests.support.rating_env import AS_OF, TrainedEnv

pytestmark = pytest.mark.xdist_group("rating")
_KEY: dict[str, str] = {}


@pytest.fixture(scope="module")
def api_schema(trained: TrainedEnv, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    base = tmp_path_factory.mktemp("fuzz")
    settings_ = trained.settings(f"sqlite:///{base / 'tiering.db'}").model_copy(
        update={"clean_data_dir": trained.clean_dir, "model_poll_seconds": 0.0})
    run_periodic_rating(as_of=AS_OF, settings=settings_, data_dir=trained.clean_dir)
    store = TierStore.open(settings_.tier_store_url())
    _KEY["admin"] = create_key(store, "admin", "fuzzer")
    store.close()
    server = serve(settings_)
    url = next(server)
    try:
        yield schemathesis.openapi.from_url(f"{url}/openapi.json")
    finally:
        server.close()


def test_no_server_error_and_every_response_matches_the_schema(api_schema: object) -> None:
    # schemathesis' pytest plugin (``from_fixture``) does not run under this pytest version, so
    # each operation's strategy is driven by Hypothesis directly: same generation, same checks.
    from hypothesis import given

    operations = [result.ok() for result in api_schema.get_all_operations()]  # type: ignore[attr-defined]
    assert len(operations) >= 15
    failures = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
        def run(case: schemathesis.Case) -> None:
            case.call_and_validate(headers={"X-API-Key": _KEY["admin"]},
                                   checks=[not_a_server_error, response_schema_conformance])

        try:
            run()
        except Exception as exc:
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)
