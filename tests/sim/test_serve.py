"""`fleet sim serve` as its own process: the ready line, the inventory and secrets, state across restarts."""

from __future__ import annotations

import asyncio
import hashlib
import signal
import stat
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from fleet.inventory.loader import load_inventory
from fleet.sim.serve import READY_PREFIX, SimulatorProcess, parse_ready_line
from fleet.sim.tls import client_ssl_context

NEW_PASSPHRASE = "rotated-by-the-serve-test-0123456789abcdef"
START_TIMEOUT = 30


class Served:
    """One `fleet sim serve` process and what its ready line said."""

    def __init__(self, process: asyncio.subprocess.Process, ready: dict[str, str]) -> None:
        self.process, self.ready = process, ready

    @property
    def inventory(self) -> dict[str, Any]:
        return yaml.safe_load(Path(self.ready["inventory"]).read_text())

    def address(self, name: str) -> str:
        return next(c["address"] for c in self.inventory["clusters"] if c["name"] == name)

    def secret(self, name: str, suffix: str) -> str:
        return (Path(self.ready["inventory"]).parent / "secrets" / f"{name}{suffix}").read_text()

    async def stop(self, signum: int = signal.SIGTERM) -> int:
        self.process.send_signal(signum)
        return await asyncio.wait_for(self.process.wait(), 20)


Serve = Callable[..., Awaitable[Served]]


@pytest.fixture
async def serve(tmp_path: Path) -> AsyncIterator[Serve]:
    processes: list[asyncio.subprocess.Process] = []

    async def start(*args: str) -> Served:
        log = (tmp_path / f"serve-{len(processes)}.log").open("wb")
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "fleet.cli.sim_cmd", "serve", *args,
            stdout=asyncio.subprocess.PIPE, stderr=log, cwd=tmp_path,
        )  # fmt: skip
        log.close()
        processes.append(process)
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), START_TIMEOUT)
        ready = parse_ready_line(line.decode())
        assert ready is not None, f"no ready line: {line!r}; stderr: {(tmp_path / 'serve-0.log').read_text()}"
        return Served(process, ready)

    yield start
    for process in processes:
        if process.returncode is None:
            process.kill()
            await process.wait()


