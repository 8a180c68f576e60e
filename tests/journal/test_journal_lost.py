"""A journal file deleted or replaced under an open journal fails the next write, naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet.journal import Journal, JournalError


def replace(path: Path) -> None:
    copy = path.with_name("copy.db")
    copy.write_bytes(path.read_bytes())
    copy.replace(path)


@pytest.mark.parametrize("lose", [Path.unlink, replace], ids=["deleted", "replaced"])
async def test_the_next_write_after_the_file_is_lost_fails_and_commits_nothing(journal_path, lose) -> None:
    run = {"kind": "rotate", "options": {}, "inventory_path": "inv.yml", "inventory_digest": "d"}
    async with await Journal.open(journal_path) as journal:
        await journal.create_run(**run)
        commits = journal.commits
        lose(journal_path)
        with pytest.raises(JournalError, match="deleted or replaced while in use") as caught:
            await journal.create_run(**run)
        assert str(journal_path) in str(caught.value)
        assert journal.commits == commits


async def test_a_file_that_is_not_a_database_is_named_with_its_cause(journal_path) -> None:
    journal_path.parent.mkdir(parents=True)
    journal_path.write_text("not a database " * 500)
    with pytest.raises(JournalError) as caught:
        await Journal.open(journal_path)
    assert str(caught.value) == f"{journal_path}: the journal " + (
        "is not a SQLite database; is this the journal (--journal, FLEET_JOURNAL)?"
    )
