"""A PostgreSQL server of a test's own, to stop and start at will (the shared one never stops).

``initdb`` into a fresh folder, ``pg_ctl start`` on a free loopback port, trust authentication,
``fsync`` off (nothing here needs to survive a power cut). PostgreSQL refuses to run as root, so
under root (as on CI) the server runs as the ``postgres`` system user, which owns the folder.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


def _bin(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                                                   reverse=True)), None)
    if found is None:
        raise RuntimeError(f"{name} not found: install the PostgreSQL server (Debian: "
                           "postgresql) to run the tests that stop a database")
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ThrowawayPostgres:
    """A running server: ``url`` (SQLAlchemy, database ``postgres``), ``stop()``, ``start()``."""

    folder: Path
    port: int
    user: int | None  # the uid the server runs as when we are root

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        done = subprocess.run(list(args), user=self.user, capture_output=True, text=True,
                              check=False, cwd=self.folder)
        if done.returncode != 0:
            log = self.folder / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{' '.join(args)} failed:\n{done.stdout}{done.stderr}\n{tail}")

    def start(self) -> None:
        self._run(_bin("pg_ctl"), "-D", str(self.folder / "data"), "-l",
                  str(self.folder / "server.log"), "-w", "-t", "60", "-o",
                  f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off "
                  "-c full_page_writes=off -c synchronous_commit=off", "start")

    def stop(self, mode: str = "fast") -> None:
        """``fast``: clients are disconnected, open transactions rolled back (a server stopped)."""
        self._run(_bin("pg_ctl"), "-D", str(self.folder / "data"), "-m", mode, "-w", "stop")


@contextmanager
def throwaway_postgres() -> Iterator[ThrowawayPostgres]:
    """A fresh server, started; stopped and deleted afterwards."""
    user = None
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("postgres").pw_uid
        except KeyError:
            raise RuntimeError("PostgreSQL does not run as root and there is no `postgres` "
                               "user to run it as") from None
    # under /tmp directly: pytest's own temporary folders are closed to other users
    folder = Path(tempfile.mkdtemp(prefix="tiering-pg-"))
    if user is not None:
        os.chown(folder, user, -1)
    server = ThrowawayPostgres(folder, _free_port(), user)
    try:
        server._run(_bin("initdb"), "-D", str(folder / "data"), "-U", "postgres",
                    "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C")
        server.start()
        yield server
    finally:
        with contextlib.suppress(RuntimeError):  # already stopped
            server.stop("immediate")
        shutil.rmtree(folder, ignore_errors=True)
