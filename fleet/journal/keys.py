"""The per-journal HMAC key, so fingerprints identify a passphrase without revealing it.

A plain SHA-256 of a passphrase can be brute-forced or matched across systems; an HMAC with a
random key that never leaves ``<journal>.key`` (mode 0600) cannot, and two journals fingerprint the
same passphrase differently. The key is created once, atomically (temp file + ``link``), so two
processes opening a fresh journal at the same moment agree on one key.

A journal shared by a team (PostgreSQL) has no "beside": every runner must fingerprint with the same
key, and the database must not hold it (whoever reads the database could then test guesses against
the fingerprints). So it comes from a secret reference (``--journal-key env:…|file:…|cmd:…``, the
team's vault): 64 hex digits, 32 random bytes (``openssl rand -hex 32``). The journal stores only
``key_id``, a public tag that catches a runner given the wrong key.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import stat
from pathlib import Path

from fleet.journal.errors import JournalError

KEY_BYTES = 32
FINGERPRINT_PREFIX = "hmac-sha256:"
FINGERPRINT_HEX_CHARS = 32


def load_or_create_key(path: Path) -> bytes:
    """Read the key at ``path``, creating it (0600) if it does not exist yet."""
    try:
        return read_key(path)
    except FileNotFoundError:
        pass
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_bytes(KEY_BYTES))
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another process won the race: use its key
            os.link(tmp, path)
        _fsync_dir(path.parent)
    finally:
        tmp.unlink(missing_ok=True)
    return read_key(path)


KEY_HEX_CHARS = 2 * KEY_BYTES


def key_from_text(text: str, origin: str) -> bytes:
    """The key a secret reference gave (64 hex digits); ``origin`` names the reference in errors.

    The message says what is wrong with the value, never the value.
    """
    value = text.strip()
    if len(value) != KEY_HEX_CHARS:
        raise JournalError(
            f"{origin}: a journal key is {KEY_HEX_CHARS} hex digits (32 random bytes, e.g. "
            f"`openssl rand -hex 32`), not {len(value)} characters"
        )
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise JournalError(
            f"{origin}: a journal key is {KEY_HEX_CHARS} hex digits (0-9, a-f); this one has other characters"
        ) from None


def key_id(key: bytes) -> str:
    """A short public tag of the key, stored in the journal to catch a swapped or lost key file."""
    return hmac.new(key, b"fleet journal key id", hashlib.sha256).hexdigest()[:16]


def fingerprint_value(key: bytes, value: str) -> str:
    """``hmac-sha256:`` + the first 32 hex digits of HMAC-SHA256(key, value)."""
    digest = hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()
    return FINGERPRINT_PREFIX + digest[:FINGERPRINT_HEX_CHARS]


def read_key(path: Path) -> bytes:
    """The key at ``path``; refuses a key file others can read, or one of the wrong size."""
    with open(path, "rb") as handle:
        mode = os.fstat(handle.fileno()).st_mode
        key = handle.read()
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise JournalError(f"{path}: journal key file is accessible by other users; run: chmod 600 {path}")
    if len(key) != KEY_BYTES:
        raise JournalError(f"{path}: journal key file is damaged ({len(key)} bytes, expected {KEY_BYTES})")
    return key


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
