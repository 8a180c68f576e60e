"""fleet.safe_files and the writers built on it: no write through a link, modes whatever the umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from fleet.atomic import write_atomically
from fleet.errors import InputError
from fleet.safe_files import ensure_private_dir, ensure_report_dir, open_no_follow_append
from fleet.secrets import Secret
from fleet.secrets.store import FileStore

KEPT = "keep me as I am\n"
PASSPHRASE = Secret("Never-written-through-a-link/" + "q9" * 20)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def untouched(target: Path) -> bool:
    return target.read_text() == KEPT and mode(target) == 0o600


@pytest.fixture
def umask_000() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A 0600 file with known content, where a planted link points."""
    target = tmp_path / "outside" / "target"
    target.parent.mkdir()
    target.write_text(KEPT)
    target.chmod(0o600)
    return target


def test_an_atomic_write_refuses_a_link_and_leaves_it_and_its_target(tmp_path: Path, outside: Path) -> None:
    link = tmp_path / "report.json"
    link.symlink_to(outside)
    with pytest.raises(InputError, match="symbolic link") as refused:
        write_atomically(link, "new content", mode=0o640)
    assert str(link) in str(refused.value)
    assert link.is_symlink() and untouched(outside)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outside", "report.json"]  # no temp file left


def test_a_dangling_link_is_refused_without_creating_what_it_points_at(tmp_path: Path) -> None:
    nowhere = tmp_path / "nowhere"
    (tmp_path / "events.jsonl").symlink_to(nowhere)
    (tmp_path / "report.json").symlink_to(nowhere)
    with pytest.raises(InputError, match="symbolic link"):
        open_no_follow_append(tmp_path / "events.jsonl")
    with pytest.raises(InputError, match="symbolic link"):
        write_atomically(tmp_path / "report.json", "x")
    assert not nowhere.exists()


@pytest.mark.usefixtures("umask_000")
def test_under_umask_000_missing_folders_get_exact_modes(tmp_path: Path) -> None:
    private = write_atomically(tmp_path / "p1" / "p2" / "backup", "blob", mode=0o600)
    shared = write_atomically(tmp_path / "s1" / "s2" / "report.json", "{}", mode=0o640)
    with open_no_follow_append(tmp_path / "e1" / "events.jsonl") as events:
        events.write("{}\n")
    assert (mode(private), mode(private.parent), mode(private.parent.parent)) == (0o600, 0o700, 0o700)
    assert (mode(shared), mode(shared.parent), mode(shared.parent.parent)) == (0o640, 0o750, 0o750)
    assert (mode(tmp_path / "e1" / "events.jsonl"), mode(tmp_path / "e1")) == (0o640, 0o750)


def test_an_existing_events_file_is_appended_to_and_narrowed_to_0640(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text("earlier\n")
    events.chmod(0o666)
    with open_no_follow_append(events) as handle:
        handle.write("later\n")
    assert events.read_text() == "earlier\nlater\n" and mode(events) == 0o640


def test_a_fifo_at_the_events_path_is_refused_not_waited_on(tmp_path: Path) -> None:
    fifo = tmp_path / "events.jsonl"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match=str(fifo)):
        open_no_follow_append(fifo)


def test_an_existing_private_folder_open_to_writes_is_refused_with_the_chmod_to_run(tmp_path: Path) -> None:
    folder = tmp_path / "backups"
    folder.mkdir()
    folder.chmod(0o777)
    with pytest.raises(InputError, match=f"chmod 700 {folder}"):
        ensure_private_dir(folder)
    assert mode(folder) == 0o777  # the operator's folder: said, not changed


def test_a_private_folder_the_operator_names_may_be_a_link_but_not_one_fleet_names(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    (tmp_path / "named").symlink_to(real)
    assert ensure_private_dir(tmp_path / "named") == tmp_path / "named"
    with pytest.raises(InputError, match="symbolic link"):
        ensure_private_dir(tmp_path / "named", allow_link=False)


def test_a_report_folder_open_to_writes_is_warned_about_once(tmp_path: Path) -> None:
    folder = tmp_path / "reports"
    folder.mkdir()
    folder.chmod(0o777)
    with capture_logs() as logs:
        for _ in range(3):
            ensure_report_dir(folder)
        write_atomically(folder / "run.json", "{}", mode=0o640)
    assert [entry["folder"] for entry in logs if entry["log_level"] == "warning"] == [str(folder)]
    assert logs[0]["hint"] == f"chmod 750 {folder}"


# --- the file store --------------------------------------------------------------------------------


async def test_the_store_refuses_a_linked_cluster_folder_and_writes_no_passphrase_through_it(
    tmp_path: Path,
) -> None:
    store = tmp_path / "store"
    store.mkdir(mode=0o700)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    (store / "cl-1").symlink_to(elsewhere)
    with pytest.raises(InputError, match="symbolic link"):
        await FileStore(store).check(["cl-0", "cl-1"])
    for write in (FileStore(store).put_pending, FileStore(store).set_current):
        with pytest.raises(InputError, match=str(store / "cl-1")):
            await write("cl-1", PASSPHRASE)
    assert list(elsewhere.iterdir()) == [] and (store / "cl-1").is_symlink()


async def test_the_store_refuses_a_slot_that_is_a_link(tmp_path: Path, outside: Path) -> None:
    store = FileStore(tmp_path / "store")
    await store.set_current("cl-1", PASSPHRASE)
    (tmp_path / "store" / "cl-1" / "pending").symlink_to(outside)
    with pytest.raises(InputError, match="symbolic link"):
        await store.check(["cl-1"])
    with pytest.raises(InputError, match="symbolic link"):
        await store.get("cl-1", "pending")
    with pytest.raises(InputError, match="symbolic link"):
        await store.put_pending("cl-1", Secret("Another-passphrase/" + "z8" * 20))
    assert untouched(outside)


async def test_an_open_store_folder_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    root = tmp_path / "store"
    root.mkdir()
    root.chmod(0o770)
    with pytest.raises(InputError, match=f"chmod 700 {root}"):
        await FileStore(root).check(["cl-1"])
    with pytest.raises(InputError, match=f"chmod 700 {root}"):
        await FileStore(root).put_pending("cl-1", PASSPHRASE)
    assert list(root.iterdir()) == []


@pytest.mark.usefixtures("umask_000")
async def test_under_umask_000_the_store_is_0700_with_0600_slots(tmp_path: Path) -> None:
    root = tmp_path / "a" / "store"
    store = FileStore(root)
    await store.put_pending("cl-1", PASSPHRASE)
    await store.promote("cl-1")
    assert (mode(root.parent), mode(root), mode(root / "cl-1")) == (0o700, 0o700, 0o700)
    assert mode(root / "cl-1" / "current") == 0o600
