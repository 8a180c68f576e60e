"""``fleet sweep`` and ``fleet plan``: read every cluster, diff it against the policy, change nothing.

Reading is GETs only, each field asked for only on the ONTAP release that has it; what a release
cannot report stays ``None`` in ``ClusterFacts`` and becomes a "not verifiable on this version"
finding, never a crash. Expensive fields (``status``, ``connectivity``) are named explicitly, as
ONTAP requires. The one exception to read-only is ``fleet plan --probe``: a passphrase can only be
proven by a PATCH ONTAP refuses (existing = new = X answers 65536150 when X is current), so it is
opt-in, one attempt per cluster (Common Criteria mode counts wrong passphrases).
"""

from __future__ import annotations

import shlex
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from fleet.engine.rollout.units import Unit
from fleet.engine.steps.context import DECLARE_PAIR, RunContext, RunState
from fleet.engine.steps.journaled import journaled, outcome_unknown
from fleet.engine.steps.ledger import refuse_to_send, refused
from fleet.engine.steps.observe import NotThatCluster, read_facts
from fleet.engine.steps.pair import inventory_args
from fleet.engine.steps.recorder import ClusterRecorder, failure_reason
from fleet.errors import FleetError, OntapError
from fleet.inventory import Cluster
from fleet.ontap import OntapClient, Reply
from fleet.ontap import codes as C
from fleet.ontap.client import KEY_MANAGERS
from fleet.outcomes import (
    ClusterOutcome,
    ComplianceState,
    ExitCode,
    PairOutcome,
    RunKind,
    RunOutcome,
    StepStatus,
)
from fleet.policy import (
    PROBE_CHECKS,
    Action,
    ClusterFacts,
    Evaluation,
    Policy,
    evaluate,
)
from fleet.policy.rules import used_certificates
from fleet.report import Finding, PairRecord, Report, build_report
from fleet.report.drift import compute_drift
from fleet.report.model import CertificateExpiry
from fleet.report.states import build_compliance, counts_against

# --- sweep and plan ----------------------------------------------------------------------------------


@dataclass(slots=True)
class PolicyResults:
    """What a policy run learned beside the engine's records: each cluster's evaluation."""

    evaluations: dict[str, Evaluation] = field(default_factory=dict)
    unreadable: dict[str, Finding] = field(default_factory=dict)
    verified_at: dict[str, datetime | None] = field(default_factory=dict)  # the journal's, per read cluster
    certificates: dict[str, list[CertificateExpiry]] = field(default_factory=dict)  # by cluster

    def note_certificates(self, facts: ClusterFacts) -> None:
        """The certificates the cluster's key managers use, with their expiry (the expiry metric)."""
        self.certificates[facts.name] = [
            CertificateExpiry(
                cluster=facts.name, svm=svm, name=cert.name, type=cert.type, expiry_time=cert.expiry
            )
            for svm, cert in used_certificates(facts)
            if cert.expiry is not None
        ]

    def findings(self) -> list[Finding]:
        found = [finding for ev in self.evaluations.values() for finding in ev.findings]
        return found + list(self.unreadable.values())


def unreadable_finding(cluster: Cluster, reason: str) -> Finding:
    """A cluster fleet could not read (or that is not the one named) is not known to comply."""
    return Finding(
        cluster=cluster.name,
        rule="readable",
        severity="critical",
        observed=None,
        expected="readable",
        message=f"the cluster could not be read: {reason}",
    )


async def read_unit(
    ctx: RunContext, unit: Unit, state: RunState, policy: Policy, results: PolicyResults
) -> dict[str, tuple[ClusterRecorder, ClusterFacts]]:
    """Facts for every site of the unit; a site that cannot be read is finished as ``failed``."""
    read: dict[str, tuple[ClusterRecorder, ClusterFacts]] = {}
    for cluster in unit.clusters:
        rec = state.recorder(cluster)
        try:
            read[cluster.name] = (rec, await read_facts(ctx, cluster, rec, policy))
        except NotThatCluster as exc:
            results.unreadable[cluster.name] = unreadable_finding(cluster, str(exc))
            state.records[cluster.name] = rec.finish(
                ClusterOutcome.REFUSED, str(exc), requests=ctx.requests_sent(cluster.name)
            )
        except OntapError as exc:
            results.unreadable[cluster.name] = unreadable_finding(cluster, failure_reason(exc))
            state.records[cluster.name] = rec.finish(
                ClusterOutcome.FAILED, failure_reason(exc), requests=ctx.requests_sent(cluster.name)
            )
    return read


