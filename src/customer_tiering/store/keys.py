"""API keys with roles: viewer (sales ops), reviewer, admin.

A key reads ``tk_<key_id>_<secret>``. The store keeps the key id, the SHA-256 of the secret, the
role and a name, never the secret: ``tiering keys create`` prints the key once. Checking a key
looks the id up and compares the hashes with :func:`hmac.compare_digest` (constant time), so
neither a wrong secret nor a wrong id is answered faster than the other. Secrets are 32 random
bytes (``secrets.token_urlsafe``), so a plain SHA-256 suffices (no password stretching needed).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa

from customer_tiering.core.errors import TieringError
from customer_tiering.store.tables import api_keys
from customer_tiering.store.tier_store import TierStore, now_utc

__all__ = ["ROLES", "ApiKey", "Role", "create_key", "list_keys", "revoke_key", "verify_key"]

Role = Literal["viewer", "reviewer", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "reviewer", "admin")
_RANK = {role: i for i, role in enumerate(ROLES)}
# Compared against when the id is unknown, so that path costs the same as a wrong secret.
_DUMMY = hashlib.sha256(b"no such key").hexdigest()
_KEY_ID = re.compile(r"[0-9a-f]{1,32}")


@dataclass(frozen=True)
class ApiKey:
    """Who a valid key belongs to."""

    key_id: str
    role: Role
    name: str

    def allows(self, needed: Role) -> bool:
        """Whether this key's role is ``needed`` or above (admin > reviewer > viewer)."""
        return _RANK[self.role] >= _RANK[needed]


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(store: TierStore, role: str, name: str) -> str:
    """Create a key with ``role``; return the full key (shown once, stored only as a hash)."""
    if role not in ROLES:
        raise TieringError(f"role {role!r}: use one of {', '.join(ROLES)}")
    if not name.strip():
        raise TieringError("a key needs a name (who or what uses it)")
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    with store.engine.begin() as conn:
        conn.execute(api_keys.insert().values(key_id=key_id, secret_sha256=_digest(secret),
                                              role=role, name=name.strip(),
                                              created_at=now_utc()))
    return f"tk_{key_id}_{secret}"


def _key_row(store: TierStore, key_id: str) -> Any:
    with store.engine.connect() as conn:
        return conn.execute(sa.select(api_keys).where(api_keys.c.key_id == key_id)).first()


def _owner(row: Any) -> ApiKey:
    return ApiKey(key_id=row.key_id, role=row.role, name=row.name)


def verify_key(store: TierStore, presented: str | None) -> ApiKey | None:
    """The key's owner, or None for a missing, malformed, unknown, revoked or wrong key."""
    if not presented or not presented.startswith("tk_"):
        return None
    _, _, rest = presented.partition("tk_")
    key_id, sep, secret = rest.partition("_")
    if not sep or not _KEY_ID.fullmatch(key_id):  # ids are hex: a NUL would break PostgreSQL
        return None
    row = _key_row(store, key_id)
    # compared even for an unknown id, so the time taken does not tell which ids exist
    expected = row.secret_sha256 if row is not None else _DUMMY
    matches = hmac.compare_digest(_digest(secret), expected)
    if row is None or not matches or row.revoked_at is not None:
        return None
    return _owner(row)


def list_keys(store: TierStore) -> list[dict[str, object]]:
    """Key ids, roles, names and dates (never secrets)."""
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(api_keys.c.key_id, api_keys.c.role, api_keys.c.name,
                                      api_keys.c.created_at, api_keys.c.revoked_at)
                            .order_by(api_keys.c.created_at)).fetchall()
    return [dict(r._mapping) for r in rows]


def revoke_key(store: TierStore, key_id: str) -> None:
    """Revoke a key; it stops working at once."""
    with store.engine.begin() as conn:
        done = conn.execute(api_keys.update().where(api_keys.c.key_id == key_id,
                                                    api_keys.c.revoked_at.is_(None))
                            .values(revoked_at=now_utc())).rowcount
    if not done:
        raise TieringError(f"no active key {key_id!r}")
