"""One way to write a file so readers see the old content or the new, never half, even after a crash.

Reports, key backups, secret-store slots, Prometheus textfiles and the simulator's state all need
the same steps: a temp file in the target's directory, exact mode, fsync, rename, fsync the
directory so the rename itself survives a power loss. A symbolic link at the target is refused
(``fleet.safe_files``): the rename would replace it, not follow it, but a link there was put there
by someone for a reason, and fleet says so rather than quietly remove it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from fleet.safe_files import kind_of, make_dirs, refuse_link


def write_atomically(
    path: str | os.PathLike[str], data: str | bytes | Iterable[bytes], *, mode: int = 0o644
) -> Path:
    """Write ``data`` to ``path`` with exactly ``mode``; on any error, Ctrl-C included, no temp file is left.

    Missing parent folders are made 0700 for a file only its owner may read, 0750 otherwise (an
    existing folder is the caller's to check: ``ensure_private_dir``, ``ensure_report_dir``). A
    link at ``path`` is an ``InputError`` and is left as it is.
    """
    target = Path(path)
    make_dirs(target.parent, kind_of(mode).dir_mode)
    refuse_link(target)
    chunks = [data.encode("utf-8")] if isinstance(data, str) else [data] if isinstance(data, bytes) else data
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)  # exact, whatever the umask: secrets must be 0600
        with os.fdopen(fd, "wb") as handle:
            handle.writelines(chunks)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)  # replaces a link planted since the check, never follows it
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)
    return target


def fsync_dir(directory: Path) -> None:
    """Make a rename or unlink in ``directory`` durable; where a directory cannot be opened, skip it."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
