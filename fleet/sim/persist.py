"""Save and reload the simulator's whole fleet, so a run killed half-way can resume after a restart.

The file is JSON: ``{"state_version", "saved_at", "fleet": {"clusters", "settings", "seed"}}``, written
atomically (temp file, fsync, rename) so a crash mid-save leaves the previous state intact. pydantic's
``TypeAdapter`` over the ``state`` dataclasses does the (de)serialisation in Rust.

Serialising must happen on the event loop (the state must not change under it) and holds the GIL, so a
thread would not help: 10,000 clusters take ~0.5 s. ``StateSaver`` therefore keeps each cluster's JSON
and re-serialises only the clusters a request touched (and their MetroCluster partners); the join and
the slow part, writing and fsync, run in a thread. It debounces: one save per burst of mutations.
Job times are ``time.monotonic`` seconds, which keep counting across process restarts (not reboots).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import Mapping
from pathlib import Path

from aiohttp import web
from pydantic import BaseModel, TypeAdapter, ValidationError

from fleet.atomic import write_atomically
from fleet.errors import InputError
from fleet.sim.http import CLUSTER, Handler
from fleet.sim.state import STATE_VERSION, Cluster, Fleet, SimSettings

_HEADER = re.compile(rb'\{"state_version": (\d+)[,}]')
_CLUSTER = TypeAdapter(Cluster)
_SETTINGS = TypeAdapter(SimSettings)
_READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class _StateFile(BaseModel):
    state_version: int
    saved_at: float
    fleet: Fleet


def dump_cluster(cluster: Cluster) -> bytes:
    return _CLUSTER.dump_json(cluster)


def dump_fleet(fleet: Fleet, pieces: Mapping[str, bytes] | None = None) -> list[bytes]:
    """The state file's content as chunks; ``pieces`` holds already-serialised clusters by name."""
    header = json.dumps({"state_version": STATE_VERSION, "saved_at": time.time()})
    chunks = [header[:-1].encode(), b', "fleet": {"clusters": {']
    for index, (name, cluster) in enumerate(fleet.clusters.items()):
        piece = pieces[name] if pieces is not None else dump_cluster(cluster)
        chunks += [b"," if index else b"", json.dumps(name).encode(), b": ", piece]
    settings = _SETTINGS.dump_json(fleet.settings)
    chunks += [b'}, "settings": ', settings, f', "seed": {fleet.seed}}}}}\n'.encode()]
    return chunks


def save_fleet(fleet: Fleet, path: Path | str) -> None:
    """Write the whole fleet to ``path`` atomically."""
    write_atomically(Path(path), dump_fleet(fleet), mode=0o600)


def load_fleet(path: Path | str) -> Fleet:
    """Read a state file back; a missing, foreign or other-version file is an ``InputError``."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read simulator state: {exc.strerror}", file=str(path)) from exc
    version = _state_version(data)
    if version != STATE_VERSION:
        raise InputError(
            f"simulator state version {version!r} is not the supported version {STATE_VERSION}; "
            "delete the file to start a fresh fleet",
            file=str(path),
            field="state_version",
        )
    try:
        fleet = _StateFile.model_validate_json(data).fleet
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InputError(f"invalid simulator state: {first['msg']}", file=str(path), field=where) from exc
    for cluster in fleet.clusters.values():
        # requests in flight when the file was written died with the old process
        cluster.counters.inflight = 0
        cluster.counters.mutations_inflight = 0
    return fleet


def _state_version(data: bytes) -> object:
    """The file's ``state_version``, read from the header we write first (full parse only for others)."""
    header = _HEADER.match(data)
    if header is not None:
        return int(header.group(1))
    try:
        document = json.loads(data)
    except ValueError:
        return "unreadable (not JSON)"
    return document.get("state_version") if isinstance(document, dict) else None


class StateSaver:
    """Saves the fleet after mutations, at most once per ``interval`` seconds, and once more at close.

    ``middleware`` marks the request's cluster (and its MetroCluster partner) dirty after every
    non-read request, and after any request while the cluster has an unfinished job; a non-read
    ``/_sim/`` request marks every cluster. ``mark_dirty()`` does it for
    anything else. The final save at close re-serialises everything, so nothing untracked is lost on a
    clean shutdown. Use ``async with StateSaver(...)``.
    """

    def __init__(self, fleet: Fleet, path: Path | str, *, interval: float = 0.5) -> None:
        self.fleet = fleet
        self.path = Path(path)
        self.interval = interval
        self.saves = 0
        self.last_save_seconds = 0.0  # time the event loop spent serialising, for the benchmark
        self._pieces: dict[str, bytes] = {}
        self._dirty_names: set[str] = set()
        self._all_dirty = True
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._writing = False

    async def __aenter__(self) -> StateSaver:
        if self._closed or self._task is not None:
            raise RuntimeError("StateSaver cannot be reopened")
        self._task = asyncio.create_task(self._run(), name="fleet-sim-state-saver")
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    def mark_dirty(self, cluster: Cluster | None = None) -> None:
        """Schedule a save that re-serialises ``cluster`` and its partner (None: every cluster)."""
        if cluster is None:
            self._all_dirty = True
        else:
            self._dirty_names.add(cluster.name)
            partner = self.fleet.partner_of(cluster)
            if partner is not None:
                self._dirty_names.add(partner.name)
        self._wakeup.set()

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        finally:
            cluster: Cluster | None = request.get(CLUSTER)
            if request.method not in _READ_ONLY_METHODS:
                self.mark_dirty(None if request.path.startswith("/_sim/") else cluster)
            elif cluster is not None and any(job.end_time is None for job in cluster.jobs.values()):
                self.mark_dirty(cluster)  # any request lets due jobs finish, and a finished job changes state

    async def save_now(self, *, full: bool = False) -> None:
        """Serialise what changed on the loop (a consistent snapshot); join and write in a thread."""
        started = time.perf_counter()
        clusters = self.fleet.clusters
        if full or self._all_dirty or self._pieces.keys() != clusters.keys():
            self._pieces = {name: dump_cluster(cluster) for name, cluster in clusters.items()}
        else:
            for name in self._dirty_names:
                self._pieces[name] = dump_cluster(clusters[name])
        self._all_dirty = False
        self._dirty_names.clear()
        chunks = dump_fleet(self.fleet, self._pieces)
        self.last_save_seconds = time.perf_counter() - started
        self._writing = True
        try:
            await asyncio.to_thread(write_atomically, self.path, chunks, mode=0o600)
        finally:
            self._writing = False
        self.saves += 1

    async def close(self) -> None:
        """Stop the background loop and write the complete final state (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self._task is not None:
            # Cancelling mid-write would leave the thread renaming an older snapshot over the final one.
            if not self._writing:
                self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.save_now(full=True)

    async def _run(self) -> None:
        while not self._closed:
            await self._wakeup.wait()
            self._wakeup.clear()
            await self.save_now()
            if not self._closed:
                await asyncio.sleep(self.interval)
