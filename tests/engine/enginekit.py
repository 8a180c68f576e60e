"""Run fleet's engine in-process against a simulated fleet: the same code path as the CLI."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Middleware

from fleet.engine.plans import build_plan
from fleet.engine.run import execute
from fleet.engine.spec import RunSpec
from fleet.engine.steps.sync import sync_work
from fleet.engine.work import rotate_work
from fleet.journal import Journal
from fleet.ontap import HttpSettings
from fleet.outcomes import RunKind
from fleet.report import Report
from fleet.sim.http import CLUSTER

NEW_PASSPHRASE = "N3w-fleet-passphrase/" + "x7" * 25 + "!Z"  # 73 chars: CC mode accepts it too
FAST_HTTP = HttpSettings(
    concurrency=256,
    per_cluster=2,
    request_timeout=5.0,
    backoff_base=0.01,
    backoff_max=0.2,
    job_poll_initial=0.05,
    job_poll_max=0.2,
)


@dataclass
class Runner:
    """Runs rotations and syncs with one journal, the way an admin reruns fleet on one machine."""

    workdir: Path
    journal: Journal

    def secret_file(self, name: str, value: str) -> str:
        path = self.workdir / name
        path.write_text(value)
        path.chmod(0o600)
        return f"file:{path}"

    async def rotate(
        self,
        inventory: Path,
        *,
        new_ref: str | None = None,
        current_ref: str | None = None,
        limit: str | None = None,
        store: str | None = None,
        remediate: bool = True,
        concurrency: int = 64,
        http: HttpSettings = FAST_HTTP,
        first_site: str | None = None,
        cluster_deadline: float | None = None,
        allow_attempt: bool = False,
    ) -> Report:
        spec = RunSpec.create(
            kind=RunKind.ROTATE,
            workdir=self.workdir,
            inventory=inventory,
            new=new_ref or self.secret_file("new.okm", NEW_PASSPHRASE),
            current=current_ref,
            limit=limit,
            store=store,
            remediate=remediate,
            concurrency=concurrency,
            backup_dir=self.workdir / "backups",
            first_site=first_site,
            cluster_deadline=cluster_deadline,
            allow_attempt=allow_attempt,
        )
        plan = await build_plan(spec, self.journal, http=http)
        return (await execute(plan, rotate_work)).report

    async def sync(self, inventory: Path, *, passphrase_ref: str | None, limit: str | None = None) -> Report:
        spec = RunSpec.create(
            kind=RunKind.SYNC,
            workdir=self.workdir,
            inventory=inventory,
            passphrase=passphrase_ref,
            limit=limit,
            concurrency=16,
        )
        plan = await build_plan(spec, self.journal, http=FAST_HTTP)
        return (await execute(plan, sync_work)).report


def by_name(report: Report) -> dict:
    return {record.name: record for record in report.clusters}


@dataclass
class Gate:
    """A middleware holding every request to one cluster until the test opens it.

    A run that reaches ``cluster`` stays under way there, holding its lease, for as long as the test
    needs (``reached`` says it got there): overlapping runs without a race against the clock.
    """

    cluster: str
    reached: asyncio.Event = field(default_factory=asyncio.Event)
    opened: asyncio.Event = field(default_factory=asyncio.Event)

    def middleware(self) -> Middleware:
        @web.middleware
        async def hold(request, handler):
            cluster = request.get(CLUSTER)
            if cluster is not None and cluster.name == self.cluster:
                self.reached.set()
                await self.opened.wait()
            return await handler(request)

        return hold
