"""Secret stores for generated passphrases: ``pending`` → ``current`` → ``previous`` per cluster.

Write-ahead: a generated passphrase is written as ``pending`` *before* the PATCH that sets it, and
promoted to ``current`` (the old current becomes ``previous``) only after the cluster proved it.
ONTAP never returns a passphrase, so this store is the only place the value exists; every method
is written so a crash between any two lines leaves every value that a cluster may hold on disk:

- ``put_pending`` refuses to overwrite a *different* pending value (it may already be on the
  cluster); resolve it first by promoting or discarding it.
- ``promote`` writes ``previous``, then ``current``, then deletes ``pending``, and is idempotent: a
  rerun after a crash at any point finishes the job without losing the old current. Given the
  value the cluster *proved* (``promote(cluster, proven)``), it is a compare-and-swap: it promotes
  only that value and otherwise changes nothing and says why (``Promotion``), so a slot is never
  promoted to a passphrase the cluster does not have.

Two processes (two overlapping runs) may share a store. ``FileStore`` makes each operation atomic
between processes: ``pending`` is created exclusively (``link``, which never replaces a file), and
every read-decide-write sequence holds an ``flock`` on the cluster's directory. ``CmdStore`` can
only narrow the race (see its docstring); leases in the journal are what keep two runs apart.

Backends: ``FileStore`` (a directory, files 0600) and ``CmdStore`` (``cmd:`` user commands, so
Vault, CyberArk or 1Password CLIs plug in). ``open_store(spec)`` picks one from ``--store``.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import hmac
import os
import re
import secrets
import shlex
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Literal, Protocol, get_args

from fleet.atomic import fsync_dir, write_atomically
from fleet.errors import FleetError, InputError
from fleet.safe_files import PRIVATE, check_dir, ensure_private_dir, refuse_link
from fleet.secrets.helper import command_name, exit_message
from fleet.secrets.secret import Secret

Slot = Literal["pending", "current", "previous"]
SLOTS: tuple[Slot, ...] = get_args(Slot)

# A cluster name becomes a directory or a command argument: one safe path component, nothing else.
_CLUSTER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")


class SecretStoreError(FleetError):
    """The store could not read or write a passphrase, or refused to lose one."""


class Promotion(StrEnum):
    """What ``promote`` did. Only ``PROMOTED`` and ``ALREADY_CURRENT`` leave the value in ``current``."""

    PROMOTED = "promoted"  # pending became current (the old current is now previous)
    ALREADY_CURRENT = "already_current"  # current already held it; a pending equal to it was cleared
    MISMATCH = "mismatch"  # pending holds another value than the proven one: nothing changed
    NOTHING_PENDING = "nothing_pending"  # no pending, and current is not the proven value: nothing changed

    @property
    def stored(self) -> bool:
        """Is the value now in ``current``? If not, the caller holds the only copy: say so loudly."""
        return self in (Promotion.PROMOTED, Promotion.ALREADY_CURRENT)


class SecretStore(Protocol):
    """Where generated passphrases live. ``spec`` is printable (it names the store, not a secret)."""

    spec: str

    async def put_pending(self, cluster: str, secret: Secret) -> None: ...
    async def promote(self, cluster: str, proven: Secret | None = None) -> Promotion: ...
    async def discard_pending(self, cluster: str) -> None: ...
    async def get(self, cluster: str, slot: Slot) -> Secret | None: ...
    async def set_current(self, cluster: str, secret: Secret) -> None: ...
    async def check(self, clusters: Sequence[str]) -> None: ...


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


def different_pending(cluster: str) -> SecretStoreError:
    """``put_pending``'s refusal: another value is pending, and the cluster may have it."""
    return SecretStoreError(
        f"{cluster}: the store already holds a different pending passphrase, which the cluster "
        "may have; resume the run that wrote it, or discard it once the cluster is verified"
    )


