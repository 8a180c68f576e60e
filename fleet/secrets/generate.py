"""Generated passphrases: strong, and safe to type where they end up.

During disaster recovery someone may type a passphrase at a node's boot console, into a shell or a
vault tool. The default character set (``console``) is letters and digits without the look-alikes
``0 O o 1 l I`` plus six symbols that no shell, console or keyboard layout treats specially
(``- _ . + = :``): 62 characters, so 64 of them carry 64 × log2(62) ≈ 381 bits. ``alnum`` is the 62
letters and digits; ``ascii`` is printable ASCII without space, quotes and backslash (90, the set
fleet used before). Whatever the set, a passphrase is at least 64 characters (what Common Criteria
mode requires) and at least 256 bits of entropy; ONTAP accepts up to 256 characters.
"""

from __future__ import annotations

import math
import secrets
import string

from fleet.secrets.rules import MAX_LENGTH, MIN_LENGTH_CC
from fleet.secrets.secret import Secret

LOOK_ALIKES = frozenset("0Oo1lI")
SAFE_SYMBOLS = "-_.+=:"
EXCLUDED = frozenset("\"'`\\")
CHARSETS: dict[str, str] = {
    "console": "".join(c for c in string.ascii_letters + string.digits if c not in LOOK_ALIKES)
    + SAFE_SYMBOLS,
    "alnum": string.ascii_letters + string.digits,
    "ascii": "".join(chr(code) for code in range(0x21, 0x7F) if chr(code) not in EXCLUDED),
}
DEFAULT_CHARSET = "console"
MIN_ENTROPY_BITS = 256


def entropy_bits(length: int, charset: str) -> float:
    return length * math.log2(len(CHARSETS[charset]))


def generate_passphrase(length: int = MIN_LENGTH_CC, *, charset: str = DEFAULT_CHARSET) -> Secret:
    """A new random passphrase of ``length`` characters (64–256) from the named character set."""
    if not MIN_LENGTH_CC <= length <= MAX_LENGTH:
        raise ValueError(f"generated passphrases are {MIN_LENGTH_CC}–{MAX_LENGTH} characters, not {length}")
    if charset not in CHARSETS:
        raise ValueError(f"unknown character set {charset!r}; choose one of {', '.join(CHARSETS)}")
    if entropy_bits(length, charset) < MIN_ENTROPY_BITS:
        raise ValueError(f"{length} characters of {charset!r} carry fewer than {MIN_ENTROPY_BITS} bits")
    alphabet = CHARSETS[charset]
    return Secret("".join(secrets.choice(alphabet) for _ in range(length)))
