"""Turn a run request (inventory, selection, secret references) into a validated RunPlan."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from fleet.engine.run import RunPlan
from fleet.engine.steps.context import ClusterSecrets, RunOptions
from fleet.errors import InputError
from fleet.inventory import Cluster, load_any
from fleet.journal import Journal
from fleet.ontap import HttpSettings
from fleet.secrets import Secret, SecretRequest, SecretResolver, check_passphrase, check_rotation_pair
from fleet.secrets.generate import generate_passphrase
from fleet.secrets.store import SecretStore, open_store


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


# --- fleet/engine/inputs.py: Resolve and check every secret a run needs, before any cluster is contacted.

FinishedCheck = Callable[[str, Secret], Awaitable[bool]]
PASSPHRASE_VAR = "okm_passphrase"
GENERATE = "generate"
_TRUE = frozenset({"true", "yes", "1", "on"})


def declared_cc_mode(cluster: Cluster) -> bool:
    """Common Criteria mode as the inventory declares it (label or var ``cc_mode``): 64+ characters."""
    value = cluster.labels.get("cc_mode") or cluster.vars.get("cc_mode") or ""
    return value.lower() in _TRUE


def _password_request(cluster: Cluster) -> SecretRequest:
    return SecretRequest(
        cluster.password, cluster.name, "password", base_dir=cluster.source.parent, source=cluster.source
    )


def _passphrase_request(cluster: Cluster, cli_ref: str | None, option: str) -> SecretRequest:
    if cli_ref:
        return SecretRequest(cli_ref, cluster.name, option, base_dir=Path.cwd())
    ref = cluster.vars.get(PASSPHRASE_VAR)
    if not ref:
        raise InputError(
            f"cluster {cluster.name}: no current passphrase: give {option} or set vars.{PASSPHRASE_VAR}",
            file=str(cluster.source),
            field=f"vars.{PASSPHRASE_VAR}",
        )
    return SecretRequest(ref, cluster.name, f"vars.{PASSPHRASE_VAR}", cluster.source.parent, cluster.source)


async def resolve_passwords(clusters: Sequence[Cluster], resolver: SecretResolver) -> list[Secret]:
    return await resolver.resolve_many(_password_request(cluster) for cluster in clusters)


def has_passphrase_source(cluster: Cluster, cli_ref: str | None) -> bool:
    """Does the run know where this cluster's passphrase comes from (CLI option or inventory var)?"""
    return bool(cli_ref) or bool(cluster.vars.get(PASSPHRASE_VAR))


async def rotation_secrets(
    clusters: Sequence[Cluster],
    *,
    current_ref: str | None,
    new_ref: str,
    resolver: SecretResolver,
    store: SecretStore | None = None,
    finished: FinishedCheck | None = None,
) -> dict[str, ClusterSecrets]:
    """Passwords, current and new passphrases for every cluster, checked as ONTAP would check them.

    With ``--new generate`` the secret store is the source of truth: its ``current`` (what fleet
    last verified) replaces the inventory's reference, and a ``pending`` left by an interrupted run
    is reused, never replaced: that cluster may already have it. ``finished(name, current)`` says
    whether the run being resumed already verified that stored passphrase: then it is re-proven,
    never rotated again.

    A cluster with no passphrase reference at all (no ``--current``, no ``vars.okm_passphrase``)
    gets no passphrases: the engine reports it ``skipped`` without contacting it.
    """
    passwords = await resolve_passwords(clusters, resolver)
    known = [cluster for cluster in clusters if has_passphrase_source(cluster, current_ref)]
    currents = await resolver.resolve_many(
        _passphrase_request(cluster, current_ref, "--current") for cluster in known
    )
    if new_ref == GENERATE:
        if store is None:
            raise InputError("--new generate needs --store DIR|cmd:...", field="--store")
        currents, news = await _from_store(known, currents, store, finished or (lambda _name, _secret: False))
    else:
        news = await resolver.resolve_many(
            SecretRequest(new_ref, cluster.name, "--new", base_dir=Path.cwd()) for cluster in known
        )
    by_name = {cluster.name: index for index, cluster in enumerate(known)}
    for cluster, current, new in zip(known, currents, news, strict=True):
        cc_mode = declared_cc_mode(cluster)
        problem = check_passphrase(new, cc_mode=cc_mode)
        if new_ref != GENERATE:  # a stored pending equal to current is a finished change, resumed
            problem = problem or check_rotation_pair(current, new)
        if problem:
            raise InputError(f"cluster {cluster.name}: new passphrase: {problem}", field="--new")
        partner = by_name.get(cluster.metrocluster_partner or "")
        if partner is not None and news[partner] != new:
            raise InputError(
                f"MetroCluster pair {cluster.name}/{cluster.metrocluster_partner}: both sites need the same "
                "new passphrase (the --new reference resolves differently for the two sites)",
                field="--new",
            )
    secrets = {
        cluster.name: ClusterSecrets(password=password)
        for cluster, password in zip(clusters, passwords, strict=True)
    }
    for cluster, current, new in zip(known, currents, news, strict=True):
        secrets[cluster.name] = ClusterSecrets(
            password=secrets[cluster.name].password, current=current, new=new
        )
    return secrets


async def _from_store(
    clusters: Sequence[Cluster], currents: list[Secret], store: SecretStore, finished: FinishedCheck
) -> tuple[list[Secret], list[Secret]]:
    """Current and new passphrases for generate mode; both sites of a pair share one new passphrase."""
    chosen: dict[str, Secret] = {}
    carried: set[str] = set()  # pending or finished by the resumed run: must not be replaced
    new_currents: list[Secret] = []
    for cluster, current in zip(clusters, currents, strict=True):
        stored = await store.get(cluster.name, "current")
        new_currents.append(stored or current)
        pending = await store.get(cluster.name, "pending")
        if pending is None and stored is not None and await finished(cluster.name, stored):
            pending = stored
        if pending is not None:
            chosen[cluster.name] = pending
            carried.add(cluster.name)
    for cluster in clusters:
        if cluster.name in chosen:
            continue
        partner = cluster.metrocluster_partner or ""
        chosen[cluster.name] = chosen.get(partner) or generate_passphrase()
    for cluster in clusters:  # a pair's carried passphrase on either site wins for both
        partner = cluster.metrocluster_partner or ""
        if partner in carried and cluster.name not in carried:
            chosen[cluster.name] = chosen[partner]
    return new_currents, [chosen[cluster.name] for cluster in clusters]


async def sync_secrets(
    clusters: Sequence[Cluster], *, passphrase_ref: str | None, resolver: SecretResolver
) -> dict[str, ClusterSecrets]:
    """Passwords and the passphrase each cluster is synced with (``current`` in ClusterSecrets)."""
    passwords = await resolve_passwords(clusters, resolver)
    known = [cluster for cluster in clusters if has_passphrase_source(cluster, passphrase_ref)]
    passphrases = await resolver.resolve_many(
        _passphrase_request(cluster, passphrase_ref, "--passphrase") for cluster in known
    )
    for cluster, passphrase in zip(known, passphrases, strict=True):
        problem = check_passphrase(passphrase, cc_mode=declared_cc_mode(cluster))
        if problem:
            raise InputError(f"cluster {cluster.name}: passphrase: {problem}", field="--passphrase")
    by_cluster = dict(zip((cluster.name for cluster in known), passphrases, strict=True))
    return {
        cluster.name: ClusterSecrets(password=password, current=by_cluster.get(cluster.name))
        for cluster, password in zip(clusters, passwords, strict=True)
    }