class CheckOnly:
    """A store as a dry run uses it: read, and every write checked as the real run's would be, never made.

    ``put_pending`` refuses a different pending value just as the store would (so the dry run reports
    the failure the real run would meet) and otherwise writes nothing. A dry run stops before any
    other write; reaching one is a bug, refused loudly rather than written.
    """

    def __init__(self, store: SecretStore) -> None:
        self.store = store
        self.spec = store.spec

    async def put_pending(self, cluster: str, secret: Secret) -> None:
        existing = await self.store.get(cluster, "pending")
        if existing is not None and not _same(existing.reveal(), secret.reveal()):
            raise different_pending(cluster)

    async def promote(self, cluster: str, proven: Secret | None = None) -> Promotion:
        raise self._refused(cluster, "promote")

    async def discard_pending(self, cluster: str) -> None:
        raise self._refused(cluster, "discard_pending")

    async def set_current(self, cluster: str, secret: Secret) -> None:
        raise self._refused(cluster, "set_current")

    async def get(self, cluster: str, slot: Slot) -> Secret | None:
        return await self.store.get(cluster, slot)

    async def check(self, clusters: Sequence[str]) -> None:
        await self.store.check(clusters)

    def _refused(self, cluster: str, what: str) -> SecretStoreError:
        return SecretStoreError(f"{cluster}: a dry run writes no secret ({what} was not done)")


class _SlotStore(ABC):
    """The pending/current/previous rules, once, over the primitives each backend provides."""

    spec: str

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}

    @abstractmethod
    async def _read(self, cluster: str, slot: Slot) -> str | None: ...

    @abstractmethod
    async def _write(self, cluster: str, slot: Slot, value: str) -> None: ...

    @abstractmethod
    async def _delete(self, cluster: str, slot: Slot) -> None: ...

    @abstractmethod
    async def _create(self, cluster: str, slot: Slot, value: str) -> bool:
        """Write ``slot`` only if it does not exist; False if it did (then nothing was written)."""

    @contextlib.asynccontextmanager
    async def _between_processes(self, cluster: str) -> AsyncIterator[None]:
        """Hold the cluster against other processes; a backend that can, overrides this."""
        yield

    @abstractmethod
    async def check(self, clusters: Sequence[str]) -> None:
        """Before any request: refuse a store that cannot keep these clusters' passphrases safely."""

    async def get(self, cluster: str, slot: Slot) -> Secret | None:
        _check(cluster, slot)
        value = await self._read(cluster, slot)
        return None if value is None else Secret(value)

    async def put_pending(self, cluster: str, secret: Secret) -> None:
        """Store ``secret`` as pending, durably, before it is sent to the cluster."""
        _check(cluster)
        value = secret.reveal()
        async with self._exclusive(cluster):
            existing = await self._read(cluster, "pending")
            if existing is None and await self._create(cluster, "pending", value):
                return
            if existing is None:  # another process created it between our read and our create
                existing = await self._read(cluster, "pending")
            if existing is None:
                raise SecretStoreError(
                    f"{cluster}: the pending passphrase changed while fleet wrote it; retry"
                )
            if _same(existing, value):
                return
            raise different_pending(cluster)

    async def promote(self, cluster: str, proven: Secret | None = None) -> Promotion:
        """Pending becomes current, the old current becomes previous. Safe to repeat after a crash.

        With ``proven`` (the passphrase the cluster just proved it has), only that value is
        promoted: if ``pending`` holds something else, nothing changes and ``MISMATCH`` says so; if
        ``current`` already is ``proven``, a pending equal to it is cleared and any other pending
        (another change that may be in flight) is left alone. Without ``proven``, whatever
        ``pending`` holds is promoted, as before.
        """
        _check(cluster)
        async with self._exclusive(cluster):
            pending = await self._read(cluster, "pending")
            current = await self._read(cluster, "current")
            wanted = proven.reveal() if proven is not None else pending
            if wanted is None:
                return Promotion.NOTHING_PENDING
            if pending is not None and _same(pending, wanted):
                if current is not None and _same(current, pending):
                    await self._delete(cluster, "pending")
                    return Promotion.ALREADY_CURRENT
                if current is not None:
                    await self._write(cluster, "previous", current)
                await self._write(cluster, "current", pending)
                await self._delete(cluster, "pending")
                return Promotion.PROMOTED
            if current is not None and _same(current, wanted):
                return Promotion.ALREADY_CURRENT
            return Promotion.NOTHING_PENDING if pending is None else Promotion.MISMATCH

    async def discard_pending(self, cluster: str) -> None:
        """Forget the pending value: only once the cluster is proven NOT to have it."""
        _check(cluster)
        async with self._exclusive(cluster):
            await self._delete(cluster, "pending")

    async def set_current(self, cluster: str, secret: Secret) -> None:
        """Import a known passphrase as current; a different old current is kept as previous."""
        _check(cluster)
        async with self._exclusive(cluster):
            current = await self._read(cluster, "current")
            if current is not None and _same(current, secret.reveal()):
                return
            if current is not None:
                await self._write(cluster, "previous", current)
            await self._write(cluster, "current", secret.reveal())

    @contextlib.asynccontextmanager
    async def _exclusive(self, cluster: str) -> AsyncIterator[None]:
        """The cluster's slots to ourselves: against this process's tasks, then other processes."""
        async with self._locks.setdefault(cluster, asyncio.Lock()), self._between_processes(cluster):
            yield


