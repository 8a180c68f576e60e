"""Where the journal lives: a SQLite file (by default in the XDG state directory) or a PostgreSQL database.

Order: ``--journal PATH|URL`` > ``$FLEET_JOURNAL`` > ``$XDG_STATE_HOME/fleet/journal.db`` >
``~/.local/state/fleet/journal.db``. State, not cache: deleting it forgets which passphrase each
cluster now has, so it must not sit where cleaners look (``~/.cache``, ``/tmp``).

A value starting ``postgresql://`` or ``postgres://`` names a PostgreSQL journal (a team's shared
one, ``docs/multi-site.md``). Its password, if the URL carries one, is a secret: ``PostgresUrl``
never prints it (``str`` and ``repr`` show ``***``) and registers it with the scrubber, so no log
line, report or error shows it either. A ``~/.pgpass`` file or ``PGPASSWORD`` keeps it off the
command line altogether.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from fleet.errors import InputError
from fleet.secrets.scrub import MASK, SCRUBBER

JOURNAL_ENV = "FLEET_JOURNAL"
POSTGRES_SCHEMES = ("postgresql", "postgres")
_SECRET_PARAMS = frozenset({"password", "sslpassword"})


class PostgresUrl:
    """A PostgreSQL journal's URL. ``str()`` is safe to show; only ``reveal()`` has the password."""

    __slots__ = ("_url", "shown")

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in POSTGRES_SCHEMES:
            raise InputError("a PostgreSQL journal URL starts with postgresql://", field="--journal")
        secrets = [parts.password] if parts.password else []
        query = parse_qsl(parts.query, keep_blank_values=True)
        secrets += [value for name, value in query if name in _SECRET_PARAMS and value]
        netloc = parts.netloc
        if parts.password is not None:
            user = parts.netloc.rpartition("@")[0].partition(":")[0]
            netloc = f"{user}:{MASK}@{parts.netloc.rpartition('@')[2]}"
        shown_query = urlencode(
            [(name, MASK if name in _SECRET_PARAMS else value) for name, value in query], safe="*/:"
        )
        self.shown = urlunsplit((parts.scheme, netloc, parts.path, shown_query, ""))
        self._url = url
        for value in secrets:  # as written in the URL and as sent: scrubbed wherever they would show
            SCRUBBER.register(value)
            SCRUBBER.register(unquote(value))

    def reveal(self) -> str:
        """The URL with its password: only for the driver."""
        return self._url

    def __str__(self) -> str:
        return self.shown

    def __repr__(self) -> str:
        return f"PostgresUrl({self.shown!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PostgresUrl) and hmac.compare_digest(other._url, self._url)

    def __hash__(self) -> int:
        return hash(self._url)


JournalLocation = Path | PostgresUrl


def is_postgres(text: str) -> bool:
    return text.partition("://")[0].lower() in POSTGRES_SCHEMES and "://" in text


def journal_location(
    explicit: str | os.PathLike[str] | None = None, *, env: Mapping[str, str] | None = None
) -> JournalLocation:
    """The journal from the CLI value, the environment, or the XDG default: a path or a PostgreSQL URL."""
    env = os.environ if env is None else env
    given = os.fspath(explicit) if explicit else env.get(JOURNAL_ENV, "")
    if given and is_postgres(given):
        return PostgresUrl(given)
    return default_journal_path(explicit, env=env)


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
