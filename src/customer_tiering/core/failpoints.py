"""Fail points: named places where a reliability test can stop the process on purpose.

``TIERING_FAILPOINT=<name>`` makes :func:`failpoint` print ``failpoint <name> reached`` on stderr
and then wait, so the test can kill the process with SIGKILL exactly there (for example halfway
through writing a rating) and check that nothing was half-written, or do something to the world
around it (stop the database, start a rival rating) and send SIGUSR1 to let it go on. Unset, a
fail point costs one dictionary lookup. This is the technique of etcd's gofail and FreeBSD's fail
points; it is read from the environment directly (not from Settings) because it is a test hook,
not a setting.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

__all__ = ["failpoint"]

_ENV = "TIERING_FAILPOINT"


def failpoint(name: str) -> None:
    """Wait here when ``TIERING_FAILPOINT`` names this point: until SIGKILL, or SIGUSR1 (go on).

    Parameters
    ----------
    name : str
        The point's name; the fault tests set ``TIERING_FAILPOINT`` to it.

    Notes
    -----
    Only the main thread can take SIGUSR1 (Python runs signal handlers there); elsewhere the
    point waits for SIGKILL alone.
    """
    if os.environ.get(_ENV) != name:
        return
    resumed: list[int] = []
    on_main = threading.current_thread() is threading.main_thread()
    if on_main:
        # installed before the announcement, so a SIGUSR1 sent on reading it is never lost
        previous = signal.signal(signal.SIGUSR1, lambda signum, _frame: resumed.append(signum))
    sys.stderr.write(f"failpoint {name} reached\n")
    sys.stderr.flush()
    while not resumed:  # pragma: no branch - left by SIGUSR1, or ended by the test's SIGKILL
        time.sleep(0.05)
    if on_main:
        signal.signal(signal.SIGUSR1, signal.SIG_DFL if previous is None else previous)
