"""Secret stores for generated passphrases: ``pending`` → ``current`` → ``previous`` per cluster.

Write-ahead: a generated passphrase is written as ``pending`` *before* the PATCH that sets it, and
promoted to ``current`` (the old current becomes ``previous``) only after the cluster proved it.
ONTAP never returns a passphrase, so this store is the only place the value exists; every method
is written so a crash between any two lines leaves every value that a cluster may hold on disk:

- ``put_pending`` refuses to overwrite a *different* pending value (it may already be on the
  cluster); resolve it first by promoting or discarding it.
- ``promote`` writes ``previous``, then ``current``, then deletes ``pending``, and is idempotent: a
  rerun after a crash at any point finishes the job without losing the old current.

Backends: ``FileStore`` (a directory, files 0600) and ``CmdStore`` (``cmd:`` user commands, so
Vault, CyberArk or 1Password CLIs plug in). ``open_store(spec)`` picks one from ``--store``.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import re
import shlex
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Literal, Protocol, get_args

from fleet.atomic import fsync_dir, write_atomically
from fleet.errors import FleetError, InputError
from fleet.secrets.scrub import SCRUBBER
from fleet.secrets.secret import Secret

Slot = Literal["pending", "current", "previous"]
SLOTS: tuple[Slot, ...] = get_args(Slot)

# A cluster name becomes a directory or a command argument: one safe path component, nothing else.
_CLUSTER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")


class SecretStoreError(FleetError):
    """The store could not read or write a passphrase, or refused to lose one."""


class SecretStore(Protocol):
    """Where generated passphrases live. ``spec`` is printable (it names the store, not a secret)."""

    spec: str

    async def put_pending(self, cluster: str, secret: Secret) -> None: ...
    async def promote(self, cluster: str) -> None: ...
    async def discard_pending(self, cluster: str) -> None: ...
    async def get(self, cluster: str, slot: Slot) -> Secret | None: ...
    async def set_current(self, cluster: str, secret: Secret) -> None: ...


def open_store(spec: str) -> SecretStore:
    """The store for ``--store``: ``DIR``, ``file:DIR`` or ``cmd:COMMAND [ARGS]``."""
    if spec.startswith("cmd:"):
        return CmdStore(spec)
    directory = spec.removeprefix("file:")
    if not directory.strip():
        raise InputError(
            "a secret store needs a directory (DIR or file:DIR) or a command (cmd:...)", field="--store"
        )
    return FileStore(Path(directory).expanduser())


class _SlotStore(ABC):
    """The pending/current/previous rules, once, over three primitives each backend provides."""

    spec: str

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}

    @abstractmethod
    async def _read(self, cluster: str, slot: Slot) -> str | None: ...

    @abstractmethod
    async def _write(self, cluster: str, slot: Slot, value: str) -> None: ...

    @abstractmethod
    async def _delete(self, cluster: str, slot: Slot) -> None: ...

    async def get(self, cluster: str, slot: Slot) -> Secret | None:
        _check(cluster, slot)
        value = await self._read(cluster, slot)
        return None if value is None else Secret(value)

    async def put_pending(self, cluster: str, secret: Secret) -> None:
        """Store ``secret`` as pending, durably, before it is sent to the cluster."""
        _check(cluster)
        async with self._lock(cluster):
            existing = await self._read(cluster, "pending")
            if existing is not None:
                if _same(existing, secret.reveal()):
                    return
                raise SecretStoreError(
                    f"{cluster}: the store already holds a different pending passphrase, which the cluster "
                    "may have; resume the run that wrote it, or discard it once the cluster is verified"
                )
            await self._write(cluster, "pending", secret.reveal())

    async def promote(self, cluster: str) -> None:
        """Pending becomes current, the old current becomes previous. Safe to repeat after a crash."""
        _check(cluster)
        async with self._lock(cluster):
            pending = await self._read(cluster, "pending")
            if pending is None:
                return
            current = await self._read(cluster, "current")
            if current is None or not _same(current, pending):
                if current is not None:
                    await self._write(cluster, "previous", current)
                await self._write(cluster, "current", pending)
            await self._delete(cluster, "pending")

    async def discard_pending(self, cluster: str) -> None:
        """Forget the pending value: only once the cluster is proven NOT to have it."""
        _check(cluster)
        async with self._lock(cluster):
            await self._delete(cluster, "pending")

    async def set_current(self, cluster: str, secret: Secret) -> None:
        """Import a known passphrase as current; a different old current is kept as previous."""
        _check(cluster)
        async with self._lock(cluster):
            current = await self._read(cluster, "current")
            if current is not None and _same(current, secret.reveal()):
                return
            if current is not None:
                await self._write(cluster, "previous", current)
            await self._write(cluster, "current", secret.reveal())

    def _lock(self, cluster: str) -> asyncio.Lock:
        return self._locks.setdefault(cluster, asyncio.Lock())


class FileStore(_SlotStore):
    """``<dir>/<cluster>/{pending,current,previous}``: directories 0700, files 0600.

    Every write is temp file + fsync + rename + fsync of the directory, so a crash leaves either the
    old file or the new one, never a torn or missing value. Files hold the bare value, no newline.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        super().__init__()
        self.directory = Path(directory)
        self.spec = f"file:{self.directory}"

    def __repr__(self) -> str:
        return f"FileStore({str(self.directory)!r})"

    async def _read(self, cluster: str, slot: Slot) -> str | None:
        return await asyncio.to_thread(_read_file, self.directory / cluster / slot)

    async def _write(self, cluster: str, slot: Slot, value: str) -> None:
        await asyncio.to_thread(_write_file, self.directory, cluster, slot, value)

    async def _delete(self, cluster: str, slot: Slot) -> None:
        await asyncio.to_thread(_delete_file, self.directory / cluster / slot)


