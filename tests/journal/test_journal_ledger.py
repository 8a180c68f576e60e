"""The passphrase ledger: refused candidates and wrong attempts are remembered across runs, per identity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from journalkit import OpenJournal

from fleet.journal import Journal, JournalError
from fleet.secrets.secret import Secret

OLD_UUID = "1cd8a442-86d1-11e0-ae1c-000000000001"
NEW_UUID = "9f0a77b1-0c4e-11f0-8d2a-000000000002"
WRONG = Secret("wrong-candidate-passphrase-" + "w" * 30)
OTHER = Secret("other-candidate-passphrase-" + "o" * 30)


async def test_a_refused_candidate_is_remembered_and_counts_as_a_wrong_attempt(
    journal: Journal, run_id: str
) -> None:
    fp, other = journal.fingerprint(WRONG), journal.fingerprint(OTHER)
    before = datetime.now(UTC) - timedelta(seconds=1)
    assert await journal.was_refused("cl-1", fp, uuid=OLD_UUID) is False
    await journal.record_refusal("cl-1", fp, code=65536139, run_id=run_id, uuid=OLD_UUID)
    assert await journal.was_refused("cl-1", fp, uuid=OLD_UUID) is True
    assert await journal.was_refused("cl-1", other, uuid=OLD_UUID) is False
    assert await journal.was_refused("cl-2", fp, uuid=NEW_UUID) is False
    assert await journal.wrong_attempts("cl-1", since=before, uuid=OLD_UUID) == 1


async def test_wrong_attempts_count_since_a_time_across_runs(open_journal: OpenJournal) -> None:
    moments = iter(datetime(2026, 11, 29, h, tzinfo=UTC) for h in (1, 2, 10, 11, 12))
    async with await open_journal(clock=lambda: next(moments)) as journal:
        run_a = await journal.create_run(kind="rotate", options={}, inventory_path="i", inventory_digest="d")
        fp = journal.fingerprint(WRONG)
        await journal.record_wrong_attempt("cl-1", fp, run_id=run_a)  # 02:00
        await journal.record_refusal("cl-1", fp, code=65536139, run_id="another-run")  # 10:00
        await journal.record_wrong_attempt("cl-1", fp, run_id=run_a)  # 11:00
        since_nine = datetime(2026, 11, 29, 9, tzinfo=UTC)
        assert await journal.wrong_attempts("cl-1", since=since_nine) == 2
        assert await journal.wrong_attempts("cl-1", since=since_nine - timedelta(hours=8)) == 3
        assert await journal.wrong_attempts("cl-2", since=since_nine) == 0


async def test_a_rebuilt_clusters_old_refusals_do_not_count_against_it(journal: Journal, run_id: str) -> None:
    fp = journal.fingerprint(WRONG)
    since = datetime.now(UTC) - timedelta(hours=1)
    await journal.record_refusal("cl-1", fp, code=65536139, run_id=run_id, uuid=OLD_UUID)
    assert await journal.was_refused("cl-1", fp, uuid=NEW_UUID) is False
    assert await journal.wrong_attempts("cl-1", since=since, uuid=NEW_UUID) == 0
    assert await journal.was_refused("cl-1", fp) is True, "without a uuid every record of the name counts"


async def test_legacy_rows_without_uuid_count_for_the_name(journal: Journal, run_id: str) -> None:
    fp = journal.fingerprint(WRONG)
    since = datetime.now(UTC) - timedelta(hours=1)
    await journal.record_refusal("cl-1", fp, code=65536139, run_id=run_id)
    await journal.record_wrong_attempt("cl-1", fp, run_id=run_id, uuid=NEW_UUID)
    assert await journal.was_refused("cl-1", fp, uuid=NEW_UUID) is True
    assert await journal.wrong_attempts("cl-1", since=since, uuid=NEW_UUID) == 2


async def test_a_renamed_cluster_keeps_its_refusals(journal: Journal, run_id: str) -> None:
    fp = journal.fingerprint(WRONG)
    await journal.record_refusal("cl-old-name", fp, code=65536139, run_id=run_id, uuid=OLD_UUID)
    assert await journal.was_refused("cl-new-name", fp, uuid=OLD_UUID) is True


async def test_the_ledger_takes_fingerprints_and_aware_times_only(journal: Journal, run_id: str) -> None:
    with pytest.raises(JournalError, match="fingerprint"):
        await journal.record_refusal("cl-1", WRONG.reveal(), code=1, run_id=run_id)
    with pytest.raises(JournalError, match="fingerprint"):
        await journal.was_refused("cl-1", WRONG.reveal())
    with pytest.raises(ValueError, match="timezone"):
        await journal.wrong_attempts("cl-1", since=datetime(2026, 11, 29))
