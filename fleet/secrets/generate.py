"""Generated passphrases: strong, and acceptable to every cluster and every shell they pass through.

The alphabet is printable ASCII (0x21–0x7E) without ``"``, ``'``, `````` ` `````` and ``\\``: 90
characters. Space, quotes and backslash are left out because passphrases end up pasted into the
ONTAP CLI, shell commands and vault tools, where those characters get eaten or need escaping.
64 characters (the default and the minimum) is what Common Criteria mode requires and gives
64 × log2(90) ≈ 415 bits of entropy; ONTAP accepts up to 256.
"""

from __future__ import annotations

import secrets

from fleet.secrets.rules import MAX_LENGTH, MIN_LENGTH_CC
from fleet.secrets.secret import Secret

EXCLUDED = frozenset("\"'`\\")
ALPHABET = "".join(chr(code) for code in range(0x21, 0x7F) if chr(code) not in EXCLUDED)


def generate_passphrase(length: int = MIN_LENGTH_CC) -> Secret:
    """A new random passphrase of ``length`` characters from ``ALPHABET`` (64–256)."""
    if not MIN_LENGTH_CC <= length <= MAX_LENGTH:
        raise ValueError(f"generated passphrases are {MIN_LENGTH_CC}–{MAX_LENGTH} characters, not {length}")
    return Secret("".join(secrets.choice(ALPHABET) for _ in range(length)))
