"""Cluster state is keyed by the cluster's uuid: a rebuilt cluster never inherits an old record."""

from __future__ import annotations

from fleet.journal import Journal
from fleet.secrets.secret import Secret

OLD_UUID = "1cd8a442-86d1-11e0-ae1c-000000000001"
NEW_UUID = "9f0a77b1-0c4e-11f0-8d2a-000000000002"


def _fps(journal: Journal) -> tuple[str, str, str]:
    a, b, c = (journal.fingerprint(Secret(f"passphrase-{n}-" + n * 30)) for n in "abc")
    return a, b, c


async def test_state_is_found_by_uuid_and_carries_it(journal: Journal, run_id: str) -> None:
    a, b, _ = _fps(journal)
    await journal.mark_verified("cl-1", a, run_id, uuid=OLD_UUID)
    await journal.mark_sent("cl-1", b, run_id, uuid=OLD_UUID)
    state = await journal.cluster_state("cl-1", uuid=OLD_UUID)
    assert state is not None
    assert (state.cluster, state.uuid, state.current_fp, state.pending_fp) == ("cl-1", OLD_UUID, a, b)


async def test_a_rebuilt_cluster_under_the_same_name_inherits_nothing(journal: Journal, run_id: str) -> None:
    a, b, _ = _fps(journal)
    await journal.mark_verified("cl-1", a, run_id, uuid=OLD_UUID)
    assert await journal.cluster_state("cl-1", uuid=NEW_UUID) is None
    await journal.mark_verified("cl-1", b, run_id, uuid=NEW_UUID)
    new = await journal.cluster_state("cl-1", uuid=NEW_UUID)
    old = await journal.cluster_state("cl-1", uuid=OLD_UUID)
    assert new is not None and (new.uuid, new.current_fp) == (NEW_UUID, b)
    assert old is not None and (old.uuid, old.current_fp) == (OLD_UUID, a), "the old identity keeps its own"


async def test_without_a_uuid_the_names_latest_record_answers(journal: Journal, run_id: str) -> None:
    a, b, c = _fps(journal)
    await journal.mark_verified("cl-1", a, run_id, uuid=OLD_UUID)
    await journal.mark_verified("cl-1", b, run_id, uuid=NEW_UUID)
    state = await journal.cluster_state("cl-1")
    assert state is not None and (state.uuid, state.current_fp) == (NEW_UUID, b)
    await journal.mark_sent("cl-1", c, run_id)  # a caller that does not know the uuid updates that record
    state = await journal.cluster_state("cl-1", uuid=NEW_UUID)
    assert state is not None and (state.current_fp, state.pending_fp) == (b, c)


async def test_a_legacy_record_without_uuid_is_adopted_and_gets_the_uuid(
    journal: Journal, run_id: str
) -> None:
    a, b, _ = _fps(journal)
    await journal.mark_verified("cl-1", a, run_id)  # written the old way
    state = await journal.cluster_state("cl-1", uuid=NEW_UUID)
    assert state is not None and (state.uuid, state.current_fp) == (None, a)
    await journal.mark_sent("cl-1", b, run_id, uuid=NEW_UUID)
    state = await journal.cluster_state("cl-1", uuid=NEW_UUID)
    assert state is not None and (state.uuid, state.current_fp, state.pending_fp) == (NEW_UUID, a, b)
    assert await journal.cluster_state("cl-1", uuid=OLD_UUID) is None, "adopted: no longer anybody's"


async def test_a_renamed_cluster_keeps_its_record_under_the_new_name(journal: Journal, run_id: str) -> None:
    a, _, _ = _fps(journal)
    await journal.mark_verified("cl-old-name", a, run_id, uuid=OLD_UUID)
    state = await journal.cluster_state("cl-new-name", uuid=OLD_UUID)
    assert state is not None and state.current_fp == a
    await journal.mark_verified("cl-new-name", a, run_id, uuid=OLD_UUID)
    state = await journal.cluster_state("cl-new-name")
    assert state is not None and (state.cluster, state.uuid) == ("cl-new-name", OLD_UUID)
    assert await journal.cluster_state("cl-old-name") is None


async def test_a_change_intent_writes_the_uuid_with_the_pending_mark(journal: Journal, run_id: str) -> None:
    a, b, _ = _fps(journal)
    await journal.mark_verified("cl-2", a, run_id, uuid=OLD_UUID)
    await journal.begin_step(
        run_id, "u2", "cl-2", "change_passphrase", from_fp=a, to_fp=b, marks_pending=True, uuid=NEW_UUID
    )
    new = await journal.cluster_state("cl-2", uuid=NEW_UUID)
    old = await journal.cluster_state("cl-2", uuid=OLD_UUID)
    assert new is not None and (new.current_fp, new.pending_fp) == (None, b)
    assert old is not None and (old.current_fp, old.pending_fp) == (a, None)


async def test_clear_pending_forgets_only_the_refused_mark(journal: Journal, run_id: str) -> None:
    a, b, c = _fps(journal)
    await journal.mark_verified("cl-3", a, run_id, uuid=OLD_UUID)
    await journal.mark_sent("cl-3", b, run_id, uuid=OLD_UUID)
    assert await journal.clear_pending("cl-3", c, uuid=OLD_UUID) is False
    assert await journal.clear_pending("cl-3", b, uuid=NEW_UUID) is False, "another identity's mark stays"
    state = await journal.cluster_state("cl-3", uuid=OLD_UUID)
    assert state is not None and state.pending_fp == b
    assert await journal.clear_pending("cl-3", b, uuid=OLD_UUID) is True
    state = await journal.cluster_state("cl-3", uuid=OLD_UUID)
    assert state is not None and (state.current_fp, state.pending_fp) == (a, None)
    assert await journal.clear_pending("cl-never-seen", b) is False
