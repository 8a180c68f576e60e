"""Where the journal lives when no path is given."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from fleet.journal import Journal, default_journal_path


def test_cli_path_beats_environment() -> None:
    env = {"FLEET_JOURNAL": "/env/j.db", "XDG_STATE_HOME": "/xdg", "HOME": "/home/u"}
    assert default_journal_path("/cli/j.db", env=env) == Path("/cli/j.db")


def test_fleet_journal_variable_beats_xdg() -> None:
    env = {"FLEET_JOURNAL": "/env/j.db", "XDG_STATE_HOME": "/xdg", "HOME": "/home/u"}
    assert default_journal_path(None, env=env) == Path("/env/j.db")


def test_xdg_state_home_is_respected() -> None:
    assert default_journal_path(env={"XDG_STATE_HOME": "/xdg", "HOME": "/home/u"}) == Path(
        "/xdg/fleet/journal.db"
    )


def test_default_is_local_state_under_home() -> None:
    expected = Path("/home/u/.local/state/fleet/journal.db")
    assert default_journal_path(env={"HOME": "/home/u"}) == expected
    assert default_journal_path(env={"HOME": "/home/u", "XDG_STATE_HOME": "relative/ignored"}) == expected


async def test_folders_made_for_a_journal_are_private_under_any_umask(tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        async with await Journal.open(tmp_path / "state" / "fleet" / "journal.db"):
            pass
    finally:
        os.umask(previous)
    for folder in (tmp_path / "state", tmp_path / "state" / "fleet"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
