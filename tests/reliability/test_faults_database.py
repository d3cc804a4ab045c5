"""The database under a rating fails or is contended: real ``tiering rate`` processes.

* A PostgreSQL server (one of the test's own; the shared one never stops) stopped while a rating
  is stopped at a fail point: the rating fails with one clear line and no traceback, nothing of it
  is stored, and once the server is back the retry stores exactly one rating.
* Two identical ratings at once (SQLite and PostgreSQL): the second has looked up the rating's
  key and found nothing, then the first commits; the second is told the rating is already stored
  (the idempotent answer), and the store holds one rating with all its rows.
* Processes opening a new store at the same moment (each migrates on open): one migrates, the
  others find it migrated; none fails on a table the other has just created.
"""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from customer_tiering.i18n.catalogue import text
from customer_tiering.rating.runs import run_periodic_rating
from customer_tiering.store.tier_store import TierStore
from tests.support.faults import (
    assert_no_partial_rating,
    cli_env,
    one_line,
    start_rating,
    wait_for,
)
from tests.support.rating_env import AS_OF, TrainedEnv
from tests.support.throwaway_postgres import throwaway_postgres

pytestmark = [pytest.mark.xdist_group("rating"), pytest.mark.slow]


@pytest.mark.parametrize("point", ["store.before_insert", "store.after_chunk"])
def test_postgres_stopped_mid_rating_fails_cleanly_and_the_retry_stores_one_rating(
        trained: TrainedEnv, point: str) -> None:
    with throwaway_postgres() as server:
        child = start_rating(cli_env(trained, server.url, failpoint=point), AS_OF.isoformat(),
                             trained.clean_dir)
        try:
            wait_for(child, f"failpoint {point} reached")
            server.stop("fast")  # clients are cut off; an open transaction is rolled back
            child.send_signal(signal.SIGUSR1)  # the rating goes on, into a stopped server
            _, err = child.communicate(timeout=120)
        finally:
            if child.poll() is None:
                child.kill()
                child.communicate()
        assert child.returncode not in (0, 1), err  # 1 would be a crash
        assert "Traceback" not in err, err
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: the database failed midway"), err
        assert "run the command again" in one_line(err)

        server.start()
        assert assert_no_partial_rating(server.url) == {}
        retry = run_periodic_rating(as_of=AS_OF, settings=trained.settings(server.url),
                                    data_dir=trained.clean_dir)
        assert retry.created
        assert assert_no_partial_rating(server.url) == {
            retry.record.id: (retry.record.customer_count, retry.record.customer_count)}


def test_two_identical_ratings_at_once_store_one_and_tell_the_other_so(
        trained: TrainedEnv, store_url: str) -> None:
    first = start_rating(cli_env(trained, store_url, failpoint="store.before_commit", TIERING_LANG="zh"),
                         AS_OF.isoformat(), trained.clean_dir)
    second = start_rating(cli_env(trained, store_url, failpoint="store.before_insert", TIERING_LANG="zh"),
                          AS_OF.isoformat(), trained.clean_dir)
    try:
        wait_for(first, "failpoint store.before_commit reached")  # its rows are written
        wait_for(second, "failpoint store.before_insert reached")  # it found no such rating
        second.send_signal(signal.SIGUSR1)  # its insert meets the first's uncommitted key
        first.send_signal(signal.SIGUSR1)  # the first commits
        out_first, err_first = first.communicate(timeout=120)
        out_second, err_second = second.communicate(timeout=120)
    finally:
        for child in (first, second):
            if child.poll() is None:
                child.kill()
                child.communicate()
    assert first.returncode == 0, err_first
    assert second.returncode == 0, err_second
    found = assert_no_partial_rating(store_url)
    assert len(found) == 1, found
    # in the CLI's language (TIERING_LANG, else Chinese), from the catalogue
    told = text("rate_already_stored", "zh", rating=next(iter(found)))
    assert told not in one_line(out_first)
    assert told in one_line(out_second)


_OPEN_ON_GO = """
import sys
from customer_tiering.store.tier_store import TierStore
sys.stdin.readline()  # everyone imported: open at the same moment
TierStore.open(sys.argv[1]).close()
"""


@pytest.mark.parametrize("round_", range(3))
def test_processes_opening_a_new_store_at_once_all_find_it_migrated(
        store_url: str, round_: int) -> None:
    openers = [subprocess.Popen([sys.executable, "-c", _OPEN_ON_GO, store_url],
                                stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(4)]
    for opener in openers:
        assert opener.stdin is not None
        opener.stdin.write("go\n")
        opener.stdin.flush()
    errors = [opener.communicate(timeout=120)[1] for opener in openers]
    assert [opener.returncode for opener in openers] == [0] * 4, errors
    with TierStore.open(store_url, migrate=False) as store:
        assert store.schema_revision() is not None
        assert store.ratings().empty
