"""Who runs a run, from where, for which change: the audit fields of its journal row, report and events.

The operator is what the operating system says runs this process: the *effective* user, named by
the password database, at the host's name (``user@host``). It is deliberately not read from the
environment (``$USER``, ``$LOGNAME``, which ``getpass.getuser`` prefers, or a ``FLEET_OPERATOR``):
an audit field any caller can set proves nothing. A service account (cron, a CI runner) is
recorded as that account; ``--change-id`` ties such a run to the ticket that names the person.
A user id without a password-database entry (some containers) is recorded as ``uid<N>``.
"""

from __future__ import annotations

import os
import pwd
import socket
from dataclasses import dataclass

from fleet import __version__

#: ``--change-id``: at most this many characters, all printable.
CHANGE_ID_MAX = 64


@dataclass(frozen=True, slots=True)
class Audit:
    operator: str  # user@host
    host: str
    change_id: str | None
    fleet_version: str

    def fields(self) -> dict[str, str | None]:
        """JSON-ready, in the order the events file and ``fleet runs --json`` show them."""
        return {
            "operator": self.operator,
            "host": self.host,
            "change_id": self.change_id,
            "fleet_version": self.fleet_version,
        }


def os_user() -> str:
    """The effective user's name from the password database, never from the environment."""
    uid = os.geteuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid{uid}"


def this_run(change_id: str | None) -> Audit:
    host = socket.gethostname()
    return Audit(operator=f"{os_user()}@{host}", host=host, change_id=change_id, fleet_version=__version__)


def check_change_id(value: str) -> str:
    """A change ticket as given, or ``ValueError`` saying what is wrong with it.

    Printable and short, because it is shown in reports, terminals and logs: a newline or an escape
    sequence in it could forge a line of an audit trail or recolour a terminal.
    """
    if not value.strip():
        raise ValueError("the change id is empty")
    if len(value) > CHANGE_ID_MAX:
        raise ValueError(f"the change id must be at most {CHANGE_ID_MAX} characters, not {len(value)}")
    if not value.isprintable():
        raise ValueError("the change id must be printable: no newline, tab or other control character")
    return value
