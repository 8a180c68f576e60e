"""Common Criteria lockout per node over HTTPS: the serving node keeps the streak, 5 wrong passphrases lock
it, the lock clears after 24 h of the simulator's clock or when that node reboots (``/_sim``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from simkit import CC_PASSPHRASE, FakeClock, code_of

from fleet.sim.persist import load_fleet, save_fleet

WRONG_CC = "w" * 70
DAY = 24 * 3600


async def _lock(cc: Any) -> None:
    for _ in range(5):
        assert code_of((await cc.rotate(WRONG_CC, "n" * 70))[1]) == "65536139"


async def test_strikes_count_on_the_serving_node_and_lock_it(tapi: Any) -> None:
    cc = tapi("cc")
    await _lock(cc)
    truth = await cc.truth()
    first, second = truth["nodes"]
    assert truth["serving_node"] == first["name"]
    assert (first["wrong_passphrase_streak"], first["locked"]) == (5, True)
    assert (second["wrong_passphrase_streak"], second["locked"]) == (0, False)
    assert truth["locked"] is True and truth["wrong_passphrase_attempts"] == 5
    assert cc.cluster.locked and cc.cluster.wrong_passphrase_total == 5
    status, body = await cc.rotate(CC_PASSPHRASE, "n" * 70)
    assert (status, code_of(body)) == (400, "65536808")


async def test_the_lock_clears_after_24_hours_of_the_simulator_clock(tapi: Any, clock: FakeClock) -> None:
    cc = tapi("cc")
    await _lock(cc)
    clock.advance(DAY - 1)
    assert code_of((await cc.rotate(CC_PASSPHRASE, "n" * 70))[1]) == "65536808"
    clock.advance(1)
    status, _ = await cc.rotate(CC_PASSPHRASE, "n" * 70)
    assert status == 200
    truth = await cc.truth()
    assert truth["locked"] is False and truth["nodes"][0]["wrong_passphrase_streak"] == 0
    assert truth["wrong_passphrase_attempts"] == 5  # the total stays


async def test_rebooting_the_locked_node_clears_it_another_node_does_not(tapi: Any) -> None:
    cc = tapi("cc")
    await _lock(cc)
    nodes = [node.name for node in cc.cluster.nodes]
    assert (await cc.set(reboot_node=nodes[1]))["locked"] is True
    assert (await cc.set(reboot_node=nodes[0]))["locked"] is False
    assert (await cc.rotate(CC_PASSPHRASE, "n" * 70))[0] == 200
    status, body = await cc.call("POST", "/_sim/clusters/cc", json={"reboot_node": "no-such-node"})
    assert status == 400 and body["error"]["target"] == "reboot_node"


async def test_a_right_passphrase_before_the_fifth_strike_resets_the_node_streak(tapi: Any) -> None:
    cc = tapi("cc")
    for _ in range(4):
        await cc.rotate(WRONG_CC, "n" * 70)
    assert code_of((await cc.rotate(CC_PASSPHRASE, CC_PASSPHRASE))[1]) == "65536150"
    assert (await cc.truth())["nodes"][0]["wrong_passphrase_streak"] == 0


async def test_a_node_lock_survives_a_restart(tapi: Any, tmp_path: Path, clock: FakeClock) -> None:
    cc = tapi("cc")
    await _lock(cc)
    save_fleet(cc.server.fleet, tmp_path / "state.json")
    loaded = load_fleet(tmp_path / "state.json").clusters["cc"]
    assert loaded.locked and loaded.nodes[0].locked_at == clock.now
    assert loaded.wrong_passphrase_streak == 5 and loaded.wrong_passphrase_total == 5
