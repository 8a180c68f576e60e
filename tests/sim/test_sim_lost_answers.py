"""Answers lost AFTER ONTAP applied the change: reset, hang, or an intermediary's 502/503/504 (HTTPS)."""

from __future__ import annotations

import asyncio
import hashlib
import random
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from simkit import NEW_PASSPHRASE, OTHER_PASSPHRASE, STD_PASSPHRASE, FakeClock, code_of

from fleet.errors import InputError
from fleet.sim.faults import _lost_mode, apply_faults, parse_faults
from fleet.sim.persist import load_fleet, save_fleet
from fleet.sim.state import LOST_MODES, ClusterFaults, Fleet

KM = "/api/security/key-managers"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def raw_rotate(site: Any, seconds: float = 5.0) -> tuple[int, str, str]:
    """PATCH a rotation; (status, content type, text) whatever the body is."""
    url = site.server.url(site.name) + f"{KM}/{site.km_uuid}"
    body = {"onboard": {"existing_passphrase": STD_PASSPHRASE, "passphrase": NEW_PASSPHRASE}}
    headers = {"Authorization": aiohttp.encode_basic_auth(site.cluster.username, site.cluster.password)}
    async with site.session.patch(
        url, json=body, headers=headers, timeout=aiohttp.ClientTimeout(total=seconds)
    ) as response:
        return response.status, response.content_type, await response.text()


async def test_reset_after_apply_leaves_the_new_passphrase_in_place(tapi: Any) -> None:
    std = tapi("std")
    std.cluster.faults.lose_next = ["reset"]
    with pytest.raises(aiohttp.ClientConnectionError):
        await std.rotate(STD_PASSPHRASE, NEW_PASSPHRASE)
    truth = await std.truth()
    assert truth["passphrase_fingerprint"] == sha(NEW_PASSPHRASE) and truth["rotations"] == 1
    assert (truth["lost_answers"], truth["lost_by_mode"]) == (1, {"reset": 1})
    _, fleet_view = await std.call("GET", "/_sim/fleet")
    assert fleet_view["lost_answers"] == 1
    # the next answer arrives: re-sending the same rotation now proves it applied
    assert code_of((await std.rotate(STD_PASSPHRASE, NEW_PASSPHRASE))[1]) == "65536139"


async def test_hang_after_apply_outlasts_the_client_and_the_change_stays(tapi: Any) -> None:
    std = tapi("std")
    await std.set(faults={"lose_next": ["hang"]})  # through /_sim
    with pytest.raises(asyncio.TimeoutError):
        await raw_rotate(std, seconds=0.4)
    truth = await std.truth()
    assert truth["passphrase_fingerprint"] == sha(NEW_PASSPHRASE)
    assert truth["lost_by_mode"] == {"hang": 1} and truth["faults"]["lose_next"] == []


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_an_intermediary_answers_5xx_in_html_after_the_change_applied(tapi: Any, status: int) -> None:
    std = tapi("std")
    std.cluster.faults.lose_next = [str(status)]
    got, content_type, text = await raw_rotate(std)
    assert (got, content_type) == (status, "text/html")
    assert f"<title>{status} " in text and "error" not in text
    truth = await std.truth()
    assert truth["rotations"] == 1 and truth["lost_answers"] == 1


async def test_a_refused_mutation_keeps_its_answer_and_the_queue(tapi: Any) -> None:
    std = tapi("std")
    std.cluster.faults.lose_next = ["reset"]
    status, body = await std.rotate(OTHER_PASSPHRASE, NEW_PASSPHRASE)
    assert (status, code_of(body)) == (400, "65536139")
    truth = await std.truth()
    assert truth["lost_answers"] == 0 and truth["faults"]["lose_next"] == ["reset"]
    assert (await std.get(KM))[0] == 200  # reads never lose their answer


async def test_a_lost_answer_to_a_job_still_lets_the_job_complete(tapi: Any, clock: FakeClock) -> None:
    std = tapi("std")
    await std.set(faults={"jobs": True, "job_seconds": 2.0, "lose_next": ["503"]})
    status, content_type, _ = await raw_rotate(std)
    assert (status, content_type) == (503, "text/html")
    assert (await std.truth())["rotations"] == 0  # the job runs on
    clock.advance(2.0)
    truth = await std.truth()
    assert truth["rotations"] == 1 and truth["passphrase_fingerprint"] == sha(NEW_PASSPHRASE)
    assert truth["lost_answers"] == 1


async def test_lost_rate_from_the_faults_spec_loses_every_mutation_answer(tapi: Any, fleet: Fleet) -> None:
    apply_faults(fleet, parse_faults("lost_504=1"), 0)
    std = tapi("std")
    assert std.cluster.faults.lost_504_rate == 1.0
    assert (await raw_rotate(std))[0] == 504
    assert (await std.get(KM))[0] == 200
    assert (await std.truth())["lost_by_mode"] == {"504": 1}


def test_lost_draws_every_mode_deterministically_and_zero_rates_draw_nothing() -> None:

    def modes(seed: int) -> list[str | None]:
        rng = random.Random(seed)
        return [_lost_mode(ClusterFaults(lost_rate=1.0), rng) for _ in range(200)]

    assert set(modes(1)) == set(LOST_MODES) and modes(1) == modes(1) and modes(1) != modes(2)
    rng = random.Random(0)
    assert _lost_mode(ClusterFaults(), rng) is None and rng.random() == random.Random(0).random()


@pytest.mark.parametrize("kind", ["lost", *(f"lost_{mode}" for mode in LOST_MODES)])
def test_every_lost_spelling_parses(kind: str) -> None:
    spec = parse_faults(f"{kind}=0.25")
    assert getattr(spec.request, f"{kind}_rate") == 0.25


def test_lose_next_per_cluster_in_a_fault_file(tmp_path: Path, fleet: Fleet) -> None:
    path = tmp_path / "faults.yml"
    path.write_text("clusters:\n  std:\n    lose_next: [reset, '504']\n    lost_hang: 0.5\n")
    apply_faults(fleet, parse_faults(str(path)), 0)
    faults = fleet.clusters["std"].faults
    assert (faults.lose_next, faults.lost_hang_rate) == (["reset", "504"], 0.5)
    assert fleet.clusters["cc"].faults.lose_next == []
    path.write_text("clusters:\n  std:\n    lose_next: [teleport]\n")
    with pytest.raises(InputError, match="teleport"):
        parse_faults(str(path))


async def test_sim_refuses_an_unknown_lost_mode(tapi: Any) -> None:
    std = tapi("std")
    status, body = await std.call("POST", "/_sim/clusters/std", json={"faults": {"lose_next": ["teleport"]}})
    assert (status, body["error"]["target"]) == (400, "faults.lose_next")


def test_lost_counters_and_queue_survive_a_restart(tmp_path: Path, fleet: Fleet) -> None:
    std = fleet.clusters["std"]
    std.faults.lose_next, std.faults.lost_503_rate = ["hang"], 0.1
    std.counters.lost_answers, std.counters.lost_by_mode = 2, {"reset": 2}
    save_fleet(fleet, tmp_path / "state.json")
    loaded = load_fleet(tmp_path / "state.json").clusters["std"]
    assert (loaded.faults.lose_next, loaded.faults.lost_503_rate) == (["hang"], 0.1)
    assert (loaded.counters.lost_answers, loaded.counters.lost_by_mode) == (2, {"reset": 2})
