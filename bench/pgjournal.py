"""The PostgreSQL journal for ``fleet-rotate-pg``: one throwaway server per bench process, on this machine.

The server is the tests' (``tests/pgserver.py``), but on disk with ``fsync=on``, as the SQLite
journal's ``synchronous=FULL`` is: both pay for durable commits. Each run gets a fresh database.
fleet's CPU is measured as for every tool (its process); the server's own CPU during the run (its
postmaster and the backends it reaped) is recorded beside it as ``journal_server_cpu_s``, because a
team's database is a cost too, if not on the runner.
"""

from __future__ import annotations

import atexit
import itertools
import secrets
import sys
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from pgserver import PgServer, start_server  # the tests' throwaway server (tests/ is not a package)

KEY = secrets.token_hex(32)  # the team's fingerprint key, given as --journal-key env:FLEET_BENCH_KEY
_server: PgServer | None = None
_names = itertools.count()


def server() -> PgServer:
    global _server
    if _server is None:
        _server = start_server(fsync=True, shm=False)
        atexit.register(_server.stop)
    return _server


def fresh_database() -> str:
    """The URL of a new, empty database (the journal creates its tables at open)."""
    return server().create_database(f"bench_{next(_names)}")


def env() -> dict[str, str]:
    return {"FLEET_BENCH_KEY": KEY, "FLEET_JOURNAL_KEY": "env:FLEET_BENCH_KEY"}


def server_cpu_seconds() -> float:
    """CPU the server used so far: the postmaster and every backend it has reaped."""
    pid = int((server().folder / "data" / "postmaster.pid").read_text().split()[0])
    times = psutil.Process(pid).cpu_times()
    live = sum(sum(child.cpu_times()[:2]) for child in psutil.Process(pid).children(recursive=True))
    return times.user + times.system + times.children_user + times.children_system + live
