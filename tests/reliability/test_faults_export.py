"""The disk fills up while ``tiering export`` writes: no partial file, one clear error.

A full disk is simulated with a file size limit on the child process (``RLIMIT_FSIZE``: a write
past it fails with EFBIG, as a write to a full disk fails with ENOSPC; Python ignores SIGXFSZ, so
the process is not killed by it). The limit is half the size of the complete export, so the
export fails midway. An export already at the target (from an earlier run) must stay intact.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from customer_tiering.rating.exports import export_rating
from customer_tiering.rating.runs import run_periodic_rating
from customer_tiering.store.tier_store import TierStore
from tests.support.faults import TIERING, cli_env, one_line
from tests.support.rating_env import AS_OF, TrainedEnv

pytestmark = pytest.mark.xdist_group("rating")


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_disk_full_during_an_export_leaves_no_partial_file_and_says_so(
        trained: TrainedEnv, tmp_path: Path, fmt: str) -> None:
    store_url = f"sqlite:///{tmp_path / 'tiering.db'}"
    rating = run_periodic_rating(as_of=AS_OF, settings=trained.settings(store_url),
                                 data_dir=trained.clean_dir).record
    exports = tmp_path / "exports"
    target = exports / f"rating.{fmt}"
    with TierStore.open(store_url) as store:
        export_rating(store, rating.id, target, fmt=fmt)  # an earlier, complete export
    earlier = target.read_bytes()
    limit = len(earlier) // 2
    assert limit > 64 * 1024  # above what reading the SQLite store writes (its 32 KB index)

    # the limit is set by a small launcher that then becomes `tiering` (exec), rather than by
    # preexec_fn, which is unsafe in a process with threads
    launcher = ("import os, resource, sys; "
                f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit})); "
                "os.execv(sys.argv[1], sys.argv[1:])")
    done = subprocess.run([sys.executable, "-c", launcher, str(TIERING), "export", "--rating",
                           str(rating.id), "--format", fmt, "--out", str(target)],
                          env=cli_env(trained, store_url), capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "Exception" not in done.stderr, done.stderr
    assert one_line(done.stderr) == one_line(
        f"error: export of rating {rating.id} to {target} failed: File too large; nothing was "
        "written")
    assert sorted(p.name for p in exports.iterdir()) == [target.name]  # no partial file
    assert target.read_bytes() == earlier
