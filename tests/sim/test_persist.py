"""Saving and reloading the simulator's fleet: everything survives, writes are atomic, saves debounce."""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path

import pytest

from fleet.errors import InputError
from fleet.sim.faults import apply_faults, parse_faults
from fleet.sim.generate import generate_fleet
from fleet.sim.persist import StateSaver, dump_fleet, load_fleet, save_fleet
from fleet.sim.state import Fleet, Job


def _busy_fleet() -> Fleet:
    """A fleet with something in every corner of the state: faults, jobs, counters, lockout, pending sync."""
    fleet = generate_fleet(30, mcc_pairs=3, seed=5)
    apply_faults(fleet, parse_faults("partial=0.2,jobs=0.2,jobfail=0.1,auth=0.1,partner_down=0.5,limit=3"), 5)
    first, second, third = (fleet.clusters[f"sim-000{i}"] for i in (1, 2, 7))
    second.pending_partner_sync = "the-passphrase-the-partner-moved-to-0001"
    third.locked, third.wrong_passphrase_streak, third.wrong_passphrase_total = True, 5, 9
    first.counters.requests, first.counters.by_method = 42, {"GET": 40, "PATCH": 2}
    first.counters.inflight = 3  # in flight when saved: gone after a restart
    first.jobs["j1"] = Job(uuid="j1", description="PATCH", failure=(65536406, "failed"), params={"a": [1, 2]})
    first.port = 20001
    fleet.settings.retry_after_seconds = 7
    return fleet


def test_everything_survives_a_save_and_reload(tmp_path: Path) -> None:
    fleet = _busy_fleet()
    save_fleet(fleet, tmp_path / "state.json")
    loaded = load_fleet(tmp_path / "state.json")
    fleet.clusters["sim-0001"].counters.inflight = 0
    assert loaded == fleet
    assert loaded.clusters["sim-0001"].jobs["j1"].failure == (65536406, "failed")
    assert loaded.clusters["sim-0001"].version == fleet.clusters["sim-0001"].version  # tuples stay tuples
    assert isinstance(loaded.clusters["sim-0001"].version, tuple)


def test_state_file_is_private_and_leaves_no_temp_files(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    save_fleet(_busy_fleet(), path)
    save_fleet(_busy_fleet(), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_other_state_version_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    document = json.loads(b"".join(dump_fleet(generate_fleet(2))))
    document["state_version"] = 999
    path.write_text(json.dumps(document))
    with pytest.raises(InputError, match="999") as caught:
        load_fleet(path)
    assert caught.value.field == "state_version"


@pytest.mark.parametrize(
    "content", ["", "{not json", "[]", '{"state_version": 1, "saved_at": 0, "fleet": 3}']
)
def test_unreadable_state_is_an_input_error_naming_the_file(tmp_path: Path, content: str) -> None:
    path = tmp_path / "state.json"
    path.write_text(content)
    with pytest.raises(InputError) as caught:
        load_fleet(path)
    assert caught.value.file == str(path)


def test_missing_state_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="No such file"):
        load_fleet(tmp_path / "nowhere.json")


async def test_saver_debounces_a_burst_of_mutations_and_saves_at_close(tmp_path: Path) -> None:
    fleet = generate_fleet(10, mcc_pairs=1)
    path = tmp_path / "state.json"
    async with StateSaver(fleet, path, interval=0.3) as saver:
        for _ in range(50):
            saver.mark_dirty(fleet.clusters["sim-0003"])
        await asyncio.sleep(0.1)
        assert saver.saves == 1
        fleet.clusters["sim-0001"].key_manager.passphrase = "changed-passphrase-0001-abcdefghijklmn"  # type: ignore[union-attr]
        saver.mark_dirty(fleet.clusters["sim-0001"])
        fleet.clusters["sim-0002"].pending_partner_sync = "changed-passphrase-0001-abcdefghijklmn"
        await asyncio.sleep(0.5)
        assert saver.saves == 2
        mid_run = load_fleet(path)
        # a mutation of one site re-serialises its partner too (MetroCluster replication)
        assert mid_run.clusters["sim-0002"].pending_partner_sync == "changed-passphrase-0001-abcdefghijklmn"
        fleet.clusters["sim-0009"].locked = True  # never marked: the final save still writes it
    assert load_fleet(path).clusters["sim-0009"].locked
    assert load_fleet(path) == fleet


async def test_saver_cannot_be_reopened(tmp_path: Path) -> None:
    saver = StateSaver(generate_fleet(1), tmp_path / "state.json")
    async with saver:
        pass
    await saver.close()  # idempotent
    with pytest.raises(RuntimeError):
        await saver.__aenter__()
