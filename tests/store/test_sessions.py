"""Page sessions on the server, on a real SQLite file and a real PostgreSQL database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa

from customer_tiering.store.keys import create_key, revoke_key
from customer_tiering.store.sessions import end_session, session_key, start_session
from customer_tiering.store.tables import web_sessions
from customer_tiering.store.tier_store import TierStore

HOUR = timedelta(hours=1)


@pytest.fixture
def store(store_url: str) -> Iterator[TierStore]:
    opened = TierStore.open(store_url)
    yield opened
    opened.close()


def _key_id(key: str) -> str:
    return key.split("_")[1]


def test_a_session_names_its_key_until_it_is_ended(store: TierStore) -> None:
    key = _key_id(create_key(store, "reviewer", "王经理"))
    token = start_session(store, key, HOUR)
    other = start_session(store, key, HOUR)
    found = session_key(store, token)
    assert found is not None and (found.key_id, found.role, found.name) == (key, "reviewer", "王经理")
    end_session(store, token)
    assert session_key(store, token) is None
    assert session_key(store, other) is not None  # another sign-in of the same key goes on
    end_session(store, token)  # ending twice changes nothing
    end_session(store, None)


def test_the_store_keeps_only_a_hash_of_the_token(store: TierStore) -> None:
    token = start_session(store, _key_id(create_key(store, "viewer", "v")), HOUR)
    with store.engine.connect() as conn:
        stored = conn.execute(sa.select(web_sessions.c.token_sha256)).scalars().all()
    assert len(stored) == 1 and token not in stored[0] and len(stored[0]) == 64


def test_unknown_expired_and_revoked_sessions_sign_no_one_in(store: TierStore) -> None:
    key = _key_id(create_key(store, "viewer", "v"))
    assert session_key(store, None) is None
    assert session_key(store, "no-such-token") is None
    expired = start_session(store, key, -HOUR)
    assert session_key(store, expired) is None
    live = start_session(store, key, HOUR)  # also deletes the expired one
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(web_sessions)).scalar() == 1
    revoke_key(store, key)
    assert session_key(store, live) is None
