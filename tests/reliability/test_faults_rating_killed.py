"""A rating killed with SIGKILL leaves the tier store as it was (SQLite and PostgreSQL).

The real command runs in a child process. At each of the store's fail points (the key looked
up, grade rows written inside the transaction, every row written before the commit) it stops;
while it is stopped a reader still sees only the earlier rating; then it is killed with SIGKILL,
and the store must hold exactly what it held before and accept the same rating again. Random
moments (a seeded draw over the length of a whole rating) catch what the named points do not:
loading models, computing features, the commit itself. Whatever the moment, every stored rating
has all its grade rows, and the retry succeeds.
"""

from __future__ import annotations

import random
import signal
import subprocess
import time
from datetime import timedelta

import pytest

from customer_tiering.rating.runs import run_periodic_rating
from customer_tiering.store.tier_store import TierStore
from tests.support.faults import assert_no_partial_rating, cli_env, start_rating, wait_for
from tests.support.rating_env import AS_OF, TrainedEnv

pytestmark = [pytest.mark.xdist_group("rating"), pytest.mark.slow]
STORE_FAILPOINTS = ["store.before_insert", "store.after_chunk", "store.before_commit"]


def test_a_rating_killed_at_each_store_failpoint_leaves_the_store_as_it_was(
        trained: TrainedEnv, store_url: str) -> None:
    settings = trained.settings(store_url)
    before = run_periodic_rating(as_of=AS_OF.replace(day=30, month=11), settings=settings,
                                 data_dir=trained.clean_dir).record
    for point in STORE_FAILPOINTS:
        child = start_rating(cli_env(trained, store_url, failpoint=point), AS_OF.isoformat(),
                             trained.clean_dir)
        try:
            wait_for(child, f"failpoint {point} reached")
            reader = TierStore.open(store_url, migrate=False)
            # the half-written one is invisible; the earlier rating stays in force
            assert reader.ratings()["id"].tolist() == [before.id], point
            assert reader.latest_rating().id == before.id, point
            reader.close()
        finally:
            child.send_signal(signal.SIGKILL)
            child.communicate(timeout=30)
        assert child.returncode == -signal.SIGKILL, point
        assert assert_no_partial_rating(store_url) == {
            before.id: (before.customer_count, before.customer_count)}, point
    # Nothing is locked or half-done: the same rating now runs to the end.
    after = run_periodic_rating(as_of=AS_OF, settings=settings, data_dir=trained.clean_dir)
    assert after.created and after.record.customer_count == before.customer_count
    assert set(assert_no_partial_rating(store_url)) == {before.id, after.record.id}


def test_ratings_killed_at_random_moments_never_leave_a_partial_rating(
        trained: TrainedEnv, store_url: str) -> None:
    env = cli_env(trained, store_url)
    started = time.monotonic()
    first = start_rating(env, AS_OF.replace(day=30, month=11).isoformat(), trained.clean_dir)
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    whole = time.monotonic() - started  # how long a rating takes here, to spread the kills over
    draw = random.Random(18)
    moments = []
    for k in range(3):  # three ratings of their own (dates differ), each killed somewhere
        as_of = (AS_OF - timedelta(days=k)).isoformat()
        child = start_rating(env, as_of, trained.clean_dir)
        moment = draw.uniform(0.3, 1.0) * whole
        moments.append(round(moment, 2))
        try:
            child.wait(timeout=moment)
        except subprocess.TimeoutExpired:
            child.send_signal(signal.SIGKILL)
        child.communicate(timeout=30)
        assert child.returncode in (0, -signal.SIGKILL), (moments, child.returncode)
        found = assert_no_partial_rating(store_url)
        assert 1 <= len(found) <= 2 + k, (moments, found)
    settings = trained.settings(store_url)
    retry = run_periodic_rating(as_of=AS_OF, settings=settings, data_dir=trained.clean_dir)
    found = assert_no_partial_rating(store_url)
    assert retry.record.id in found and found[retry.record.id][1] == retry.record.customer_count
