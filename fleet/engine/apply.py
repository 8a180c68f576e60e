"""``fleet apply``: bring each unit to the policy through the same engine as a rotation.

Every mutation is journaled before it is sent and after its outcome. A MetroCluster pair is one
unit: ONTAP requires an external key manager to be configured on both sites (the admin SVM's key
servers and certificates are not replicated), so both sites get their actions, in order, and
nothing is changed unless both sites are configured, in normal mode, and were read. When a site's
change fails its partner is left alone and the cluster record says so. Afterwards every changed
cluster is read again: the findings in the report are what remains, not what was planned.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from fleet.engine.context import RunContext
from fleet.engine.recorder import ClusterRecorder
from fleet.engine.rotate_unit import failure_reason
from fleet.engine.run import RunState
from fleet.engine.sweep import PolicyResults, partner_facts, read_facts, read_unit
from fleet.engine.units import Unit
from fleet.errors import OntapError
from fleet.inventory import Cluster
from fleet.ontap import OntapClient, Reply
from fleet.ontap.client import KEY_MANAGERS
from fleet.policy import Action, ClusterFacts, Evaluation, Policy, evaluate

NOT_READY = "MetroCluster pair not ready (both sites configured, normal mode, partner reachable, both read)"


class ActionRefused(Exception):
    """An action fleet will not send (e.g. a sync without a passphrase reference)."""


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
        case "set_client_certificate":
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


async def run_actions(
    ctx: RunContext, unit: Unit, cluster: Cluster, facts: ClusterFacts, rec: ClusterRecorder, ev: Evaluation
) -> str | None:
    """Send the cluster's actions in order, each journaled first; returns why it stopped, or None."""
    km = facts.km_uuid
    assert km is not None
    for action in ev.actions:
        fp = None
        if action.needs_passphrase and ctx.secrets[cluster.name].current is not None:
            fp = ctx.journal.fingerprint(ctx.secrets[cluster.name].current)  # type: ignore[arg-type]
        step_id = await ctx.journal.begin_step(ctx.run_id, unit.id, cluster.name, action.kind, to_fp=fp)
        try:
            async with rec.step(action.kind) as step:
                step.detail = action.describe()
                reply = await send_action(ctx, cluster, km, action)
                step.http_status = reply.status
        except ActionRefused as exc:
            await ctx.journal.end_step(step_id, status="failed", detail=str(exc))
            return str(exc)
        except OntapError as exc:
            await ctx.journal.end_step(step_id, status="failed", error_code=exc.code)
            return f"{action.describe()} failed: {failure_reason(exc)}"
        await ctx.journal.end_step(step_id, status="ok")
    return None


@dataclass(slots=True)
class ApplyWork:
    """Unit work for ``apply``: read, diff, act on every site, read again."""

    policy: Policy
    now: datetime
    results: PolicyResults = field(default_factory=PolicyResults)

    async def __call__(self, ctx: RunContext, unit: Unit, state: RunState) -> None:
        read = await read_unit(ctx, unit, state, self.policy, self.results)
        refusal = self._refusal(unit, read)
        stopped: str | None = None
        for cluster in unit.clusters:
            if cluster.name not in read:
                continue
            rec, facts = read[cluster.name]
            ev = evaluate(self.policy, facts, partner_facts(facts, read), self.now)
            self.results.evaluations[cluster.name] = ev
            outcome, reason = "already_current", ev.reason()
            if ev.actions and (refusal or stopped):
                why = refusal or f"the partner site's change stopped ({stopped})"
                outcome, reason = "skipped", f"nothing changed: {why}"
            elif ev.actions:
                stopped = await run_actions(ctx, unit, cluster, facts, rec, ev)
                outcome, reason = ("failed", stopped) if stopped else ("succeeded", reason)
            state.records[cluster.name] = rec.finish(
                outcome, reason, requests=ctx.requests_sent(cluster.name)
            )
        await self._verify(ctx, unit, state, read)
        self._settle(unit, state)

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
                "one site alone is never changed"
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
            if c.name in state.records and state.records[c.name].outcome == "succeeded"
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
                    "partial", reason, requests=ctx.requests_sent(cluster.name)
                )
        for cluster in changed:
            if state.records[cluster.name].outcome != "succeeded":
                continue
            rec, facts = fresh[cluster.name]
            ev = evaluate(self.policy, facts, partner_facts(facts, fresh), self.now)
            self.results.evaluations[cluster.name] = ev
            outcome = "succeeded" if ev.compliant else "partial"
            state.records[cluster.name] = rec.finish(
                outcome, ev.reason(), requests=ctx.requests_sent(cluster.name)
            )

    def _settle(self, unit: Unit, state: RunState) -> None:
        """Nothing to send, yet out of policy: that needs a human (or ``fleet rotate``), not apply."""
        for cluster in unit.clusters:
            record = state.records.get(cluster.name)
            ev = self.results.evaluations.get(cluster.name)
            if record is None or ev is None or record.outcome != "already_current" or ev.compliant:
                continue
            rules = sorted({f.rule for f in ev.findings if f.severity != "info"})
            reason = f"non-compliant, and nothing apply may change: {', '.join(rules)}"
            state.records[cluster.name] = state.recorders[cluster.name].finish(
                "skipped", reason, requests=record.requests
            )