def https_client(served: Served) -> aiohttp.ClientSession:
    """A client trusting only the CA the ready line names (a restart reuses the same CA)."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=client_ssl_context(served.ready["ca"])))


ARGS = ("--clusters", "6", "--mcc-pairs", "1", "--seed", "3", "--inventory-out", "inv/sim.yml")


async def test_ready_line_says_where_everything_is(serve: Serve, tmp_path: Path) -> None:
    served = await serve(*ARGS)
    ready = served.ready
    assert ready["clusters"] == "6" and ready["scheme"] == "https" and ready["host"] == "127.0.0.1"
    assert ready["inventory"] == str(tmp_path / "inv" / "sim.yml")
    assert ready["ca"] == str(tmp_path / "inv" / "certs" / "ca.pem")
    assert int(ready["pid"]) == served.process.pid
    low, high = (int(port) for port in ready["ports"].split("-"))
    assert low <= high
    assert await served.stop() == 0
    said = " ".join(f"{k}={v}" for k, v in ready.items()) + (tmp_path / "serve-0.log").read_text()
    secrets = [path.read_text() for path in (tmp_path / "inv" / "secrets").iterdir()]
    assert secrets and not any(secret in said for secret in secrets)  # nothing secret on stdout or stderr


async def test_inventory_lists_every_cluster_with_secrets_as_references(serve: Serve, tmp_path: Path) -> None:
    served = await serve(*ARGS)
    inventory = served.inventory
    assert inventory["defaults"]["tls"] == {"verify": True, "ca_file": "certs/ca.pem"}
    assert inventory["defaults"]["password"] == "file:secrets/{cluster}.password"
    assert inventory["groups"]["onboard"]["vars"] == {"okm_passphrase": "file:secrets/{cluster}.okm"}
    clusters = {c["name"]: c for c in inventory["clusters"]}
    assert sorted(clusters) == [f"sim-000{i}" for i in range(1, 7)]
    assert clusters["sim-0001"]["metrocluster_partner"] == "sim-0002"
    assert clusters["sim-0002"]["metrocluster_partner"] == "sim-0001"
    assert {clusters["sim-0001"]["groups"][0], clusters["sim-0002"]["groups"][0]} == {"east", "west"}
    assert all(c["address"].startswith("127.0.0.1:") for c in clusters.values())
    assert all({"tier", "ontap", "key_manager"} <= set(c["labels"]) for c in clusters.values())
    secrets = tmp_path / "inv" / "secrets"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in secrets.iterdir())
    loaded = load_inventory(tmp_path / "inv" / "sim.yml")  # fleet's own loader accepts it
    assert loaded.partner("sim-0001").name == "sim-0002"  # type: ignore[union-attr]


async def test_plain_http_inventory_has_schemes_and_no_tls(serve: Serve, tmp_path: Path) -> None:
    served = await serve(*ARGS, "--http")
    assert served.ready["scheme"] == "http" and served.ready["ca"] == ""
    inventory = served.inventory
    assert "tls" not in inventory["defaults"]
    address = inventory["clusters"][0]["address"]
    assert address.startswith("http://127.0.0.1:")
    async with aiohttp.ClientSession() as client, client.get(f"{address}/_sim/fleet") as response:
        assert response.status == 200


async def test_faults_option_reaches_the_clusters(serve: Serve) -> None:
    served = await serve(*ARGS, "--faults", "auth=1")
    name = served.inventory["clusters"][0]["name"]
    auth = {"Authorization": aiohttp.encode_basic_auth("admin", served.secret(name, ".password"))}
    url = f"https://{served.address(name)}/api/cluster"
    async with https_client(served) as session, session.get(url, headers=auth) as response:
        assert response.status == 401  # the inventory's own credentials, refused


async def _rotate(session: aiohttp.ClientSession, served: Served, name: str) -> None:
    auth = {"Authorization": aiohttp.encode_basic_auth("admin", served.secret(name, ".password"))}
    base = f"https://{served.address(name)}/api/security/key-managers"
    async with session.get(base, headers=auth) as response:
        uuid = (await response.json())["records"][0]["uuid"]
    body = {"onboard": {"existing_passphrase": served.secret(name, ".okm"), "passphrase": NEW_PASSPHRASE}}
    async with session.patch(f"{base}/{uuid}", json=body, headers=auth) as response:
        assert response.status == 200, await response.text()


async def _truth(session: aiohttp.ClientSession, served: Served, name: str) -> dict[str, Any]:
    async with session.get(f"https://{served.address(name)}/_sim/fleet") as response:
        return next(c for c in (await response.json())["clusters"] if c["name"] == name)


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
async def test_state_survives_a_restart(serve: Serve, stop_signal: int) -> None:
    first = await serve(*ARGS, "--state", "state.json")
    address = first.address("sim-0003")
    async with https_client(first) as session:
        await _rotate(session, first, "sim-0003")
        assert await first.stop(stop_signal) == 0
        second = await serve("--inventory-out", "inv/sim.yml", "--state", "state.json")
        assert second.address("sim-0003") == address  # same port: the old inventory still works
        truth = await _truth(session, second, "sim-0003")
    assert truth["passphrase_fingerprint"] == hashlib.sha256(NEW_PASSPHRASE.encode()).hexdigest()
    assert truth["rotations"] == 1 and truth["mutations"] == 1
    assert second.secret("sim-0003", ".okm") == NEW_PASSPHRASE  # the secret files hold the current truth
    assert await second.stop() == 0


async def test_a_killed_simulator_keeps_what_was_saved(serve: Serve) -> None:
    first = await serve(*ARGS, "--state", "state.json")
    async with https_client(first) as session:
        await _rotate(session, first, "sim-0004")
        await asyncio.sleep(1.0)  # saves are debounced to one per half second
        await first.stop(signal.SIGKILL)
        second = await serve("--inventory-out", "inv/sim.yml", "--state", "state.json")
        truth = await _truth(session, second, "sim-0004")
    assert truth["passphrase_fingerprint"] == hashlib.sha256(NEW_PASSPHRASE.encode()).hexdigest()


async def test_same_seed_same_fleet(serve: Serve) -> None:
    first = await serve(*ARGS)
    okm = first.secret("sim-0005", ".okm")
    await first.stop()
    second = await serve(*ARGS)
    assert second.secret("sim-0005", ".okm") == okm
    await second.stop()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--clusters", "2", "--faults", "bogus=1"), "bogus"),
        (("--clusters", "2", "--mcc-pairs", "2"), "MetroCluster"),
        (("--faults", "none"), "--clusters"),
    ],
)
async def test_bad_input_exits_2_naming_the_problem(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fleet.cli.sim_cmd", "serve", "--inventory-out", "inv.yml", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=tmp_path,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(process.communicate(), START_TIMEOUT)
    assert process.returncode == 2
    assert message in stderr.decode() and stdout == b""
    assert not (tmp_path / "inv.yml").exists()


def test_simulator_process_returns_at_the_ready_line_and_stops_once(tmp_path: Path) -> None:
    sim = SimulatorProcess(["--clusters", "2", "--http", "--inventory-out", str(tmp_path / "inv.yml")])
    with sim:
        assert sim.ready_line.startswith(READY_PREFIX) and sim.ready["clusters"] == "2"
        process = sim.process
    assert sim.process is None and process is not None and process.returncode == 0
    sim.stop()  # idempotent
    with pytest.raises(RuntimeError, match="build a new one"):
        sim.start()
