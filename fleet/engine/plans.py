"""Turn a RunSpec into a validated RunPlan: inventory, selection, secrets, passphrase rules.

Everything here happens before the first request: a mistake is an ``InputError`` (exit 2) and no
cluster has been contacted. CLI secret references resolve against the spec's ``workdir``; the
inventory's own references against the inventory's folder.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import structlog

from fleet.engine.rollout.settings import Rollout
from fleet.engine.rollout.units import Unit
from fleet.engine.spec import GENERATE, RunSpec
from fleet.engine.steps.checks import check_backup_dir
from fleet.engine.steps.context import ClusterSecrets
from fleet.errors import InputError
from fleet.inventory import Cluster, Inventory, check_cleartext, load_any, warn_cleartext
from fleet.journal import Journal
from fleet.ontap import HttpSettings
from fleet.ontap.trust import ca_file_problem
from fleet.outcomes import RunKind
from fleet.secrets import Secret, SecretRequest, SecretResolver, check_passphrase, check_rotation_pair
from fleet.secrets.generate import DEFAULT_CHARSET, generate_passphrase
from fleet.secrets.store import SecretStore, open_store

log = structlog.get_logger("fleet.plans")


@dataclass(slots=True)
class RunPlan:
    """Everything a run needs, validated: the spec, which clusters, their secrets, and how to run."""

    spec: RunSpec
    inventory: Inventory
    clusters: list[Cluster]
    secrets: dict[str, ClusterSecrets]
    rollout: Rollout
    http: HttpSettings
    journal: Journal
    store: SecretStore | None = None
    planned_at: datetime = field(default_factory=lambda: datetime.now(UTC))  # when secrets were read
    # rotations under way at some moment since ``planned_at`` (read before any passphrase): whatever
    # they rotate, before or after that moment, this run does not rotate again
    under_way: frozenset[str] = frozenset()
    units: list[Unit] | None = None  # default: build_units(clusters)
    wave_of: dict[str, int] | None = None  # unit id → wave (a resumed run keeps its first night's waves)


async def _a_millisecond_of_its_own() -> datetime:
    """Now, once the clock has left the millisecond this plan began in.

    The journal keeps milliseconds: a run that finished in the millisecond a rotation planned is
    counted as under way alongside it (it may have promoted a passphrase after the store was read).
    A run that finished before this plan began must not be: a rerun right after a run, in-process
    or scripted, would skip every cluster the other rotated. At most a millisecond's wait.
    """
    began = datetime.now(UTC)
    await asyncio.sleep((1000 - began.microsecond % 1000 + 100) / 1e6)  # 0.1 ms past the next tick
    return datetime.now(UTC)


async def build_plan(
    spec: RunSpec,
    journal: Journal,
    *,
    rollout: Rollout | None = None,
    http: HttpSettings | None = None,
    only: set[str] | None = None,
    resumed_runs: frozenset[str] = frozenset(),
) -> RunPlan:
    """Check everything the spec names, before the first request.

    ``rollout`` and ``http`` default to the spec's (a caller passes its own to add an operator
    prompt, a test clock or faster retries). ``only`` narrows the selection to these clusters
    (``fleet resume``: the units left to do); ``resumed_runs`` are the runs being continued: a
    passphrase one of them verified is re-proven, never replaced by a fresh one.
    """
    planned_at = await _a_millisecond_of_its_own()
    store: SecretStore | None = None
    under_way: frozenset[str] = frozenset()
    if spec.kind == RunKind.ROTATE:
        # Before the store is read: a rotation that promoted a passphrase before this run read it is
        # still another run's, not a new starting point (the runs being resumed are this change itself).
        under_way = await journal.runs_under_way(RunKind.ROTATE, since=planned_at) - resumed_runs
        if spec.new is None:
            raise InputError("a rotation needs --new REFERENCE or --new generate", field="--new")
        if spec.generated and not spec.store:
            raise InputError(
                "--new generate needs --store DIR|cmd:... to keep the generated passphrases", field="--store"
            )
        store = open_store(spec.store) if spec.store else None
    inventory = load_any(spec.inventory, password=spec.import_password, overlay=spec.overlay)
    clusters = narrow(inventory.select(spec.limit), only)
    plain = check_cleartext(clusters, allow_http=spec.allow_http)
    names = [cluster.name for cluster in clusters]
    if store is not None:
        await store.check(names)
    if spec.backup_dir is not None:
        await asyncio.to_thread(check_backup_dir, spec.backup_dir, names)
    http = http if http is not None else spec.http()
    check_ca_files(clusters, insecure=http.insecure)
    resolver = SecretResolver()
    if spec.kind == RunKind.ROTATE:
        assert spec.new is not None

        async def finished(cluster: str, stored: Secret) -> bool:
            state = await journal.cluster_state(cluster)
            return (
                state is not None
                and state.run_id in resumed_runs
                and state.current_fp == journal.fingerprint(stored)
            )

        secrets = await rotation_secrets(
            clusters,
            current_ref=spec.current,
            new_ref=spec.new,
            resolver=resolver,
            workdir=spec.workdir,
            store=store,
            finished=finished,
            charset=spec.charset,
        )
    elif spec.kind == RunKind.SYNC or spec.kind == RunKind.APPLY or spec.probe:
        secrets = await sync_secrets(
            clusters, passphrase_ref=spec.passphrase, resolver=resolver, workdir=spec.workdir
        )
    else:  # plan, sweep: passwords only
        passwords = await resolve_passwords(clusters, resolver)
        secrets = {c.name: ClusterSecrets(password=p) for c, p in zip(clusters, passwords, strict=True)}
    secrets = with_usernames(clusters, secrets, resolver)
    warn_cleartext(plain)  # once every other input is known good: a refused run does not warn
    return RunPlan(
        spec=spec,
        inventory=inventory,
        clusters=clusters,
        secrets=secrets,
        rollout=rollout if rollout is not None else spec.rollout(),
        http=http,
        journal=journal,
        store=store,
        planned_at=planned_at,
        under_way=under_way,
    )


def check_ca_files(clusters: Sequence[Cluster], *, insecure: bool) -> None:
    """Every CA file the selected clusters are verified against can be used (each file read once)."""
    problems: dict[Path, str | None] = {}
    for cluster in clusters:
        ca_file = cluster.tls.ca_file
        if insecure or not cluster.tls.verify or ca_file is None:
            continue
        if ca_file not in problems:
            problems[ca_file] = ca_file_problem(ca_file)
        problem = problems[ca_file]
        if problem is not None:
            raise InputError(
                f"cluster {cluster.name}: CA file {ca_file} {problem}",
                file=str(cluster.source),
                field="tls.ca_file",
            )


def narrow(clusters: list[Cluster], only: set[str] | None) -> list[Cluster]:
    """Keep the clusters named in ``only`` (all when None), in inventory order."""
    return clusters if only is None else [cluster for cluster in clusters if cluster.name in only]


# --- every secret a run needs, resolved and checked before any cluster is contacted -----------

FinishedCheck = Callable[[str, Secret], Awaitable[bool]]
PASSPHRASE_VAR = "okm_passphrase"
_TRUE = frozenset({"true", "yes", "1", "on"})


def declared_cc_mode(cluster: Cluster) -> bool:
    """Common Criteria mode as the inventory declares it (label or var ``cc_mode``): 64+ characters."""
    value = cluster.labels.get("cc_mode") or cluster.vars.get("cc_mode") or ""
    return value.lower() in _TRUE


def _password_request(cluster: Cluster) -> SecretRequest:
    return SecretRequest(
        cluster.password, cluster.name, "password", base_dir=cluster.source.parent, source=cluster.source
    )


def _passphrase_request(cluster: Cluster, cli_ref: str | None, option: str, workdir: Path) -> SecretRequest:
    if cli_ref:
        return SecretRequest(cli_ref, cluster.name, option, base_dir=workdir)
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


def with_usernames(
    clusters: Sequence[Cluster], secrets: dict[str, ClusterSecrets], resolver: SecretResolver
) -> dict[str, ClusterSecrets]:
    """Each cluster's login name: the one its ``script:`` password printed (Harvest's credentials
    script), else the inventory's; a cluster left with none is an ``InputError``."""
    for cluster in clusters:
        printed = resolver.username(_password_request(cluster))
        if printed:
            secrets[cluster.name] = replace(secrets[cluster.name], username=printed)
        elif not cluster.username:
            raise InputError(
                f"cluster {cluster.name}: no username: the inventory names none and its credentials "
                "script printed only a password (set username in the source or an --overlay, or have "
                "the script print `username: …` and `password: …`)",
                file=str(cluster.source),
                field=cluster.field("username"),
            )
    return secrets


