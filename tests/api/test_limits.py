"""What a caller cannot send: bodies above the size limit, however they are framed.

Against a real uvicorn server on a rated SQLite store.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.api.conftest import LiveApi, app_settings, live_server
from tests.support.rating_env import AS_OF, TrainedEnv

pytestmark = pytest.mark.xdist_group("rating")


@pytest.fixture(scope="module")
def api(trained: TrainedEnv, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    base = tmp_path_factory.mktemp("limits")
    settings = app_settings(trained, f"sqlite:///{base / 'tiering.db'}")
    with live_server(settings, trained.clean_dir, as_ofs=(AS_OF,)) as running:
        yield running


def _twenty_megabytes() -> bytes:
    return b'{"customers": [' + b'{"order_count_365d": 1},' * 870_000 + b'{}]}'


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_body_above_the_limit_gets_413_with_or_without_a_length(api: LiveApi,
                                                                   framing: str) -> None:
    body = _twenty_megabytes()
    assert len(body) > 20_000_000 > api.settings.max_body_bytes

    def pieces() -> Iterator[bytes]:  # an iterator has no length: httpx sends it chunked
        for start in range(0, len(body), 65_536):
            yield body[start:start + 65_536]

    content = body if framing == "content-length" else pieces()
    with api.client("viewer") as client:
        response = client.post("/v1/score/batch", content=content,
                               headers={"content-type": "application/json"})
    sent = response.request.headers
    assert ("content-length" in sent) == (framing == "content-length")
    assert ("transfer-encoding" in sent) == (framing == "chunked")
    assert response.status_code == 413, response.text
    assert "larger than" in response.json()["detail"]


def test_a_page_refuses_a_body_above_the_limit_with_an_error_page(api: LiveApi) -> None:
    with api.client(None) as client:
        response = client.post("/login", content=b"api_key=" + b"x" * 17_000_000,
                               headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert 'id="error"' in response.text