class FileStore(_SlotStore):
    """``<dir>/<cluster>/{pending,current,previous}``: directories 0700, files 0600.

    Every write is temp file + fsync + rename + fsync of the directory, so a crash leaves either the
    old file or the new one, never a torn or missing value. Files hold the bare value, no newline.
    ``pending`` is the exception: temp file + fsync + ``link``, which fails if ``pending`` exists,
    so two processes can never both write it (rename would silently replace the other's value).
    Between processes, each operation holds an ``flock`` on ``<dir>/<cluster>`` (released when
    its descriptor closes, so a killed process never leaves it held). A link at a cluster folder or
    a slot, or a store or cluster folder writable by group or others, is refused (``InputError``):
    a passphrase written there could end up anywhere (``fleet.safe_files``).
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        super().__init__()
        self.directory = Path(directory)
        self.spec = f"file:{self.directory}"

    def __repr__(self) -> str:
        return f"FileStore({str(self.directory)!r})"

    async def check(self, clusters: Sequence[str]) -> None:
        """The store folder and each cluster's folder are private and no slot is a link (``InputError``)."""
        await asyncio.to_thread(_check_tree, self.directory, clusters)

    async def _read(self, cluster: str, slot: Slot) -> str | None:
        return await asyncio.to_thread(_read_file, self.directory / cluster / slot)

    async def _write(self, cluster: str, slot: Slot, value: str) -> None:
        await asyncio.to_thread(_write_file, self.directory, cluster, slot, value)

    async def _delete(self, cluster: str, slot: Slot) -> None:
        await asyncio.to_thread(_delete_file, self.directory / cluster / slot)

    async def _create(self, cluster: str, slot: Slot, value: str) -> bool:
        return await asyncio.to_thread(_create_file, self.directory, cluster, slot, value)

    @contextlib.asynccontextmanager
    async def _between_processes(self, cluster: str) -> AsyncIterator[None]:
        fd = await asyncio.to_thread(_open_cluster_dir, self.directory, cluster)
        try:
            delay = 0.002
            while True:  # polled, not blocking in a thread: a cancelled wait must not take the lock later
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 0.05)
            yield
        finally:
            os.close(fd)


def _check_tree(root: Path, clusters: Sequence[str]) -> None:
    check_dir(root, PRIVATE)
    for cluster in clusters:
        check_dir(root / cluster, PRIVATE, allow_link=False)
        for slot in SLOTS:
            refuse_link(root / cluster / slot)


def _open_cluster_dir(root: Path, cluster: str) -> int:
    _make_cluster_dir(root, cluster)
    return os.open(root / cluster, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)


def _make_cluster_dir(root: Path, cluster: str) -> Path:
    """``<root>/<cluster>``, 0700; a link there (fleet chose that name) or an open folder is refused."""
    ensure_private_dir(root)
    directory = root / cluster
    made = not os.path.lexists(directory)
    ensure_private_dir(directory, allow_link=False)
    if made:
        fsync_dir(root)
    return directory


#: ``link`` is refused by some file systems (FAT, some FUSE and SMB mounts): O_EXCL is used there.
_NO_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS}


def _create_file(root: Path, cluster: str, slot: Slot, value: str) -> bool:
    """Create ``slot`` with ``value`` unless it exists; True if we created it."""
    target = _make_cluster_dir(root, cluster) / slot
    tmp = target.with_name(f".{slot}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        _write_fd(fd, value)
        try:
            os.link(tmp, target)
        except FileExistsError:
            return False
        except OSError as exc:
            if exc.errno not in _NO_LINKS:
                raise
            return _create_exclusively(target, value)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(target.parent)
    return True


def _create_exclusively(target: Path, value: str) -> bool:
    """O_CREAT|O_EXCL: exclusive too, but the file exists (empty) a moment before it holds the value."""
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    try:
        _write_fd(fd, value)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)
    return True


def _write_fd(fd: int, value: str) -> None:
    """Write, fsync and close ``fd``."""
    with os.fdopen(fd, "wb") as handle:
        handle.write(value.encode("utf-8"))
        handle.flush()
        os.fsync(handle.fileno())


