"""``CheckOnly``: the store as a dry run sees it; read, every rule checked, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet.secrets.secret import Secret
from fleet.secrets.store import CheckOnly, FileStore, SecretStoreError

FIRST = Secret("first-passphrase-" + "1" * 48)
SECOND = Secret("second-passphrase-" + "2" * 48)


def _files(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if p.is_file()
    }


async def test_a_pending_value_is_checked_as_the_store_would_and_never_written(tmp_path: Path) -> None:
    """A different pending value fails the dry run as it fails the real run; the same one, or none,
    passes; either way no file is written, and no other write goes through."""
    store = FileStore(tmp_path)
    await store.set_current("cl-1", FIRST)
    await store.put_pending("cl-2", FIRST)
    before = _files(tmp_path)
    dry = CheckOnly(store)
    await dry.put_pending("cl-1", SECOND)  # nothing pending: the real run would write it
    await dry.put_pending("cl-2", FIRST)  # the same value: the real run would carry on
    with pytest.raises(SecretStoreError, match="different pending passphrase"):
        await dry.put_pending("cl-2", SECOND)
    with pytest.raises(SecretStoreError, match="a dry run writes no secret"):
        await dry.promote("cl-2", FIRST)
    assert await dry.get("cl-1", "current") == FIRST and await dry.get("cl-1", "pending") is None
    assert _files(tmp_path) == before