def partner_facts(
    facts: ClusterFacts, read: dict[str, tuple[ClusterRecorder, ClusterFacts]]
) -> ClusterFacts | None:
    entry = read.get(facts.partner or "")
    return entry[1] if entry is not None else None


@dataclass(slots=True)
class SweepWork:
    """Unit work for ``sweep`` (findings only) and ``plan`` (findings and the actions apply would take)."""

    policy: Policy
    now: datetime
    plan: bool = False
    probe: bool = False
    previous: list[Finding] | None = None  # an earlier sweep's findings: the report gets the drift
    results: PolicyResults = field(default_factory=PolicyResults)

    def conclude(self, report: Report) -> Report:
        return policy_report(report, self.results, self.previous)

    async def __call__(self, ctx: RunContext, unit: Unit, state: RunState) -> None:
        read = await read_unit(ctx, unit, state, self.policy, self.results)
        for cluster in unit.clusters:
            if cluster.name not in read:
                continue
            rec, facts = read[cluster.name]
            evaluation = evaluate(self.policy, facts, partner_facts(facts, read), self.now)
            self.results.verified_at[cluster.name] = facts.verified_at
            self.results.note_certificates(facts)
            if self.plan:
                evaluation = await self._plan_extras(ctx, cluster, facts, rec, evaluation)
            self.results.evaluations[cluster.name] = evaluation
            state.records[cluster.name] = rec.finish(
                ClusterOutcome.SUCCEEDED, evaluation.reason(), requests=ctx.requests_sent(cluster.name)
            )

    async def _plan_extras(
        self, ctx: RunContext, cluster: Cluster, facts: ClusterFacts, rec: ClusterRecorder, ev: Evaluation
    ) -> Evaluation:
        """Write the actions into the record (as steps not taken) and run or name the write-probe."""
        for action in ev.actions:
            rec.note(f"plan_{action.kind}", StepStatus.SKIPPED, action.describe())
        if facts.kind != "onboard" or facts.km_uuid is None:
            return ev
        if not self.probe:
            checks = ", ".join(PROBE_CHECKS)
            rec.note(
                "probe",
                StepStatus.SKIPPED,
                f"{checks} needs a write-probe: not run (use `fleet plan --probe`)",
            )
            return ev
        found = await probe_passphrase(ctx, cluster, facts.km_uuid, rec)
        return ev if found is None else Evaluation(ev.cluster, [*ev.findings, found], ev.actions)


async def probe_passphrase(
    ctx: RunContext, cluster: Cluster, km: str, rec: ClusterRecorder
) -> Finding | None:
    """PATCH existing = new = the inventory's passphrase: 65536150 proves it current, 65536139 refutes it."""

    def finding(severity: str, message: str, observed: Any = None) -> Finding:
        return Finding(
            cluster=cluster.name,
            rule="passphrase_current",
            severity=severity,  # type: ignore[arg-type]
            observed=observed,
            expected="the inventory's passphrase is current",
            message=message,
        )

    secret = ctx.secrets[cluster.name].current
    if secret is None:
        return finding("info", "not probed: no passphrase reference (vars.okm_passphrase or --passphrase)")
    not_allowed = await refuse_to_send(ctx, rec, secret, role="current")
    if not_allowed is not None:
        return finding("info", f"not probed: {not_allowed}")
    error: OntapError | None = None
    async with rec.step("probe_passphrase") as step:
        try:
            await ctx.client(cluster).change_passphrase(km, existing=secret, new=secret)
        except OntapError as exc:
            error = exc
        step.detail = f"ONTAP answered {error.code}" if error is not None else "accepted (unexpected)"
    if error is not None and error.code == C.PASSPHRASE_SAME_AS_OLD:
        return None
    if error is not None and error.code == C.PASSPHRASE_INCORRECT:
        await refused(ctx, rec, secret, code=error.code)
        return finding("critical", "the inventory's passphrase is not the cluster's (65536139)", "different")
    reason = failure_reason(error) if error is not None else "ONTAP accepted an unchanged passphrase"
    return finding("info", f"probe inconclusive: {reason}")


# --- fleet apply: bring each unit to the policy through the same engine as a rotation.

