"""A throwaway PostgreSQL server for tests and the benchmark: initdb in a temp folder, a loopback port.

The server binaries come from ``PATH`` or Debian's ``/usr/lib/postgresql/<version>/bin`` (the
``postgresql`` package). PostgreSQL refuses to run as root, so as root the server runs as the
``postgres`` user when there is one, else ``nobody``; its folder is made under ``/dev/shm`` when that
exists (a throwaway server's fsyncs cost nothing there) and handed to that user. The superuser is
``fleet`` with a random password (scram-sha-256), so tests use a URL with a password in it, as a
team would, and can check that it never shows.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

PACKAGE_HINT = "apt-get install postgresql"
# Stops the server and removes its folder once the process that started it is gone, however it went
# (a test run killed by a timeout runs no teardown; a server left in /dev/shm holds memory).
_WATCHDOG = """
import os, shutil, subprocess, sys, time
parent, ctl, folder, user = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4] or None
while True:
    try:
        os.kill(parent, 0)
    except ProcessLookupError:
        break
    time.sleep(1)
subprocess.run([ctl, "-D", folder + "/data", "-m", "immediate", "stop"], user=user, capture_output=True)
shutil.rmtree(folder, ignore_errors=True)
"""


def server_binaries() -> Path | None:
    """The folder holding ``initdb``, ``pg_ctl`` and ``postgres``, or None."""
    found = shutil.which("initdb")
    candidates = [Path(found).resolve().parent] if found else []
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: _version(p.parent.name))
    candidates += debian[::-1]
    for folder in candidates:
        if all((folder / name).exists() for name in ("initdb", "pg_ctl", "postgres")):
            return folder
    return None


def _version(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split(".") if part.isdigit())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class PgServer:
    """A running server; ``url(database)`` names one of its databases, password included."""

    folder: Path
    port: int
    password: str
    bin: Path
    user: str | None  # the OS user it runs as (None: this one)
    watchdog: subprocess.Popen[bytes] | None = None

    def url(self, database: str = "postgres", *, host: str = "127.0.0.1") -> str:
        return f"postgresql://fleet:{self.password}@{host}:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new empty database; returns its URL."""
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def psql(self, sql: str, database: str = "postgres") -> str:
        result = subprocess.run(
            [str(self.bin / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql,
             self.url(database)],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"psql failed: {result.stderr.strip()}")
        return result.stdout

    def stop(self) -> None:
        self._ctl("stop", "-m", "immediate")
        shutil.rmtree(self.folder, ignore_errors=True)
        if self.watchdog is not None:
            self.watchdog.kill()
            self.watchdog.wait()

    def _ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), *args],
            capture_output=True, text=True, timeout=120, check=False, user=self.user,
        )  # fmt: skip


def start_server(*, fsync: bool = True, shm: bool = True) -> PgServer:
    """initdb and start a server; raises ``FileNotFoundError`` when the binaries are not installed."""
    folder_bin = server_binaries()
    if folder_bin is None:
        raise FileNotFoundError(f"PostgreSQL server binaries (initdb, pg_ctl) not found: {PACKAGE_HINT}")
    user = _unprivileged_user() if os.geteuid() == 0 else None
    base = "/dev/shm" if shm and Path("/dev/shm").is_dir() else None
    folder = Path(tempfile.mkdtemp(prefix="fleet-pg-", dir=base))
    password = secrets.token_urlsafe(18)
    (folder / "pw").write_text(password + "\n")
    if user is not None:
        entry = pwd.getpwnam(user)
        for path in (folder, folder / "pw"):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    init = subprocess.run(
        [str(folder_bin / "initdb"), "-D", str(folder / "data"), "-U", "fleet",
         "--pwfile", str(folder / "pw"), "--auth", "scram-sha-256", "--no-sync", "-E", "UTF8",
         "--locale", "C.UTF-8"],
        capture_output=True, text=True, timeout=300, check=False, user=user,
    )  # fmt: skip
    if init.returncode != 0:
        raise RuntimeError(f"initdb failed: {init.stderr.strip()[-2000:]}")
    settings = [
        "-c listen_addresses=127.0.0.1",
        f"-k {folder}",
        "-c max_connections=200",
        f"-c fsync={'on' if fsync else 'off'}",
    ]
    for _attempt in range(5):
        port = _free_port()
        server = PgServer(folder, port, password, folder_bin, user)
        started = server._ctl(
            "-o", f"-p {port} " + " ".join(settings), "-l", str(folder / "log"), "-w", "start"
        )
        if started.returncode == 0:
            server.watchdog = subprocess.Popen(
                [sys.executable, "-c", _WATCHDOG, str(os.getpid()), str(folder_bin / "pg_ctl"), str(folder),
                 user or ""],
                start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
            return server
        time.sleep(0.2)
    log = (folder / "log").read_text() if (folder / "log").exists() else started.stderr
    raise RuntimeError(f"the PostgreSQL server did not start: {log[-2000:]}")


def _unprivileged_user() -> str:
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise RuntimeError("no unprivileged user (postgres or nobody) to run the PostgreSQL server as")
