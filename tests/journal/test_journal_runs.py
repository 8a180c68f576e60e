"""Runs, units, steps and cluster state read back as they were written."""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from journalkit import OpenJournal

from fleet.engine.audit import this_run
from fleet.journal import SCHEMA_VERSION, AlreadyResumed, Journal, JournalError
from fleet.secrets.secret import Secret


def _ticking_clock(start: datetime) -> Iterator[datetime]:
    moment = start
    while True:
        yield moment
        moment += timedelta(minutes=1)


async def test_runs_are_listed_newest_first(open_journal: OpenJournal) -> None:
    ticks = _ticking_clock(datetime(2026, 11, 29, 5, 15, tzinfo=UTC))
    async with await open_journal(clock=lambda: next(ticks)) as journal:
        created = [
            await journal.create_run(kind=kind, options={}, inventory_path="i", inventory_digest="d")
            for kind in ("rotate", "sync", "sweep")
        ]
        assert [run.id for run in await journal.runs()] == created[::-1]
        assert [run.kind for run in await journal.runs(limit=2)] == ["sweep", "sync"]


async def test_runs_started_in_the_same_second_are_still_newest_first(journal: Journal) -> None:
    created = [
        await journal.create_run(kind="rotate", options={}, inventory_path="i", inventory_digest="d")
        for _ in range(5)
    ]
    assert [run.id for run in await journal.runs()] == created[::-1]


async def test_run_id_is_utc_start_time_plus_random_suffix(open_journal: OpenJournal) -> None:
    start = datetime(2026, 11, 29, 5, 15, tzinfo=UTC)
    async with await open_journal(clock=lambda: start) as journal:
        run_id = await journal.create_run(kind="rotate", options={}, inventory_path="i", inventory_digest="d")
    assert re.fullmatch(r"20261129-051500-[0-9a-f]{4}", run_id)


async def test_run_keeps_options_inventory_and_outcome(journal: Journal, run_id: str) -> None:
    await journal.finish_run(
        run_id, outcome="aborted", exit_code=3, report_path="r.json", stop_reason="budget"
    )
    run = await journal.run(run_id)
    assert run is not None
    assert (run.kind, run.options, run.inventory_path, run.inventory_digest) == (
        "rotate",
        {"new": "generate"},
        "inv.yml",
        "sha256:ab",
    )
    assert (run.outcome, run.exit_code, run.report_path, run.stop_reason) == (
        "aborted",
        3,
        "r.json",
        "budget",
    )
    assert run.finished_at is not None
    assert await journal.run("no-such-run") is None


async def test_a_secret_value_cannot_be_put_in_run_options(journal: Journal) -> None:
    with pytest.raises(TypeError, match="secret references"):
        await journal.create_run(
            kind="rotate", options={"new": Secret("n" * 40)}, inventory_path="i", inventory_digest="d"
        )


async def test_units_keep_clusters_wave_and_status_times(journal: Journal) -> None:
    run = await journal.create_run(kind="rotate", options={}, inventory_path="i", inventory_digest="d")
    await journal.add_units(run, [("pair-a", ["cl-a1", "cl-a2"], 2), ("cl-b", ["cl-b"], None)])
    await journal.set_unit(run, "pair-a", status="running")
    await journal.set_unit(run, "pair-a", status="failed", reason="65536139 on cl-a1")
    pair, single = await journal.units(run)
    assert (pair.clusters, pair.wave, pair.status, pair.reason) == (
        ("cl-a1", "cl-a2"),
        2,
        "failed",
        "65536139 on cl-a1",
    )
    assert pair.started_at is not None and pair.ended_at is not None
    assert (single.status, single.started_at, single.ended_at) == ("pending", None, None)


async def test_unknown_unit_is_refused(journal: Journal, run_id: str) -> None:
    with pytest.raises(JournalError, match="no unit"):
        await journal.set_unit(run_id, "nope", status="running")


async def test_a_step_gets_exactly_one_outcome(journal: Journal, run_id: str) -> None:
    step_id = await journal.begin_step(run_id, "u3", "cl-3", "rotate")
    await journal.end_step(step_id, status="failed", error_code=65536139, detail="existing passphrase wrong")
    with pytest.raises(JournalError, match="already has an outcome"):
        await journal.end_step(step_id, status="ok")
    (step,) = await journal.steps(run_id, "u3")
    assert (step.status, step.error_code, step.detail) == ("failed", 65536139, "existing passphrase wrong")
    assert step.outcome_at is not None and step.outcome_at >= step.intent_at


async def test_steps_filter_by_unit_in_intent_order(journal: Journal, run_id: str) -> None:
    for name in ("rotate", "verify", "backup"):
        await journal.begin_step(run_id, "u5", "cl-5", name)
    await journal.begin_step(run_id, "u6", "cl-6", "rotate")
    assert [s.name for s in await journal.steps(run_id, "u5")] == ["rotate", "verify", "backup"]
    assert len(await journal.steps(run_id)) == 4