NOT_READY = "MetroCluster pair not ready (both sites configured, normal mode, partner reachable, both read)"


class ActionRefused(FleetError):
    """An action fleet will not send (e.g. a sync without a passphrase reference)."""

    refusal = "no_passphrase"


async def send_action(ctx: RunContext, cluster: Cluster, km: str, action: Action) -> Reply:
    """The one request (or two: add, then timeouts) an action is; secrets only in the body."""
    client = ctx.client(cluster)
    match action.kind:
        case "add_key_servers":
            return await client.add_key_servers(km, list(action.value))  # type: ignore[arg-type]
        case "remove_key_server":
            return await client.remove_key_server(km, str(action.server))
        case "set_key_server_timeout":
            return await client.modify_key_server(km, str(action.server), timeout=int(action.value))  # type: ignore[arg-type]
        case "set_client_certificate" | "renew_client_certificate":
            return await _patch_external(client, km, {"client_certificate": {"name": action.value}})
        case "set_server_ca_certificates":
            names = [{"name": name} for name in action.value]  # type: ignore[union-attr]
            return await _patch_external(client, km, {"server_ca_certificates": names})
        case "sync_nodes":
            passphrase = ctx.secrets[cluster.name].current
            if passphrase is None:
                raise ActionRefused(
                    "no passphrase reference for the sync (vars.okm_passphrase or --passphrase)"
                )
            return await client.synchronize(km, passphrase=passphrase)
    raise AssertionError(action.kind)


async def _patch_external(client: OntapClient, km: str, external: dict[str, object]) -> Reply:
    return await client.patch(f"{KEY_MANAGERS}/{km}", {"external": external})


@dataclass(frozen=True, slots=True)
class Stopped:
    """Why a cluster's actions stopped, the outcome that is, and a re-read's evaluation if one was made."""

    outcome: ClusterOutcome
    reason: str
    evaluation: Evaluation | None = None
    changed: bool = False  # an action of this cluster took effect before it stopped


Reread = Callable[[], Awaitable[Evaluation]]


async def run_actions(
    ctx: RunContext,
    unit: Unit,
    cluster: Cluster,
    facts: ClusterFacts,
    rec: ClusterRecorder,
    ev: Evaluation,
    reread: Reread,
) -> Stopped | None:
    """Send the cluster's actions in order (its own key manager's, then each data SVM's), each journaled
    first; returns why it stopped, or None. A refusal whose code has a next step (65536850: the new
    client certificate holds another key pair) says it. An action whose answer was lost is settled by
    reading the cluster again (``settle_lost_answer``), never by sending it again; what that read
    still asks for is what is sent next, except an action already answered in this run: asked for
    again, it is not sent twice (a second sync is a second passphrase attempt)."""
    pending, answered = list(ev.actions), list[Action]()
    latest: Evaluation | None = None  # the newest re-read's, once there is one: the report shows it

    def stop(outcome: ClusterOutcome, reason: str) -> Stopped:
        return Stopped(outcome, reason, latest, changed=bool(answered))

    while pending:
        action = pending.pop(0)
        km = action.km or facts.km_uuid
        assert km is not None
        passphrase = ctx.secrets[cluster.name].current
        fp = ctx.journal.fingerprint(passphrase) if action.needs_passphrase and passphrase else None
        if action.needs_passphrase and passphrase is not None:
            not_allowed = await refuse_to_send(ctx, rec, passphrase, role="current")
            if not_allowed is not None:
                return stop(ClusterOutcome.FAILED, f"{action.describe()} not sent: {not_allowed}")
        try:
            async with journaled(ctx, rec, unit.id, action.kind, to_fp=fp, detail=action.describe()) as step:
                reply = await send_action(ctx, cluster, km, action)
                step.http_status = reply.status
        except ActionRefused as exc:
            return stop(ClusterOutcome.FAILED, str(exc))
        except OntapError as exc:
            if outcome_unknown(exc):
                settled = await settle_lost_answer(rec, action, exc, reread)
                if isinstance(settled, Stopped):
                    return replace(settled, changed=bool(answered), evaluation=settled.evaluation or latest)
                latest, answered = settled, [*answered, action]
                again = [done.describe() for done in answered if still_asked(done, settled)]
                if again:
                    reason = (
                        f"a re-read still asks for {'; '.join(again)}, already sent and answered in this "
                        "run: not sent twice. `fleet sweep` shows what is in effect"
                    )
                    return stop(ClusterOutcome.PARTIAL, reason)
                pending = list(settled.actions)
                continue
            if exc.code == C.PASSPHRASE_INCORRECT and action.needs_passphrase and passphrase is not None:
                await refused(ctx, rec, passphrase, code=exc.code)
            info = C.code_info(exc.code) if exc.code is not None else None
            advice = f"; {info.next_step}" if info is not None and info.next_step else ""
            reason = f"{action.describe()} failed: {failure_reason(exc)}{advice}"
            return stop(ClusterOutcome.FAILED, reason)
        answered.append(action)
    return None