def _read_file(path: Path) -> str | None:
    refuse_link(path)  # a passphrase read through a planted link would be someone else's
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def _write_file(root: Path, cluster: str, slot: Slot, value: str) -> None:
    write_atomically(_make_cluster_dir(root, cluster) / slot, value, mode=PRIVATE.file_mode)


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
    exits 0: fleet sends the passphrase to the cluster right after. The tool's stderr is discarded
    and a failure names only the tool, the operation and the exit code (``fleet.secrets.helper``):
    a failing vault CLI may print the very passphrase it was handed. At most ``max_concurrency``
    invocations run at once.

    The race this protocol cannot close: it has no "create if absent" and no lock, so two
    processes sharing the store can interleave. ``put_pending`` reads back what it put and fails
    if another value is there, which catches a writer that came after us, but not the one we
    overwrote after it had read back its own value (it then holds a value the store lost).
    ``promote`` compares before it writes, but another process may change ``pending`` between that
    read and the final delete. Two runs are kept apart by the journal's per-cluster leases; give
    runs that share a ``cmd:`` store one journal, or a tool that refuses a ``put`` over a
    different ``pending`` (exit non-zero).
    """

    NOT_FOUND = 3

    def __init__(self, spec: str, *, timeout: float = 30.0, max_concurrency: int = 8) -> None:
        super().__init__()
        self.spec = spec if spec.startswith("cmd:") else f"cmd:{spec}"
        self.argv = shlex.split(self.spec.removeprefix("cmd:"))
        if not self.argv:
            raise InputError("cmd: store needs a command, e.g. cmd:/usr/local/bin/vault-okm", field="--store")
        self.name = command_name(self.argv)
        self.timeout = timeout
        self._slots = asyncio.Semaphore(max_concurrency)

    def __repr__(self) -> str:
        return f"CmdStore({self.spec!r})"

    async def check(self, clusters: Sequence[str]) -> None:
        """Nothing to check: where and how the tool keeps values is the tool's business."""

    async def _read(self, cluster: str, slot: Slot) -> str | None:
        code, out = await self._call("get", cluster, slot)
        if code == self.NOT_FOUND:
            return None
        value = out.removesuffix("\n").removesuffix("\r")
        if not value:
            raise SecretStoreError(f"{self.name} get {cluster} {slot}: exit 0 but printed no value")
        return value

    async def _write(self, cluster: str, slot: Slot, value: str) -> None:
        await self._call("put", cluster, slot, stdin=value)

    async def _delete(self, cluster: str, slot: Slot) -> None:
        await self._call("delete", cluster, slot)

    async def _create(self, cluster: str, slot: Slot, value: str) -> bool:
        """``put``, then read back: False if another writer's value is there now (see the class)."""
        await self._write(cluster, slot, value)
        stored = await self._read(cluster, slot)
        return stored is not None and _same(stored, value)

    async def _call(self, op: str, cluster: str, slot: Slot, *, stdin: str | None = None) -> tuple[int, str]:
        what = f"{self.name} {op} {cluster} {slot}"
        async with self._slots:
            try:
                process = await asyncio.create_subprocess_exec(
                    *self.argv,
                    op,
                    cluster,
                    slot,
                    stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.DEVNULL,
                )
            except OSError as exc:
                raise SecretStoreError(f"{what}: cannot run the store command: {exc.strerror}") from None
            try:
                async with asyncio.timeout(self.timeout):
                    out, _ = await process.communicate(None if stdin is None else stdin.encode("utf-8"))
            except TimeoutError:
                process.kill()
                await process.wait()
                raise SecretStoreError(f"{what}: no answer within {self.timeout:g}s") from None
        code = await process.wait()  # already exited: its code, typed as an int
        if code == 0 or (code == self.NOT_FOUND and op in ("get", "delete")):
            try:
                return code, out.decode("utf-8")
            except UnicodeDecodeError:
                raise SecretStoreError(f"{what}: the output is not UTF-8 text") from None
        raise SecretStoreError(exit_message(what, code))


def _check(cluster: str, slot: str | None = None) -> None:
    if not _CLUSTER_NAME.fullmatch(cluster):
        raise InputError(f"cluster name {cluster!r} cannot name a secret store entry", field="name")
    if slot is not None and slot not in SLOTS:
        raise ValueError(f"slot must be one of {', '.join(SLOTS)}, not {slot!r}")


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))
