"""Peer: a competent admin's rotation script on NetApp's ``netapp-ontap`` library and a thread pool.

What such a script does, per unit, in ``--workers`` threads: read the key manager
(``GET /api/security/key-managers?scope=cluster``); skip a cluster without an enabled Onboard Key
Manager; PATCH ``onboard.existing_passphrase``/``onboard.passphrase``; check (re-read ``status``).
A MetroCluster pair (inventory ``metrocluster_partner``) is one unit, as ONTAP's docs ask
(ontap-notes §4.1): rotate site A (the lower name), then PATCH ``onboard.synchronize=true`` on the
partner with ``existing_passphrase`` = the NEW passphrase, never both at once; B is not touched when A
failed. TLS is verified against the simulator's CA. netapp-ontap does every HTTP request; a response
hook counts them. The last stdout line is one JSON summary; passphrases are never printed.

    python -m bench.peer_netapp --inventory inv.yml --new-file new.okm --workers 32
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netapp_ontap import HostConnection
from netapp_ontap.error import NetAppRestError
from netapp_ontap.resources import SecurityKeyManager

from bench.sim_inventory import Target, load_targets, units

HEALTHY_CODES = frozenset({0, 65537200})  # 65537200: "No action needed at this time."
MAX_REASONS = 10


@dataclass(frozen=True, slots=True)
class SiteResult:
    name: str
    outcome: str  # rotated | synced | skipped | failed
    reason: str = ""


class RequestCounter:
    """Counts responses across threads via a requests hook (retries inside urllib3 are not seen)."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def hook(self, response: Any, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            self.count += 1
        return response


def trust_ca(ca_file: Path | None) -> None:
    """Make requests verify with the inventory's CA. Passing the path as ``HostConnection(verify=...)``
    is not enough: requests lets ``REQUESTS_CA_BUNDLE`` from the environment override ``Session.verify``."""
    if ca_file is not None:
        os.environ["REQUESTS_CA_BUNDLE"] = str(ca_file)


def connect(target: Target, counter: RequestCounter) -> HostConnection:
    verify: Any = str(target.ca_file) if target.ca_file else True  # a CA path works: requests takes it
    connection = HostConnection(
        target.host, username=target.username, password=target.password(), verify=verify, port=target.port
    )
    connection.session.hooks["response"].append(counter.hook)
    return connection


def read_onboard(connection: HostConnection) -> SecurityKeyManager | None:
    """The cluster-scope key manager when it is an enabled Onboard Key Manager, else None."""
    records = list(
        SecurityKeyManager.get_collection(
            connection=connection, scope="cluster", fields="uuid,onboard.enabled,status.code,status.message"
        )
    )
    if len(records) != 1:
        return None
    record = records[0]
    onboard = getattr(record, "onboard", None)
    return record if onboard is not None and getattr(onboard, "enabled", False) else None


def patch_onboard(connection: HostConnection, uuid: str, onboard: dict[str, Any]) -> None:
    manager = SecurityKeyManager(uuid=uuid)
    manager.set_connection(connection)
    manager.onboard = onboard
    manager.patch(poll=True)


def healthy(connection: HostConnection, uuid: str) -> tuple[bool, str]:
    manager = SecurityKeyManager(uuid=uuid)
    manager.set_connection(connection)
    manager.get(fields="status.code,status.message")
    code, message = int(manager.status.code), str(manager.status.message)
    return code in HEALTHY_CODES, f"status {code}: {message}"


def rotate_standalone(target: Target, new: str, counter: RequestCounter) -> list[SiteResult]:
    connection = connect(target, counter)
    manager = read_onboard(connection)
    if manager is None:
        return [SiteResult(target.name, "skipped", "no onboard key manager")]
    patch_onboard(
        connection, manager.uuid, {"existing_passphrase": target.okm_passphrase(), "passphrase": new}
    )
    ok, status = healthy(connection, manager.uuid)
    return [SiteResult(target.name, "rotated" if ok else "failed", "" if ok else f"after PATCH: {status}")]


def rotate_pair(a: Target, b: Target, new: str, counter: RequestCounter) -> list[SiteResult]:
    """Read both sites first: a careful admin changes nothing unless both are on OKM and healthy."""
    conn_a, conn_b = connect(a, counter), connect(b, counter)
    km_a, km_b = read_onboard(conn_a), read_onboard(conn_b)
    if km_a is None or km_b is None:
        return [SiteResult(t.name, "skipped", "pair not on onboard key management") for t in (a, b)]
    for target, manager in ((a, km_a), (b, km_b)):
        if int(manager.status.code) not in HEALTHY_CODES:
            return [
                SiteResult(t.name, "skipped", f"{target.name} not healthy; nothing changed") for t in (a, b)
            ]
    patch_onboard(conn_a, km_a.uuid, {"existing_passphrase": a.okm_passphrase(), "passphrase": new})
    try:
        patch_onboard(conn_b, km_b.uuid, {"synchronize": True, "existing_passphrase": new})
    except NetAppRestError as exc:
        return [SiteResult(a.name, "rotated"), SiteResult(b.name, "failed", f"partner sync: {exc}")]
    results = []
    for target, manager, done in ((a, km_a, "rotated"), (b, km_b, "synced")):
        ok, status = healthy(conn_a if target is a else conn_b, manager.uuid)
        results.append(SiteResult(target.name, done if ok else "failed", "" if ok else status))
    return results


def run_unit(unit: tuple[Target, ...], new: str, counter: RequestCounter) -> list[SiteResult]:
    """One broken cluster never stops the rest: any exception becomes failed results for the unit."""
    try:
        if len(unit) == 2:
            return rotate_pair(unit[0], unit[1], new, counter)
        return rotate_standalone(unit[0], new, counter)
    except Exception as exc:  # the error becomes data, as an admin's script would log it
        reason = f"{type(exc).__name__}: {exc}"[:300]
        return [SiteResult(target.name, "failed", reason) for target in unit]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inventory", type=Path, required=True)
    parser.add_argument("--new-file", type=Path, required=True, help="File holding the new passphrase.")
    parser.add_argument("--workers", type=int, default=32)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    new = args.new_file.read_text().strip()
    targets = load_targets(args.inventory)
    trust_ca(targets[0].ca_file if targets else None)
    todo = units(targets)
    counter = RequestCounter()
    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        results = [site for unit_results in pool.map(lambda u: run_unit(u, new, counter), todo)
                   for site in unit_results]  # fmt: skip
    counts = {
        name: sum(r.outcome == name for r in results) for name in ("rotated", "synced", "skipped", "failed")
    }
    summary = {
        "tool": "netapp-ontap",
        "workers": args.workers,
        "clusters": len(results),
        **counts,
        "requests": counter.count,
        "wall_s": round(time.perf_counter() - started, 3),
        "failures": [f"{r.name}: {r.reason}" for r in results if r.outcome == "failed"][:MAX_REASONS],
    }
    print(json.dumps(summary), flush=True)
    return 0 if counts["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