def still_asked(action: Action, fresh: Evaluation) -> bool:
    """Does ``fresh`` still ask for ``action``, or for part of it? An add of several key servers is
    one request, and ONTAP may have added some: any of them still missing means it did not take
    effect. Other actions compare by what they change (kind, key manager, server), not by value."""
    return any(
        _target(other) == _target(action)
        and (action.kind != "add_key_servers" or bool(_values(other) & _values(action)))
        for other in fresh.actions
    )


def _target(action: Action) -> tuple[str, str | None, str | None, str | None]:
    return action.kind, action.svm, action.km, action.server


def _values(action: Action) -> set[str]:
    return set(action.value) if isinstance(action.value, tuple) else {str(action.value)}


async def settle_lost_answer(
    rec: ClusterRecorder, action: Action, exc: OntapError, reread: Reread
) -> Stopped | Evaluation:
    """The answer to ``action`` was lost (a timeout, a reset, a proxy's 5xx): ONTAP may have applied it.

    The cluster is read again and the policy evaluated afresh: if it no longer asks for this action,
    the action is in effect and the fresh evaluation is returned (its actions are what is left to
    do). Otherwise, or if the read fails, the action stays unconfirmed and is not sent again: a
    request that timed out may still be running on the cluster, and a second add or removal would
    then be refused or undo it.
    """
    lost = f"{action.describe()}: the answer was lost ({failure_reason(exc)})"
    try:
        fresh = await reread()
    except (OntapError, NotThatCluster) as read_exc:
        reason = f"the re-read failed ({rec.reread_failed(read_exc)})"
        return Stopped(
            ClusterOutcome.UNCONFIRMED,
            f"{lost} and {reason}: whether it took effect is unknown; not sent again. "
            "`fleet sweep` shows what is in effect; `fleet apply` again finishes the change",
        )
    if not still_asked(action, fresh):
        rec.note("reread", StepStatus.OK, f"{lost}; a re-read shows it in effect")
        return fresh
    rec.note("reread", StepStatus.OK, f"{lost}; a re-read shows it not (wholly) in effect")
    return Stopped(
        ClusterOutcome.UNCONFIRMED,
        f"{lost} and a re-read shows it not (wholly) in effect: not sent again (the cluster may still "
        "be applying it). `fleet apply` again reads first and sends only what is still missing",
        evaluation=fresh,
    )


