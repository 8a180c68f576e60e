"""The journal knows passphrases only as keyed fingerprints; no value or plain hash reaches its files."""

from __future__ import annotations

import hashlib
import re
import stat
from pathlib import Path

import pytest
from journalkit import OpenJournal, RawSql

from fleet.journal import Journal, JournalError
from fleet.secrets.secret import Secret

OLD = Secret("Old-okm-passphrase-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFG")
NEW = Secret("New-okm-passphrase-9876543210-zyxwvutsrqponmlkjihgfedcba-GFEDCBA")


def _forbidden(secret: Secret) -> list[bytes]:
    """The value, and the plain hashes someone might store instead of a keyed fingerprint."""
    value = secret.reveal().encode()
    return [
        value,
        hashlib.sha256(value).hexdigest().encode(),
        hashlib.sha256(value).hexdigest()[:32].encode(),
        hashlib.sha256(value).digest(),
        hashlib.sha1(value).hexdigest().encode(),
        hashlib.md5(value).hexdigest().encode(),
    ]


def _read(path: Path) -> bytes:
    """The file's bytes; nothing for a file the database server removed meanwhile (its temp files)."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""


def _scan(paths: list[Path], secrets: list[Secret]) -> list[str]:
    hits = []
    for path in paths:
        data = _read(path)
        hits += [
            f"{path.name}: {i}"
            for secret in secrets
            for i, needle in enumerate(_forbidden(secret))
            if needle in data
        ]
    return hits


def _key_hits(paths: list[Path], key: bytes | None) -> list[str]:
    if key is None:
        return []
    needles = [key, key.hex().encode(), key.hex().upper().encode()]
    return [path.name for path in paths for needle in needles if needle in _read(path)]


async def test_fingerprint_is_a_truncated_keyed_hmac(journal: Journal) -> None:
    fp = journal.fingerprint(NEW)
    assert re.fullmatch(r"hmac-sha256:[0-9a-f]{32}", fp)
    assert fp == journal.fingerprint(Secret(NEW.reveal()))
    assert fp != journal.fingerprint(OLD)
    assert fp.removeprefix("hmac-sha256:") != hashlib.sha256(NEW.reveal().encode()).hexdigest()[:32]


async def test_two_journals_fingerprint_the_same_passphrase_differently(tmp_path: Path) -> None:
    async with await Journal.open(tmp_path / "a.db") as a, await Journal.open(tmp_path / "b.db") as b:
        assert a.fingerprint(NEW) != b.fingerprint(NEW)


async def test_key_and_journal_files_are_private_and_the_key_kept_across_opens(journal_path: Path) -> None:
    async with await Journal.open(journal_path) as journal:
        first = journal.fingerprint(NEW)
    for private in (journal_path.with_name("journal.db.key"), journal_path):
        assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert stat.S_IMODE(journal_path.parent.stat().st_mode) == 0o700
    async with await Journal.open(journal_path) as journal:
        assert journal.fingerprint(NEW) == first


async def test_journal_without_its_key_file_is_refused(journal_path: Path) -> None:
    async with await Journal.open(journal_path):
        pass
    journal_path.with_name("journal.db.key").unlink()
    with pytest.raises(JournalError, match="key file is missing"):
        await Journal.open(journal_path)


async def test_a_key_file_readable_by_others_is_refused(journal_path: Path) -> None:
    async with await Journal.open(journal_path):
        pass
    journal_path.with_name("journal.db.key").chmod(0o644)
    with pytest.raises(JournalError, match="chmod 600"):
        await Journal.open(journal_path)


@pytest.fixture
def stored_files(backend: str, where: Path | str, request: pytest.FixtureRequest, raw_sql: RawSql):
    """``await stored_files()``: every file the journal's data is in (SQLite: the database, WAL, SHM and
    key file; PostgreSQL: the server's whole data folder, after a checkpoint)."""

    async def files() -> list[Path]:
        if backend == "sqlite":
            return sorted(Path(where).parent.iterdir())
        await raw_sql("CHECKPOINT")
        data = request.getfixturevalue("pg_server").folder / "data"
        return sorted(path for path in data.rglob("*") if path.is_file())

    return files


async def test_journal_files_hold_no_passphrase_nor_plain_hash(
    open_journal: OpenJournal, stored_files, journal_key: bytes | None
) -> None:
    """A full rotation's worth of rows, then every file of the journal is scanned byte by byte
    (and a shared PostgreSQL journal's files for its key too: the key is never stored)."""
    journal = await open_journal()
    run = await journal.create_run(
        kind="rotate",
        options={"current": "env:OKM_OLD", "new": "generate"},
        inventory_path="i",
        inventory_digest="d",
    )
    await journal.add_units(run, [("cl-1", ["cl-1"], None)])
    old_fp, new_fp = journal.fingerprint(OLD), journal.fingerprint(NEW)
    step = await journal.begin_step(run, "cl-1", "cl-1", "rotate", from_fp=old_fp, to_fp=new_fp)
    await journal.mark_sent("cl-1", new_fp, run)
    await journal.end_step(step, status="failed", detail=f"echo of {NEW.reveal()} and {OLD.reveal()}")
    await journal.mark_verified("cl-1", new_fp, run)
    await journal.set_unit(run, "cl-1", status="succeeded", reason=f"was {OLD.reveal()}")
    await journal.finish_run(
        run, outcome="succeeded", exit_code=0, report_path=None, stop_reason=NEW.reveal()
    )

    files = await stored_files()
    if journal_key is None:
        assert {f.name for f in files} >= {"journal.db", "journal.db-wal", "journal.db.key"}
    assert _scan(files, [OLD, NEW]) == []
    assert _key_hits(files, journal_key) == []
    await journal.close()
    assert _scan(await stored_files(), [OLD, NEW]) == []


async def test_identity_lease_and_ledger_rows_hold_no_passphrase_nor_plain_hash(
    open_journal: OpenJournal, stored_files
) -> None:
    """The v2 tables (uuid-keyed state, leases, the ledger) are scanned like the rest."""
    uuid = "9f0a77b1-0c4e-11f0-8d2a-000000000002"
    async with await open_journal() as journal:
        run = await journal.create_run(kind="rotate", options={}, inventory_path="i", inventory_digest="d")
        await journal.add_units(run, [("cl-1", ["cl-1"], None)])
        old_fp, new_fp = journal.fingerprint(OLD), journal.fingerprint(NEW)
        await journal.take_lease("cl-1", run_id=run, ttl=60, uuid=uuid)
        await journal.begin_step(
            run, "cl-1", "cl-1", "rotate", from_fp=old_fp, to_fp=new_fp, marks_pending=True, uuid=uuid
        )
        await journal.record_refusal("cl-1", new_fp, code=65536139, run_id=run, uuid=uuid)
        await journal.record_wrong_attempt("cl-1", old_fp, run_id=run, uuid=uuid)
        await journal.clear_pending("cl-1", new_fp, uuid=uuid)
        await journal.mark_verified("cl-1", old_fp, run, uuid=uuid)
        await journal.renew_leases(run, 60)
        with pytest.raises(JournalError, match="fingerprint"):
            await journal.clear_pending("cl-1", NEW.reveal(), uuid=uuid)
        with pytest.raises(JournalError, match="fingerprint"):
            await journal.record_wrong_attempt("cl-1", OLD.reveal(), run_id=run)
        assert _scan(await stored_files(), [OLD, NEW]) == []
    assert _scan(await stored_files(), [OLD, NEW]) == []
