"""Passphrase rules, checked for every cluster before any request is sent.

ONTAP rejects a bad passphrase only after the PATCH reached the cluster (65536404/65536802), and in
Common Criteria mode repeated passphrase failures lock the cluster out (ontap-notes §5). Checking
here turns those into exit 2 with nothing touched. Problem texts describe the passphrase, never
quote it.
"""

from __future__ import annotations

from fleet.secrets.secret import Secret

MIN_LENGTH = 32
MIN_LENGTH_CC = 64
MAX_LENGTH = 256
# ONTAP's "ASCII characters": the printable range, space included, no control characters.
_PRINTABLE = frozenset(chr(code) for code in range(0x20, 0x7F))


def check_passphrase(secret: Secret, *, cc_mode: bool) -> str | None:
    """Why ONTAP would refuse this passphrase, or None: 32–256 printable ASCII, 64+ in CC mode."""
    value = secret.reveal()
    minimum = MIN_LENGTH_CC if cc_mode else MIN_LENGTH
    if not minimum <= len(value) <= MAX_LENGTH:
        mode = " in Common Criteria mode" if cc_mode else ""
        return f"passphrase has {len(value)} characters; ONTAP needs {minimum}–{MAX_LENGTH}{mode}"
    if not _PRINTABLE.issuperset(value):
        return "passphrase contains characters outside printable ASCII"
    return None


def check_rotation_pair(current: Secret, new: Secret) -> str | None:
    """Why rotating ``current`` → ``new`` makes no sense, or None (ONTAP would answer 65536150)."""
    if current == new:
        return "the new passphrase is the same as the current one"
    return None