@dataclass(slots=True)
class ApplyWork:
    """Unit work for ``apply``: read, diff, act on every site, read again."""

    policy: Policy
    now: datetime
    results: PolicyResults = field(default_factory=PolicyResults)

    def conclude(self, report: Report) -> Report:
        return policy_report(report, self.results)

    async def __call__(self, ctx: RunContext, unit: Unit, state: RunState) -> None:
        read = await read_unit(ctx, unit, state, self.policy, self.results)
        refusal = self._refusal(unit, read)
        stopped: str | None = None
        changed, wanted = set[str](), set[str]()  # sites an action took effect on / had actions
        for cluster in unit.clusters:
            if cluster.name not in read:
                continue
            rec, facts = read[cluster.name]
            ev = evaluate(self.policy, facts, partner_facts(facts, read), self.now)
            self.results.evaluations[cluster.name] = ev
            self.results.note_certificates(facts)
            outcome, reason = ClusterOutcome.ALREADY_CURRENT, ev.reason()
            if ev.actions:
                wanted.add(cluster.name)
            if ev.actions and (refusal or stopped):
                why = refusal or f"the partner site's change stopped ({stopped})"
                outcome, reason = ClusterOutcome.SKIPPED, f"nothing changed: {why}"
            elif ev.actions:
                reread = self._reread(ctx, cluster, rec, read)
                halt = await run_actions(ctx, unit, cluster, facts, rec, ev, reread)
                if halt is not None and halt.evaluation is not None:  # the report shows what the re-read saw
                    self.results.evaluations[cluster.name] = halt.evaluation
                outcome = halt.outcome if halt is not None else ClusterOutcome.SUCCEEDED
                reason = halt.reason if halt is not None else reason
                stopped = reason if halt is not None else None
                if halt is None or halt.changed:
                    changed.add(cluster.name)
            state.records[cluster.name] = rec.finish(
                outcome, reason, requests=ctx.requests_sent(cluster.name)
            )
        await self._verify(ctx, unit, state, read)
        self._settle(unit, state)
        pair = half_done_pair(ctx, unit, state, changed, wanted)
        if pair is not None:
            state.pairs[unit.id] = pair

    def _reread(
        self,
        ctx: RunContext,
        cluster: Cluster,
        rec: ClusterRecorder,
        read: dict[str, tuple[ClusterRecorder, ClusterFacts]],
    ) -> Reread:
        """Read ``cluster`` again and evaluate it as before, against its partner's first read."""

        async def reread() -> Evaluation:
            fresh = await read_facts(ctx, cluster, rec, self.policy)
            return evaluate(self.policy, fresh, partner_facts(fresh, read), self.now)

        return reread

    @staticmethod
    def _refusal(unit: Unit, read: dict[str, tuple[ClusterRecorder, ClusterFacts]]) -> str | None:
        """Why no site of this unit may be changed: a MetroCluster is changed whole or not at all."""
        if unit.kind == "pair":
            if len(read) != len(unit.clusters) or not all(
                facts.metrocluster_ready for _, facts in read.values()
            ):
                return NOT_READY
            return None
        facts = next(iter(read.values()), (None, None))[1]
        if facts is not None and facts.partner is not None:
            return (
                f"ONTAP reports a MetroCluster partner ({facts.partner}) the inventory does not name; "
                f"one site alone is never changed. {DECLARE_PAIR}"
            )
        return None

    async def _verify(
        self,
        ctx: RunContext,
        unit: Unit,
        state: RunState,
        read: dict[str, tuple[ClusterRecorder, ClusterFacts]],
    ) -> None:
        """Re-read every changed site; what remains becomes its findings and decides its outcome."""
        changed = [
            c
            for c in unit.clusters
            if c.name in state.records and state.records[c.name].outcome == ClusterOutcome.SUCCEEDED
        ]
        if not changed:
            return
        fresh = dict(read)
        for cluster in changed:
            rec = state.recorders[cluster.name]
            try:
                fresh[cluster.name] = (rec, await read_facts(ctx, cluster, rec, self.policy))
            except OntapError as exc:
                reason = f"changed, but the re-read failed: {failure_reason(exc)}"
                state.records[cluster.name] = rec.finish(
                    ClusterOutcome.PARTIAL, reason, requests=ctx.requests_sent(cluster.name)
                )
        for cluster in changed:
            if state.records[cluster.name].outcome != ClusterOutcome.SUCCEEDED:
                continue
            rec, facts = fresh[cluster.name]
            ev = evaluate(self.policy, facts, partner_facts(facts, fresh), self.now)
            self.results.evaluations[cluster.name] = ev
            self.results.note_certificates(facts)
            outcome = ClusterOutcome.SUCCEEDED if ev.compliant else ClusterOutcome.PARTIAL
            state.records[cluster.name] = rec.finish(
                outcome, ev.reason(), requests=ctx.requests_sent(cluster.name)
            )

    def _settle(self, unit: Unit, state: RunState) -> None:
        """Nothing to send, yet out of policy: that needs a human (or ``fleet rotate``), not apply."""
        for cluster in unit.clusters:
            record = state.records.get(cluster.name)
            ev = self.results.evaluations.get(cluster.name)
            if (
                record is None
                or ev is None
                or record.outcome != ClusterOutcome.ALREADY_CURRENT
                or ev.compliant
            ):
                continue
            rules = sorted({f.rule for f in ev.findings if f.severity != "info"})
            reason = f"non-compliant, and nothing apply may change: {', '.join(rules)}"
            state.records[cluster.name] = state.recorders[cluster.name].finish(
                ClusterOutcome.SKIPPED, reason, requests=record.requests
            )


