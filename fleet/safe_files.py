"""Where fleet writes a file for a run: never through a planted link, with modes the umask cannot widen.

Two kinds of output, one rule each (docs/files.md lists every file):

    kind      what                                   file   folders fleet creates   existing folder
                                                                                    open to g/o writes
    PRIVATE   secret-store slots, key backups        0600   0700                    refused (exit 2)
    SHARED    reports, events, HTML, .prom, lock     0640   0750                    one warning

A symbolic link where fleet writes a file is refused (``InputError``, exit 2) and left as it is: a
file opened in place (events append, sweep lock) is opened with ``O_NOFOLLOW``; an atomic write
checks with ``lstat`` first and then renames over the name, which replaces a link that appears in
between and never follows it. A folder the operator names (``--backup-dir``, ``--store``,
``--report-dir``) may be a link: it is the operator's choice, and its target's mode is checked. A
folder whose name fleet chooses inside a private one (a store's cluster folder) may not.
Folders fleet creates are chmod-ed after ``mkdir``, because ``mkdir``'s mode is masked by the umask.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import structlog

from fleet.errors import InputError

log = structlog.get_logger("fleet.files")

_OPEN_TO_OTHERS = stat.S_IWGRP | stat.S_IWOTH


@dataclass(frozen=True, slots=True)
class Kind:
    """How private an output is: its file mode, the mode of folders made for it, and how strict."""

    file_mode: int
    dir_mode: int
    refuse_open_dir: bool  # True: a group/other-writable folder is refused, not warned about


PRIVATE = Kind(file_mode=0o600, dir_mode=0o700, refuse_open_dir=True)
SHARED = Kind(file_mode=0o640, dir_mode=0o750, refuse_open_dir=False)

# Global state: the folders already warned about in this process, so a warning is said once.
_warned: set[Path] = set()


def kind_of(file_mode: int) -> Kind:
    """A file no one else may read goes in a folder no one else may enter."""
    return PRIVATE if file_mode & 0o077 == 0 else SHARED


def refuse_link(path: Path) -> None:
    """Refuse a symbolic link at ``path`` (dangling or not): fleet never writes through one."""
    try:
        is_link = stat.S_ISLNK(os.lstat(path).st_mode)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise InputError(f"cannot check the path: {exc.strerror}", file=str(path)) from None
    if is_link:
        raise _link_error(path)


def ensure_private_dir(path: Path, *, allow_link: bool = True) -> Path:
    """A folder for secrets or key backups: made 0700 if missing, refused if open to others' writes."""
    return ensure_dir(path, PRIVATE, allow_link=allow_link)


def ensure_report_dir(path: Path) -> Path:
    """A folder for reports, events, HTML, .prom or a lock: made 0750 if missing, warned if open."""
    return ensure_dir(path, SHARED)


def ensure_dir(path: Path, kind: Kind, *, allow_link: bool = True) -> Path:
    """``path`` as a folder of ``kind``: missing folders made with ``kind.dir_mode``, the last one checked.

    ``allow_link`` False: a link at ``path`` itself is refused (a folder whose name fleet chooses).
    """
    make_dirs(path, kind.dir_mode)
    check_dir(path, kind, allow_link=allow_link)
    return path


def check_dir(path: Path, kind: Kind, *, allow_link: bool = True) -> None:
    """Check an existing folder (a missing one is fine: fleet will make it): a folder, not open to writes."""
    try:
        info = os.stat(path) if allow_link else os.lstat(path)
    except FileNotFoundError:
        if os.path.lexists(path):
            raise _link_error(path) from None  # a link to nothing: following it would create its target
        return
    except OSError as exc:
        raise InputError(f"cannot use this folder: {exc.strerror}", file=str(path)) from None
    if stat.S_ISLNK(info.st_mode):
        raise _link_error(path)
    if not stat.S_ISDIR(info.st_mode):
        raise InputError("is not a folder", file=str(path))
    if not info.st_mode & _OPEN_TO_OTHERS:
        return
    mode = f"{stat.S_IMODE(info.st_mode):04o}"
    if kind.refuse_open_dir:
        raise InputError(
            f"the folder is writable by group or others (mode {mode}), so anyone there could replace "
            f"what fleet keeps in it; run `chmod 700 {path}`",
            file=str(path),
        )
    if path not in _warned:
        _warned.add(path)
        log.warning(
            "folder is writable by group or others: anyone there can replace what fleet writes",
            folder=str(path),
            mode=mode,
            hint=f"chmod 750 {path}",
        )


def check_output(path: Path, kind: Kind = SHARED) -> None:
    """Before a run: the file ``path`` will be writable safely (no link there, its folder usable)."""
    refuse_link(path)
    check_dir(path.parent, kind)


def open_no_follow(path: Path, flags: int, *, mode: int = SHARED.file_mode) -> int:
    """``os.open`` of a regular file without following a link at ``path``, in a report folder.

    A new file gets ``mode``; an existing one of ours is narrowed to it (the umask of an older run
    may have made it wider). A FIFO or device planted there is refused, not blocked on.
    """
    ensure_report_dir(path.parent)
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _link_error(path) from None
        raise InputError(f"cannot open the file: {exc.strerror}", file=str(path)) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InputError("is not a regular file", file=str(path))
        os.set_blocking(fd, True)
        if stat.S_IMODE(info.st_mode) & ~mode and info.st_uid == os.geteuid():
            os.fchmod(fd, stat.S_IMODE(info.st_mode) & mode)
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_no_follow_append(path: Path) -> IO[str]:
    """A text file opened for appending (events): never through a link, 0640 at most."""
    fd = open_no_follow(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    return os.fdopen(fd, "a", encoding="utf-8")


def make_dirs(path: Path, mode: int) -> None:
    """``mkdir -p`` where each folder made gets exactly ``mode``, whatever the umask; others are kept."""
    missing: list[Path] = []
    current = path
    while not os.path.lexists(current) and current != current.parent:
        missing.append(current)
        current = current.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=mode)
        except FileExistsError:
            continue  # another process made it: its mode is checked, not changed
        except OSError as exc:
            raise InputError(f"cannot create the folder: {exc.strerror}", file=str(folder)) from None
        os.chmod(folder, mode)


def _link_error(path: Path) -> InputError:
    return InputError(
        "is a symbolic link; fleet never writes through one (it was left as it is): "
        "remove it or give another path",
        file=str(path),
    )


__all__ = [
    "PRIVATE",
    "SHARED",
    "Kind",
    "check_dir",
    "check_output",
    "ensure_dir",
    "ensure_private_dir",
    "ensure_report_dir",
    "kind_of",
    "make_dirs",
    "open_no_follow",
    "open_no_follow_append",
    "refuse_link",
]