def has_passphrase_source(cluster: Cluster, cli_ref: str | None) -> bool:
    """Does the run know where this cluster's passphrase comes from (CLI option or inventory var)?"""
    return bool(cli_ref) or bool(cluster.vars.get(PASSPHRASE_VAR))


async def rotation_secrets(
    clusters: Sequence[Cluster],
    *,
    current_ref: str | None,
    new_ref: str,
    resolver: SecretResolver,
    workdir: Path,
    store: SecretStore | None = None,
    finished: FinishedCheck | None = None,
    charset: str = DEFAULT_CHARSET,
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
        _passphrase_request(cluster, current_ref, "--current", workdir) for cluster in known
    )
    if new_ref == GENERATE:
        if store is None:
            raise InputError("--new generate needs --store DIR|cmd:...", field="--store")
        currents, news = await _from_store(
            known,
            currents,
            store,
            finished or _never_finished,
            explicit_current=current_ref is not None,
            charset=charset,
        )
    else:
        news = await resolver.resolve_many(
            SecretRequest(new_ref, cluster.name, "--new", base_dir=workdir) for cluster in known
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


async def _never_finished(_cluster: str, _stored: Secret) -> bool:
    return False


async def _from_store(
    clusters: Sequence[Cluster],
    currents: list[Secret],
    store: SecretStore,
    finished: FinishedCheck,
    *,
    explicit_current: bool = False,
    charset: str = DEFAULT_CHARSET,
) -> tuple[list[Secret], list[Secret]]:
    """Current and new passphrases for generate mode; both sites of a pair share one new passphrase.

    The store's ``current`` (what fleet last verified) is the current passphrase, unless ``--current``
    was given: an explicit reference wins, and where it differs from the store the run says so.
    """
    chosen: dict[str, Secret] = {}
    carried: set[str] = set()  # pending or finished by the resumed run: must not be replaced
    new_currents: list[Secret] = []
    differ: list[str] = []
    for cluster, current in zip(clusters, currents, strict=True):
        stored = await store.get(cluster.name, "current")
        if explicit_current and stored is not None and stored != current:
            differ.append(cluster.name)
        new_currents.append(current if explicit_current else stored or current)
        pending = await store.get(cluster.name, "pending")
        if pending is None and stored is not None and await finished(cluster.name, stored):
            pending = stored
        if pending is not None:
            chosen[cluster.name] = pending
            carried.add(cluster.name)
    if differ:
        log.warning(
            "--current differs from the store's current passphrase; using --current",
            clusters=len(differ),
            first=differ[:5],
        )
    for cluster in clusters:
        if cluster.name in chosen:
            continue
        partner = cluster.metrocluster_partner or ""
        chosen[cluster.name] = chosen.get(partner) or generate_passphrase(charset=charset)
    for cluster in clusters:  # a pair's carried passphrase on either site wins for both
        partner = cluster.metrocluster_partner or ""
        if partner in carried and cluster.name not in carried:
            chosen[cluster.name] = chosen[partner]
    return new_currents, [chosen[cluster.name] for cluster in clusters]


async def sync_secrets(
    clusters: Sequence[Cluster], *, passphrase_ref: str | None, resolver: SecretResolver, workdir: Path
) -> dict[str, ClusterSecrets]:
    """Passwords and the passphrase each cluster is synced with (``current`` in ClusterSecrets)."""
    passwords = await resolve_passwords(clusters, resolver)
    known = [cluster for cluster in clusters if has_passphrase_source(cluster, passphrase_ref)]
    passphrases = await resolver.resolve_many(
        _passphrase_request(cluster, passphrase_ref, "--passphrase", workdir) for cluster in known
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
