"""The simulator as a child process, and the truth it knows after a tool has run.

Every benchmarked tool reports its own success; the simulator's ``/_sim/`` introspection (no auth, not
ONTAP) says what really happened: which passphrase each cluster holds (as a fingerprint), whether a
MetroCluster site still waits for its partner sync, and how many requests each cluster answered.
"""

from __future__ import annotations

import hashlib
import json
import ssl
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import psutil

from fleet.sim.serve import SimulatorProcess

READY_TIMEOUT_S = 600.0


@dataclass(frozen=True, slots=True)
class SimOptions:
    clusters: int
    latency_ms: float
    seed: int = 1
    svms: int = 0  # data SVMs per cluster (fleet sim serve --svms)

    @property
    def mcc_pairs(self) -> int:
        """10% of the clusters in MetroCluster pairs, as issue 8 asks."""
        return self.clusters // 20


@dataclass(frozen=True, slots=True)
class Truth:
    """What the simulator says after a run; rotation counts compare fingerprints, never passphrases."""

    clusters: int
    onboard: int  # clusters with an Onboard Key Manager: what a rotation should reach
    rotated: int  # onboard clusters now holding the new passphrase, none left waiting for a partner sync
    pending_partner_sync: int
    locked: int
    requests: int  # ONTAP API requests the simulator answered (``/_sim/`` excluded)
    mutations: int
    wrong_passphrase_attempts: int

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__slots__}


class SimProcess:
    """The benchmark's simulator: a ``SimulatorProcess`` sized by ``SimOptions``, and the truth it tells;
    a context manager so it never outlives the benchmark."""

    def __init__(self, options: SimOptions, workdir: Path) -> None:
        self.options = options
        self.workdir = workdir
        self.inventory = workdir / "inventory.yml"
        self.ca = workdir / "tls" / "ca.pem"
        self.first_address = ""
        o = options
        args = [
            "--clusters", str(o.clusters), "--mcc-pairs", str(o.mcc_pairs), "--seed", str(o.seed),
            "--latency-ms", str(o.latency_ms), "--inventory-out", str(self.inventory),
            "--secrets-dir", str(workdir / "secrets"), "--tls-dir", str(workdir / "tls"),
            "--svms", str(o.svms),
        ]  # fmt: skip
        self._sim = SimulatorProcess(args, timeout=READY_TIMEOUT_S, stop_timeout=60.0)

    def __enter__(self) -> SimProcess:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        self._sim.start()
        ready = self._sim.ready
        self.ca = Path(ready["ca"])
        self.first_address = f"{ready['host']}:{ready['ports'].split('-')[0]}"

    def cpu_seconds(self) -> float:
        """The simulator's own CPU so far: how hard a tool made the server work."""
        assert self._sim.process is not None
        times = psutil.Process(self._sim.process.pid).cpu_times()
        return times.user + times.system

    def stop(self) -> None:
        """Idempotent: SIGTERM (the simulator exits cleanly), SIGKILL if it hangs."""
        self._sim.stop()

    def fleet_summary(self) -> list[dict[str, Any]]:
        """``GET /_sim/fleet`` on any cluster port: one app serves them all, so one call sees all."""
        context = ssl.create_default_context(cafile=str(self.ca))
        url = f"https://{self.first_address}/_sim/fleet"
        with urllib.request.urlopen(url, context=context, timeout=120) as response:
            return json.loads(response.read())["clusters"]

    def truth(self, new_passphrase: str | None) -> Truth:
        new_fp = hashlib.sha256(new_passphrase.encode()).hexdigest() if new_passphrase is not None else None
        clusters = self.fleet_summary()
        onboard = [c for c in clusters if c["key_manager"] == "onboard"]
        return Truth(
            clusters=len(clusters),
            onboard=len(onboard),
            rotated=sum(
                c["passphrase_fingerprint"] == new_fp and not c["pending_partner_sync"] for c in onboard
            ),
            pending_partner_sync=sum(c["pending_partner_sync"] for c in clusters),
            locked=sum(bool(c["locked"]) for c in clusters),
            requests=sum(c["requests"] for c in clusters),
            mutations=sum(c["mutations"] for c in clusters),
            wrong_passphrase_attempts=sum(c["wrong_passphrase_attempts"] for c in clusters),
        )
