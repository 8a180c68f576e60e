"""Helpers for the simulator tests: a known fleet, a clock tests can move, a tiny ONTAP caller."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from jsonschema import Draft4Validator

from fleet.sim import SimServer
from fleet.sim.generate import generate_fleet, make_cluster
from fleet.sim.state import Fleet

STD_PASSPHRASE = "standalone-passphrase-0001-abcdefgh"  # 35 characters
CC_PASSPHRASE = "common-criteria-passphrase-" + "c" * 40  # 67 characters
NEW_PASSPHRASE = "the-new-passphrase-for-rotation-9876"
OTHER_PASSPHRASE = "yet-another-passphrase-for-testing-42"


class FakeClock:
    """The simulator clock, moved by hand: jobs finish and expire when a test says so."""

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def build_test_fleet() -> Fleet:
    """sim-0001 ↔ sim-0002 (MetroCluster), std (9.14.1), cc (CC mode), ext (external), bare (none),
    old (9.11.0), older (9.10.1), v97 (9.7.1), v96 (9.6.0)."""
    fleet = generate_fleet(2, mcc_pairs=1, seed=7)
    rng = random.Random(7)
    extra = [
        make_cluster("std", rng=rng, version=(9, 14, 1), nodes=4, passphrase=STD_PASSPHRASE),
        make_cluster("cc", rng=rng, version=(9, 13, 1), nodes=2, passphrase=CC_PASSPHRASE, cc_mode=True),
        make_cluster("ext", rng=rng, version=(9, 16, 1), nodes=2, key_manager="external"),
        make_cluster("bare", rng=rng, version=(9, 12, 1), nodes=2, key_manager="none"),
        make_cluster("old", rng=rng, version=(9, 11, 0), nodes=2, passphrase=STD_PASSPHRASE),
        make_cluster("older", rng=rng, version=(9, 10, 1), nodes=2, passphrase=STD_PASSPHRASE),
        make_cluster("v97", rng=rng, version=(9, 7, 1), nodes=2, passphrase=STD_PASSPHRASE),
        make_cluster("v96", rng=rng, version=(9, 6, 0), nodes=2, passphrase=STD_PASSPHRASE),
    ]
    for cluster in extra:
        fleet.clusters[cluster.name] = cluster
    return fleet


@dataclass
class Api:
    """Calls one simulated cluster as its admin; answers (status, JSON body)."""

    session: aiohttp.ClientSession
    server: SimServer
    name: str
    authorized: bool = True

    @property
    def cluster(self) -> Any:
        return self.server.fleet.clusters[self.name]

    @property
    def km_uuid(self) -> str:
        return self.cluster.key_manager.uuid

    async def call(
        self, method: str, path: str, *, json: Any = None, params: dict[str, str] | None = None
    ) -> tuple[int, dict[str, Any]]:
        headers = {}
        if self.authorized:
            headers["Authorization"] = aiohttp.encode_basic_auth(self.cluster.username, self.cluster.password)
        url = self.server.url(self.name) + path
        async with self.session.request(method, url, json=json, params=params, headers=headers) as response:
            text = await response.text()
            body = await response.json(content_type=None) if text else {}
            return response.status, body

    async def get(self, path: str, **params: str) -> tuple[int, dict[str, Any]]:
        return await self.call("GET", path, params=params or None)

    async def patch_km(self, onboard: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return await self.call(
            "PATCH", f"/api/security/key-managers/{self.km_uuid}", json={"onboard": onboard}
        )

    async def rotate(self, existing: str, new: str) -> tuple[int, dict[str, Any]]:
        return await self.patch_km({"existing_passphrase": existing, "passphrase": new})

    async def sync(self, existing: str) -> tuple[int, dict[str, Any]]:
        return await self.patch_km({"existing_passphrase": existing, "synchronize": True})

    async def truth(self) -> dict[str, Any]:
        status, body = await self.call("GET", f"/_sim/clusters/{self.name}")
        assert status == 200
        return body

    async def set(self, **changes: Any) -> dict[str, Any]:
        status, body = await self.call("POST", f"/_sim/clusters/{self.name}", json=changes)
        assert status == 200, body
        return body


def code_of(body: dict[str, Any]) -> str | None:
    """ONTAP's error code as sent: a string."""
    return body.get("error", {}).get("code")


SPEC_DIR = Path(__file__).parents[2] / ".." / "shared" / "ontap-spec"


def spec_definitions(file: str) -> dict[str, Any]:
    """The ``definitions`` of one of NetApp's swagger files in ../shared (the test skips without it)."""
    spec = SPEC_DIR / file
    if not spec.is_file():
        pytest.skip(f"NetApp's spec is not at {spec}")
    definitions: dict[str, Any] = yaml.safe_load(spec.read_text())["definitions"]
    return definitions


def check(definitions: dict[str, Any], name: str, body: dict[str, Any]) -> None:
    """``body`` validates against NetApp's definition ``name``; every error is listed when not."""
    validator = Draft4Validator({"$ref": f"#/definitions/{name}", "definitions": definitions})
    assert [f"{list(error.absolute_path)}: {error.message}" for error in validator.iter_errors(body)] == []
