"""Where the journal lives when nobody says: the XDG state directory, because a journal is state.

Order: ``--journal PATH`` > ``$FLEET_JOURNAL`` > ``$XDG_STATE_HOME/fleet/journal.db`` >
``~/.local/state/fleet/journal.db``. State, not cache: deleting it forgets which passphrase each
cluster now has, so it must not sit where cleaners look (``~/.cache``, ``/tmp``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

JOURNAL_ENV = "FLEET_JOURNAL"


def default_journal_path(
    explicit: str | os.PathLike[str] | None = None, *, env: Mapping[str, str] | None = None
) -> Path:
    """The journal path from the CLI value, the environment, or the XDG default (in that order)."""
    env = os.environ if env is None else env
    if explicit:
        return Path(explicit).expanduser()
    if env.get(JOURNAL_ENV):
        return Path(env[JOURNAL_ENV]).expanduser()
    # The XDG spec says a relative XDG_STATE_HOME is invalid and must be ignored.
    state_home = env.get("XDG_STATE_HOME", "")
    if state_home and Path(state_home).is_absolute():
        base = Path(state_home)
    else:
        home = Path(env["HOME"]) if env.get("HOME") else Path.home()
        base = home / ".local" / "state"
    return base / "fleet" / "journal.db"


def key_path_for(journal_path: Path) -> Path:
    """The HMAC key file kept beside the journal: ``<journal>.key``."""
    return journal_path.with_name(journal_path.name + ".key")
