"""Fail points: named places where a reliability test can stop the process on purpose.

``TIERING_FAILPOINT=<name>`` makes :func:`failpoint` print ``failpoint <name> reached`` on stderr
and then sleep, so the test can kill the process with SIGKILL exactly there (for example halfway
through writing a rating) and check that nothing was half-written. Unset, a fail point costs one
dictionary lookup. This is the technique of etcd's gofail and FreeBSD's fail points; it is read
from the environment directly (not from Settings) because it is a test hook, not a setting.
"""

from __future__ import annotations

import os
import sys
import time

__all__ = ["failpoint"]

_ENV = "TIERING_FAILPOINT"


def failpoint(name: str) -> None:
    """Stop here (sleep until killed) when ``TIERING_FAILPOINT`` names this point.

    Parameters
    ----------
    name : str
        The point's name; the crash tests set ``TIERING_FAILPOINT`` to it and kill the process.
    """
    if os.environ.get(_ENV) != name:
        return
    sys.stderr.write(f"failpoint {name} reached\n")
    sys.stderr.flush()
    while True:  # pragma: no cover - ended by the test's SIGKILL
        time.sleep(3600)
