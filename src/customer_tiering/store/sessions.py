"""Signed-in page sessions, kept on the server so that signing out ends them.

The pages' session cookie is signed (Starlette's ``SessionMiddleware``, itsdangerous), but a
signature only proves that the app issued the cookie, not that the session is still wanted: a
copy taken before sign-out would be accepted for the cookie's whole lifetime. So the cookie also
carries a random session token, and the ``web_sessions`` table keeps the token's SHA-256 (never
the token itself, as for API keys) with the key it signed in, its expiry and when it ended.
A request is signed in only while that row is live: not ended, not expired, its key not revoked.
Ending a session is therefore one ``UPDATE``, and it holds on every worker process at once.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa

from customer_tiering.store.keys import ApiKey
from customer_tiering.store.tables import api_keys, web_sessions
from customer_tiering.store.tier_store import TierStore, now_utc

__all__ = ["end_session", "session_key", "start_session"]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(store: TierStore, key_id: str, lifetime: timedelta) -> str:
    """Open a session for the key ``key_id`` lasting ``lifetime``; return its token (for the
    signed cookie; the store keeps only its hash).

    Sessions that expired are deleted on the way, so the table holds only live and recently
    ended ones.

    Parameters
    ----------
    store : the tier store.
    key_id : the signed-in API key's id (``api_keys.key_id``).
    lifetime : how long the session may last (the cookie's max age).

    Returns
    -------
    str
        A random URL-safe token of 32 bytes.
    """
    token = secrets.token_urlsafe(32)
    now = now_utc()
    with store.engine.begin() as conn:
        conn.execute(web_sessions.delete().where(web_sessions.c.expires_at < now))
        conn.execute(web_sessions.insert().values(
            token_sha256=_digest(token), key_id=key_id, created_at=now,
            expires_at=now + lifetime, ended_at=None))
    return token


def session_key(store: TierStore, token: str | None) -> ApiKey | None:
    """The key a live session signed in, or None when the session is unknown, ended, expired,
    or its key was revoked.

    Parameters
    ----------
    store : the tier store.
    token : the token from the session cookie (None when the cookie holds none).

    Returns
    -------
    ApiKey or None
    """
    if not token:
        return None
    query = (sa.select(web_sessions.c.expires_at, web_sessions.c.ended_at, api_keys.c.key_id,
                       api_keys.c.role, api_keys.c.name, api_keys.c.revoked_at)
             .join(api_keys, api_keys.c.key_id == web_sessions.c.key_id)
             .where(web_sessions.c.token_sha256 == _digest(token)))
    with store.engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None or row.ended_at is not None or row.revoked_at is not None:
        return None
    if row.expires_at <= now_utc():
        return None
    return ApiKey(key_id=row.key_id, role=row.role, name=row.name)


def end_session(store: TierStore, token: str | None) -> None:
    """End the session of ``token`` now (sign-out); a copy of its cookie no longer signs in.

    Parameters
    ----------
    store : the tier store.
    token : the token from the session cookie; None or an unknown token changes nothing.
    """
    if not token:
        return
    with store.engine.begin() as conn:
        conn.execute(web_sessions.update()
                     .where(web_sessions.c.token_sha256 == _digest(token),
                            web_sessions.c.ended_at.is_(None))
                     .values(ended_at=now_utc()))