async def test_sent_change_is_pending_until_verified(journal: Journal, run_id: str) -> None:
    old = journal.fingerprint(Secret("old-passphrase-" + "o" * 30))
    new = journal.fingerprint(Secret("new-passphrase-" + "n" * 30))
    assert await journal.cluster_state("cl-1") is None
    await journal.mark_verified("cl-1", old, run_id)
    await journal.mark_sent("cl-1", new, run_id)
    state = await journal.cluster_state("cl-1")
    assert state is not None and (state.current_fp, state.pending_fp) == (old, new)
    await journal.mark_verified("cl-1", new, run_id)
    state = await journal.cluster_state("cl-1")
    assert state is not None and (state.current_fp, state.pending_fp, state.run_id) == (new, None, run_id)
    assert state.verified_at is not None


async def test_a_change_intent_marks_the_passphrase_pending_in_the_same_commit(
    journal: Journal, run_id: str
) -> None:
    old = journal.fingerprint(Secret("old-passphrase-" + "o" * 30))
    new = journal.fingerprint(Secret("new-passphrase-" + "n" * 30))
    await journal.mark_verified("cl-2", old, run_id)
    step = await journal.begin_step(
        run_id, "u2", "cl-2", "change_passphrase", from_fp=old, to_fp=new, marks_pending=True
    )
    state = await journal.cluster_state("cl-2")
    assert state is not None and (state.current_fp, state.pending_fp) == (old, new)
    assert [s.id for s in await journal.open_intents(run_id)] == [step]


async def test_a_passphrase_is_refused_where_a_fingerprint_belongs(journal: Journal, run_id: str) -> None:
    with pytest.raises(JournalError, match="fingerprint"):
        await journal.begin_step(run_id, "u0", "cl-0", "rotate", to_fp="a-plain-passphrase-" + "x" * 30)
    with pytest.raises(JournalError, match="fingerprint"):
        await journal.mark_sent("cl-0", "a-plain-passphrase-" + "x" * 30, run_id)


async def test_known_secret_values_are_scrubbed_from_details(journal: Journal, run_id: str) -> None:
    leaked = Secret("leaky-passphrase-" + "L" * 30)
    step_id = await journal.begin_step(run_id, "u0", "cl-0", "rotate")
    await journal.end_step(step_id, status="failed", detail=f"ONTAP echoed {leaked.reveal()} back")
    (step,) = await journal.steps(run_id, "u0")
    assert step.detail == "ONTAP echoed *** back"


async def test_closed_journal_refuses_calls_and_closes_twice(open_journal: OpenJournal) -> None:
    journal = await open_journal()
    await journal.close()
    await journal.close()
    with pytest.raises(JournalError, match="closed"):
        await journal.runs()


async def test_schema_version_is_in_user_version(journal: Journal, journal_path: Path) -> None:
    conn = sqlite3.connect(journal_path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    finally:
        conn.close()


async def test_journal_from_a_newer_fleet_is_refused(journal_path: Path) -> None:
    async with await Journal.open(journal_path):
        pass
    conn = sqlite3.connect(journal_path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(JournalError, match="newer"):
        await Journal.open(journal_path)


async def test_journal_in_an_unusable_place_is_a_journal_error(tmp_path: Path) -> None:
    (tmp_path / "not-a-dir").write_text("")
    with pytest.raises(JournalError):
        await Journal.open(tmp_path / "not-a-dir" / "journal.db")


async def test_a_run_is_resumed_once_even_by_two_resumes_racing_from_two_connections(
    open_journal: OpenJournal, journal: Journal, run_id: str
) -> None:
    """The check that nobody resumed the run yet and the new run's row are one transaction."""
    async with await open_journal() as other:
        first, second = await asyncio.gather(
            *(
                opened.create_run(
                    kind="rotate", options={"resumed_from": run_id}, inventory_path="i", inventory_digest="d"
                )
                for opened in (journal, other)
            ),
            return_exceptions=True,
        )
    winner = first if isinstance(first, str) else second
    loser = second if isinstance(first, str) else first
    assert isinstance(winner, str) and isinstance(loser, AlreadyResumed)
    assert loser.resumed_by == winner and run_id in str(loser)
    async with await open_journal() as third:
        with pytest.raises(AlreadyResumed):
            await third.create_run(
                kind="rotate", options={"resumed_from": run_id}, inventory_path="i", inventory_digest="d"
            )
        resumes = [run for run in await third.runs() if run.options.get("resumed_from") == run_id]
        assert [run.id for run in resumes] == [winner]


async def test_a_run_records_who_ran_it_and_where(journal: Journal) -> None:
    """A team's runs share one journal: each says which user on which host ran it."""
    run = await journal.create_run(
        kind="rotate",
        options={},
        inventory_path="i",
        inventory_digest="d",
        operator="ana@ams-1",
        host="ams-1",
    )
    older = await journal.create_run(kind="sync", options={}, inventory_path="i", inventory_digest="d")
    recorded = {row.id: (row.operator, row.host) for row in await journal.runs()}
    assert recorded == {run: ("ana@ams-1", "ams-1"), older: (None, None)}


def test_the_operator_is_the_effective_user_at_this_host() -> None:
    import pwd
    import socket

    assert this_run(None).operator == f"{pwd.getpwuid(os.geteuid()).pw_name}@{socket.gethostname()}"