def _read_file(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def _write_file(root: Path, cluster: str, slot: Slot, value: str) -> None:
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory = root / cluster
    try:
        directory.mkdir(mode=0o700)
        fsync_dir(root)
    except FileExistsError:
        pass
    write_atomically(directory / slot, value, mode=0o600)


def _delete_file(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        return
    fsync_dir(path.parent)


class CmdStore(_SlotStore):
    """A store run by a user command, so any vault plugs in. ``cmd:TOOL [ARGS]`` is invoked as:

    - ``TOOL [ARGS] get CLUSTER SLOT``: print the value on stdout (one trailing newline is removed);
    - ``TOOL [ARGS] put CLUSTER SLOT``: read the value from stdin (sent without a newline), store it;
    - ``TOOL [ARGS] delete CLUSTER SLOT``: remove it (already absent is fine).

    SLOT is ``pending``, ``current`` or ``previous``. Exit 0 means done; exit 3 means "not found"
    (``get``: no value; ``delete``: nothing to delete); any other exit, or no exit within
    ``timeout`` seconds (the process is then killed), is an error. ``put`` must be durable when it
    exits 0: fleet sends the passphrase to the cluster right after. The tool's stderr is shown
    (scrubbed) in the error. At most ``max_concurrency`` invocations run at once.
    """

    NOT_FOUND = 3

    def __init__(self, spec: str, *, timeout: float = 30.0, max_concurrency: int = 8) -> None:
        super().__init__()
        self.spec = spec if spec.startswith("cmd:") else f"cmd:{spec}"
        self.argv = shlex.split(self.spec.removeprefix("cmd:"))
        if not self.argv:
            raise InputError("cmd: store needs a command, e.g. cmd:/usr/local/bin/vault-okm", field="--store")
        self.timeout = timeout
        self._slots = asyncio.Semaphore(max_concurrency)

    def __repr__(self) -> str:
        return f"CmdStore({self.spec!r})"

    async def _read(self, cluster: str, slot: Slot) -> str | None:
        code, out = await self._call("get", cluster, slot)
        if code == self.NOT_FOUND:
            return None
        value = out.removesuffix("\n").removesuffix("\r")
        if not value:
            raise SecretStoreError(f"{self.argv[0]} get {cluster} {slot}: exit 0 but printed no value")
        return value

    async def _write(self, cluster: str, slot: Slot, value: str) -> None:
        await self._call("put", cluster, slot, stdin=value)

    async def _delete(self, cluster: str, slot: Slot) -> None:
        await self._call("delete", cluster, slot)

    async def _call(self, op: str, cluster: str, slot: Slot, *, stdin: str | None = None) -> tuple[int, str]:
        what = f"{self.argv[0]} {op} {cluster} {slot}"
        async with self._slots:
            try:
                process = await asyncio.create_subprocess_exec(
                    *self.argv,
                    op,
                    cluster,
                    slot,
                    stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE,
                )
            except OSError as exc:
                raise SecretStoreError(f"{what}: cannot run the store command: {exc.strerror}") from None
            try:
                async with asyncio.timeout(self.timeout):
                    out, err = await process.communicate(None if stdin is None else stdin.encode("utf-8"))
            except TimeoutError:
                process.kill()
                await process.wait()
                raise SecretStoreError(f"{what}: no answer within {self.timeout:g}s") from None
        code = process.returncode
        if code == 0 or (code == self.NOT_FOUND and op in ("get", "delete")):
            try:
                return code, out.decode("utf-8")
            except UnicodeDecodeError:
                raise SecretStoreError(f"{what}: the output is not UTF-8 text") from None
        text = SCRUBBER.scrub(err.decode("utf-8", errors="replace"))
        if stdin:
            text = text.replace(stdin, "***")
        lines = text.strip().splitlines()
        tail = lines[-1][:200] if lines else "no message"
        raise SecretStoreError(f"{what}: exit {code}: {tail}")


def _check(cluster: str, slot: str | None = None) -> None:
    if not _CLUSTER_NAME.fullmatch(cluster):
        raise InputError(f"cluster name {cluster!r} cannot name a secret store entry", field="name")
    if slot is not None and slot not in SLOTS:
        raise ValueError(f"slot must be one of {', '.join(SLOTS)}, not {slot!r}")


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))
