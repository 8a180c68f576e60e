"""The file store keeps every passphrase a cluster may hold, privately, through crashes."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

import pytest

from fleet.errors import InputError
from fleet.secrets.secret import Secret
from fleet.secrets.store import CmdStore, FileStore, SecretStoreError, open_store

FIRST = Secret("first-passphrase-" + "1" * 48)
SECOND = Secret("second-passphrase-" + "2" * 48)
THIRD = Secret("third-passphrase-" + "3" * 48)


async def _slots(store: FileStore, cluster: str) -> dict[str, Secret | None]:
    return {slot: await store.get(cluster, slot) for slot in ("pending", "current", "previous")}


async def test_pending_is_promoted_and_old_current_becomes_previous(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "store")
    await store.set_current("cl-1", FIRST)
    await store.put_pending("cl-1", SECOND)
    assert await _slots(store, "cl-1") == {"pending": SECOND, "current": FIRST, "previous": None}
    await store.promote("cl-1")
    assert await _slots(store, "cl-1") == {"pending": None, "current": SECOND, "previous": FIRST}
    await store.put_pending("cl-1", THIRD)
    await store.promote("cl-1")
    assert await _slots(store, "cl-1") == {"pending": None, "current": THIRD, "previous": SECOND}


async def test_promote_twice_changes_nothing_the_second_time(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    await store.set_current("cl-1", FIRST)
    await store.put_pending("cl-1", SECOND)
    await store.promote("cl-1")
    await store.promote("cl-1")
    assert await _slots(store, "cl-1") == {"pending": None, "current": SECOND, "previous": FIRST}


async def test_promote_after_a_crash_between_writes_keeps_the_old_current(tmp_path: Path) -> None:
    """Crash after ``current`` was written but before ``pending`` was deleted: the rerun finishes it."""
    store = FileStore(tmp_path)
    await store.set_current("cl-1", FIRST)
    await store.put_pending("cl-1", SECOND)
    (tmp_path / "cl-1" / "previous").write_text(FIRST.reveal())
    (tmp_path / "cl-1" / "current").write_text(SECOND.reveal())
    await store.promote("cl-1")
    assert await _slots(store, "cl-1") == {"pending": None, "current": SECOND, "previous": FIRST}


async def test_a_different_pending_passphrase_is_never_overwritten(tmp_path: Path) -> None:
    """An earlier run's pending value may already be on the cluster: losing it could lock the cluster."""
    store = FileStore(tmp_path)
    await store.put_pending("cl-1", FIRST)
    await store.put_pending("cl-1", FIRST)  # same value again is fine (a resumed run)
    with pytest.raises(SecretStoreError, match="different pending"):
        await store.put_pending("cl-1", SECOND)
    assert await store.get("cl-1", "pending") == FIRST


async def test_discarded_pending_is_gone_and_current_untouched(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    await store.set_current("cl-1", FIRST)
    await store.put_pending("cl-1", SECOND)
    await store.discard_pending("cl-1")
    await store.discard_pending("cl-1")
    assert await _slots(store, "cl-1") == {"pending": None, "current": FIRST, "previous": None}


async def test_importing_a_new_current_keeps_the_old_one_as_previous(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    await store.set_current("cl-1", FIRST)
    await store.set_current("cl-1", FIRST)
    await store.set_current("cl-1", SECOND)
    assert await _slots(store, "cl-1") == {"pending": None, "current": SECOND, "previous": FIRST}


async def test_store_directories_are_0700_and_files_0600_with_no_temp_left(tmp_path: Path) -> None:
    root = tmp_path / "store"
    store = FileStore(root)
    await store.set_current("cl-1", FIRST)
    await store.put_pending("cl-1", SECOND)
    await store.promote("cl-1")
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert stat.S_IMODE((root / "cl-1").stat().st_mode) == 0o700
    files = sorted(p.name for p in (root / "cl-1").iterdir())
    assert files == ["current", "previous"]
    assert {stat.S_IMODE((root / "cl-1" / f).stat().st_mode) for f in files} == {0o600}
    assert (root / "cl-1" / "current").read_text() == SECOND.reveal()


async def test_file_names_never_contain_the_passphrase(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    await store.put_pending("cl-1", FIRST)
    names = [str(path) for path in await asyncio.to_thread(lambda: list(tmp_path.rglob("*")))]
    assert names and all(FIRST.reveal() not in name for name in names)


@pytest.mark.parametrize("name", ["../escape", "a/b", "", ".hidden", "x" * 300])
async def test_cluster_names_that_are_not_a_safe_path_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(InputError):
        await FileStore(tmp_path).put_pending(name, FIRST)


def test_open_store_understands_dir_file_and_cmd_specs(tmp_path: Path) -> None:
    plain, prefixed, command = (
        open_store(str(tmp_path)),
        open_store(f"file:{tmp_path}"),
        open_store("cmd:vault-okm"),
    )
    assert isinstance(plain, FileStore) and plain.directory == tmp_path
    assert isinstance(prefixed, FileStore) and prefixed.directory == tmp_path
    assert isinstance(command, CmdStore) and command.argv == ["vault-okm"]
    with pytest.raises(InputError):
        open_store("file:")
    with pytest.raises(InputError):
        open_store("cmd:")
