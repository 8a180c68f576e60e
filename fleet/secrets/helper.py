"""What fleet says about a user's helper command (``cmd:`` secrets and stores): name and exit code only.

A helper exists to print a secret, and a failing one prints whatever it had: a vault wrapper run
with ``set -x`` echoes its token on stderr, a half-written ``put`` may print the passphrase it was
given. Scrubbing cannot know those values, so fleet never reads a failed helper's output at all
(stderr goes to ``/dev/null``) and names the command, its exit code and where to look instead.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Sequence

HINT = "run it by hand to see its output"

_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")


def command_name(command: str | Sequence[str]) -> str:
    """The basename of the program a helper runs: ``cmd:/opt/vault-okm --id x`` → ``vault-okm``.

    Leading ``NAME=value`` words of a shell command are skipped: they are environment for the
    program and may well be a token.
    """
    words = _split(command) if isinstance(command, str) else list(command)
    program = next((word for word in words if not _ASSIGNMENT.match(word)), "")
    return os.path.basename(program.rstrip("/")) or "the command"


def exit_message(what: str, returncode: int) -> str:
    """``vault-okm: exit 1 (run it by hand to see its output)``: all fleet says of a failed helper.

    ``what`` starts with the ``command_name`` and may add the operation (``vault-okm put c1 pending``).
    """
    return f"{what}: exit {returncode} ({HINT})"


def _split(command: str) -> list[str]:
    try:
        return shlex.split(command)
    except ValueError:  # unbalanced quotes: the shell will say so when run by hand
        return command.split()