NOT_DONE = frozenset({ClusterOutcome.FAILED, ClusterOutcome.UNCONFIRMED, ClusterOutcome.SKIPPED})


def half_done_pair(
    ctx: RunContext, unit: Unit, state: RunState, changed: set[str], wanted: set[str]
) -> PairRecord | None:
    """A MetroCluster pair apply changed on one site and not on the other, which needed a change of
    its own: the worst end a pair's change can have, so the report says it of the pair, with the
    command that finishes it. A site with nothing to send (compliant, or needing a human) is not
    left behind by its partner's change.

    The other site's change unconfirmed (its answer lost): the pair is ``unconfirmed``, not ``split``.
    """
    if unit.kind != "pair" or len(changed) != 1:
        return None
    done = next(iter(changed))
    other = next(c.name for c in unit.clusters if c.name != done)
    record = state.records.get(other)
    if other not in wanted or record is None or record.outcome not in NOT_DONE:
        return None
    unsure = record.outcome == ClusterOutcome.UNCONFIRMED
    a, b = (c.name for c in unit.clusters)
    spec = ctx.spec
    command = f"fleet apply {inventory_args(spec)} -p {shlex.quote(str(spec.policy))}"
    if spec.passphrase is not None:  # a reference, as the run was given it: the sync needs the same
        command += f" --passphrase {shlex.quote(spec.passphrase)}"
    command += f" --limit {shlex.quote(f'{a},{b}')}"
    reason = (
        f"{'UNCONFIRMED' if unsure else 'SPLIT'}: {done} was changed, {other} "
        f"{'may not have been' if unsure else 'was not'} ({record.reason}); the sites' key managers "
        f"{'may ' if unsure else ''}differ until `fleet apply` finishes {other} (it reads both first)"
    )
    return PairRecord(
        name=unit.id,
        sites=(a, b),
        first=a,
        outcome=PairOutcome.UNCONFIRMED if unsure else PairOutcome.SPLIT,
        reason=reason,
        remediation=command,
    )


# --- the compliance outcome ------------------------------------------------------------------


def policy_report(report: Report, results: PolicyResults, previous: list[Finding] | None = None) -> Report:
    """The engine's report plus findings, with the compliance outcome and exit code.

    Sweeps and plans also get each cluster's compliance state and, given an earlier sweep's findings
    (``previous``), the drift since then.
    """
    findings = results.findings()
    run = report.run
    if run.kind not in (RunKind.SWEEP, RunKind.PLAN):
        if run.outcome == RunOutcome.SUCCEEDED and any(counts_against(finding) for finding in findings):
            run = run.model_copy(update={"outcome": RunOutcome.NON_COMPLIANT, "exit_code": ExitCode.FAILED})
        return with_certificates(
            build_report(run, report.clusters, report.pairs, report.waves, findings), results
        )
    verdicts = build_compliance(report.clusters, findings, results.verified_at)
    if run.outcome != RunOutcome.INTERRUPTED:
        outcome, code = read_outcome(verdicts.by_state)
        run = run.model_copy(update={"outcome": outcome, "exit_code": code})
    unknown = {
        name for name, verdict in verdicts.clusters.items() if verdict.state == ComplianceState.UNKNOWN
    }
    drift = compute_drift(findings, previous, unknown=unknown) if previous is not None else None
    built = build_report(run, report.clusters, report.pairs, report.waves, findings, drift)
    return with_certificates(built.model_copy(update={"compliance": verdicts}), results)


def with_certificates(report: Report, results: PolicyResults) -> Report:
    """Every certificate the clusters' key managers use, with its expiry (the expiry metric)."""
    certificates = sorted(
        (cert for certs in results.certificates.values() for cert in certs),
        key=lambda cert: (cert.cluster, cert.svm or "", cert.name),
    )
    return report.model_copy(update={"certificates": certificates}) if certificates else report


def read_outcome(by_state: dict[str, int]) -> tuple[RunOutcome, ExitCode]:
    """A finished sweep's (or plan's) outcome: non-compliant wins; clusters it could not say about fail it."""
    if by_state[ComplianceState.NON_COMPLIANT]:
        return RunOutcome.NON_COMPLIANT, ExitCode.FAILED
    if by_state[ComplianceState.UNKNOWN]:
        return RunOutcome.FAILED, ExitCode.FAILED
    return RunOutcome.COMPLIANT, ExitCode.OK
