"""``promote(cluster, proven)`` is a compare-and-swap: a slot only ever becomes what the cluster proved."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet.secrets.secret import Secret
from fleet.secrets.store import CmdStore, FileStore, Promotion

FIRST = Secret("first-passphrase-" + "1" * 48)
SECOND = Secret("second-passphrase-" + "2" * 48)
THIRD = Secret("third-passphrase-" + "3" * 48)


async def _slots(store: FileStore, cluster: str) -> dict[str, Secret | None]:
    return {slot: await store.get(cluster, slot) for slot in ("pending", "current", "previous")}


async def test_the_proven_pending_value_is_promoted(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    await store.set_current("cl-1", FIRST)
    await store.put_pending("cl-1", SECOND)
    assert await store.promote("cl-1", SECOND) is Promotion.PROMOTED
    assert await _slots(store, "cl-1") == {"pending": None, "current": SECOND, "previous": FIRST}
    assert Promotion.PROMOTED.stored


async def test_a_pending_value_the_cluster_did_not_prove_is_not_promoted(tmp_path: Path) -> None:
    """Another run's pending value must never become current because *this* cluster proved ours."""
    store = FileStore(tmp_path)
    await store.set_current("cl-1", FIRST)
    await store.put_pending("cl-1", THIRD)
    assert await store.promote("cl-1", SECOND) is Promotion.MISMATCH
    assert await _slots(store, "cl-1") == {"pending": THIRD, "current": FIRST, "previous": None}
    assert not Promotion.MISMATCH.stored


async def test_a_value_already_current_clears_only_an_equal_pending(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    await store.set_current("cl-1", SECOND)
    await store.put_pending("cl-1", THIRD)
    assert await store.promote("cl-1", SECOND) is Promotion.ALREADY_CURRENT
    assert await _slots(store, "cl-1") == {"pending": THIRD, "current": SECOND, "previous": None}
    await store.discard_pending("cl-1")
    await store.put_pending("cl-1", SECOND)
    assert await store.promote("cl-1", SECOND) is Promotion.ALREADY_CURRENT
    assert await _slots(store, "cl-1") == {"pending": None, "current": SECOND, "previous": None}


async def test_a_proven_value_in_no_slot_is_reported_not_invented(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    await store.set_current("cl-1", FIRST)
    assert await store.promote("cl-1", SECOND) is Promotion.NOTHING_PENDING
    assert await _slots(store, "cl-1") == {"pending": None, "current": FIRST, "previous": None}
    assert not Promotion.NOTHING_PENDING.stored


async def test_promote_without_proof_keeps_its_old_meaning_and_says_what_it_did(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    assert await store.promote("cl-1") is Promotion.NOTHING_PENDING
    await store.set_current("cl-1", FIRST)
    await store.put_pending("cl-1", SECOND)
    assert await store.promote("cl-1") is Promotion.PROMOTED
    assert await store.promote("cl-1") is Promotion.NOTHING_PENDING
    assert await _slots(store, "cl-1") == {"pending": None, "current": SECOND, "previous": FIRST}


async def test_a_proven_promotion_interrupted_after_current_is_finished_by_a_rerun(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    await store.set_current("cl-1", FIRST)
    await store.put_pending("cl-1", SECOND)
    (tmp_path / "cl-1" / "previous").write_text(FIRST.reveal())
    (tmp_path / "cl-1" / "current").write_text(SECOND.reveal())
    assert await store.promote("cl-1", SECOND) is Promotion.ALREADY_CURRENT
    assert await _slots(store, "cl-1") == {"pending": None, "current": SECOND, "previous": FIRST}


@pytest.mark.parametrize("promotion", list(Promotion))
def test_promotion_results_are_plain_words(promotion: Promotion) -> None:
    assert promotion.value == promotion.name.lower() and isinstance(promotion, str)


def test_cmd_store_offers_the_same_promote(tmp_path: Path) -> None:
    assert CmdStore.promote is FileStore.promote
