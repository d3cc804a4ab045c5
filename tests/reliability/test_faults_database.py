"""The database under a rating is contended: real ``tiering rate`` processes.

* Two identical ratings at once (SQLite and PostgreSQL): the second has looked up the rating's
  key and found nothing, then the first commits; the second is told the rating is already stored
  (the idempotent answer), and the store holds one rating with all its rows.
"""

from __future__ import annotations

import signal

import pytest

from tests.support.faults import (
    assert_no_partial_rating,
    cli_env,
    one_line,
    start_rating,
    wait_for,
)
from tests.support.rating_env import AS_OF, TrainedEnv

pytestmark = [pytest.mark.xdist_group("rating"), pytest.mark.slow]


def test_two_identical_ratings_at_once_store_one_and_tell_the_other_so(
        trained: TrainedEnv, store_url: str) -> None:
    first = start_rating(cli_env(trained, store_url, failpoint="store.before_commit"),
                         AS_OF.isoformat(), trained.clean_dir)
    second = start_rating(cli_env(trained, store_url, failpoint="store.before_insert"),
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
    told = "already stored; nothing written"
    assert told not in one_line(out_first)
    assert told in one_line(out_second)
    found = assert_no_partial_rating(store_url)
    assert len(found) == 1, found
