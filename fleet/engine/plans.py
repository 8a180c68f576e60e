"""Turn a run request (inventory, selection, secret references) into a validated RunPlan."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fleet.engine.context import ClusterSecrets, RunOptions
from fleet.engine.inputs import GENERATE, resolve_passwords, rotation_secrets, sync_secrets
from fleet.engine.run import RunPlan
from fleet.errors import InputError
from fleet.inventory import Cluster, load_any
from fleet.journal import Journal
from fleet.ontap import HttpSettings
from fleet.secrets import Secret, SecretResolver
from fleet.secrets.store import open_store


async def build_rotation_plan(
    journal: Journal,
    *,
    inventory_path: Path,
    limit: str | None,
    current_ref: str | None,
    new_ref: str,
    store_spec: str | None,
    options: RunOptions,
    http: HttpSettings,
    report_options: dict[str, Any],
    only: set[str] | None = None,
    resumed_runs: frozenset[str] = frozenset(),
) -> RunPlan:
    """Everything checked before the first request: inventory, selection, secrets, passphrase rules.

    ``only`` narrows the selection to these clusters (``fleet resume``: the units left to do);
    ``resumed_runs`` are the runs being continued: a passphrase one of them verified is re-proven,
    never replaced by a fresh one.
    """
    if new_ref == GENERATE and not store_spec:
        raise InputError(
            "--new generate needs --store DIR|cmd:... to keep the generated passphrases", field="--store"
        )
    store = open_store(store_spec) if store_spec else None
    inventory = load_any(inventory_path)
    clusters = narrow(inventory.select(limit), only)

    async def finished(cluster: str, stored: Secret) -> bool:
        state = await journal.cluster_state(cluster)
        return (
            state is not None
            and state.run_id in resumed_runs
            and state.current_fp == journal.fingerprint(stored)
        )

    secrets = await rotation_secrets(
        clusters,
        current_ref=current_ref,
        new_ref=new_ref,
        resolver=SecretResolver(),
        store=store,
        finished=finished,
    )
    return RunPlan(
        kind="rotate",
        inventory=inventory,
        clusters=clusters,
        secrets=secrets,
        options=options,
        http=http,
        journal=journal,
        report_options=report_options,
        store=store,
    )


async def build_sync_plan(
    journal: Journal,
    *,
    inventory_path: Path,
    limit: str | None,
    passphrase_ref: str | None,
    options: RunOptions,
    http: HttpSettings,
    report_options: dict[str, Any],
    only: set[str] | None = None,
) -> RunPlan:
    """A sync needs each cluster's password and the passphrase to sync with (checked, not tried)."""
    inventory = load_any(inventory_path)
    clusters = narrow(inventory.select(limit), only)
    secrets = await sync_secrets(clusters, passphrase_ref=passphrase_ref, resolver=SecretResolver())
    return RunPlan(
        kind="sync",
        inventory=inventory,
        clusters=clusters,
        secrets=secrets,
        options=options,
        http=http,
        journal=journal,
        report_options=report_options,
    )


def narrow(clusters: list[Cluster], only: set[str] | None) -> list[Cluster]:
    """Keep the clusters named in ``only`` (all when None), in inventory order."""
    return clusters if only is None else [cluster for cluster in clusters if cluster.name in only]


async def build_policy_plan(
    journal: Journal,
    *,
    kind: str,
    inventory_path: Path,
    limit: str | None,
    passphrase_ref: str | None,
    with_passphrases: bool,
    options: RunOptions,
    http: HttpSettings,
    report_options: dict[str, Any],
) -> RunPlan:
    """plan, apply, sweep: passwords always; passphrases only when a sync or a probe may need them."""
    inventory = load_any(inventory_path)
    clusters = inventory.select(limit)
    resolver = SecretResolver()
    if with_passphrases:
        secrets = await sync_secrets(clusters, passphrase_ref=passphrase_ref, resolver=resolver)
    else:
        passwords = await resolve_passwords(clusters, resolver)
        secrets = {c.name: ClusterSecrets(password=p) for c, p in zip(clusters, passwords, strict=True)}
    return RunPlan(
        kind=kind,
        inventory=inventory,
        clusters=clusters,
        secrets=secrets,
        options=options,
        http=http,
        journal=journal,
        report_options=report_options,
    )


def http_settings(
    concurrency: int, per_cluster: int, request_timeout: float, cluster_deadline: float | None, insecure: bool
) -> HttpSettings:
    """Connection caps follow unit concurrency: every unit in flight may hold its per-cluster cap."""
    return HttpSettings(
        concurrency=max(concurrency, 8) * per_cluster,
        per_cluster=per_cluster,
        request_timeout=request_timeout,
        cluster_deadline=cluster_deadline,
        insecure=insecure,
    )
