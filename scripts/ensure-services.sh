#!/usr/bin/env bash
# Starts what the test suite talks to when it is not running yet: the local PostgreSQL server.
# The PostgreSQL tests never skip; if the server cannot be started they fail and say why.
set -euo pipefail
pg_is_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
if [ -n "${TIERING_TEST_POSTGRES_URL:-}" ]; then exit 0; fi  # an external server was named
if command -v pg_isready >/dev/null && ! pg_is_up; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    echo "starting PostgreSQL ..."
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
    for _ in $(seq 1 30); do pg_is_up && break; sleep 1; done
  fi
fi
pg_is_up || echo "warning: PostgreSQL is not reachable at 127.0.0.1:5432; the postgres tests will fail" >&2
