"""MetroCluster pairs: one unit, site A changes, then site B is synced with the NEW passphrase.

Order is the whole point (ontap-notes §4.1): update the passphrase on one site, then, before any
other key-manager operation, sync the partner with the new passphrase, then verify both. A pair
where A moved and B did not is ``split``: the report says which site has which passphrase (by
journal fingerprint) and the exact command that heals it; A is never changed again. The two sites
are worked strictly one after the other, so they are never in flight at the same time.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from fleet.engine.spec import RunSpec
from fleet.engine.steps.checks import verify_and_backup
from fleet.engine.steps.context import NO_PASSPHRASE, Outcome, RunContext
from fleet.engine.steps.journaled import mark_verified, outcome_unknown
from fleet.engine.steps.ledger import refuse_to_send, refused
from fleet.engine.steps.observe import NotThatCluster, Observed, observe
from fleet.engine.steps.onboard_sync import synchronize_site
from fleet.engine.steps.recorder import ClusterRecorder, error_info, failure_reason, refusal
from fleet.engine.steps.remediate import remediate_stale_nodes
from fleet.engine.steps.rotate import (
    ClusterRotation,
    read_failed_after_change,
    retry_failed_command,
    verified_by,
)
from fleet.errors import OntapError
from fleet.inventory import Cluster
from fleet.ontap import WouldSend
from fleet.ontap import codes as C
from fleet.outcomes import ClusterOutcome, PairOutcome, StepStatus
from fleet.report import ErrorInfo, PairRecord
from fleet.secrets import Secret


@dataclass(frozen=True, slots=True)
class PairResult:
    pair: PairRecord
    outcomes: dict[str, Outcome]


def order_sites(first: Cluster, second: Cluster, first_site: str | None) -> tuple[Cluster, Cluster]:
    """Site A is the inventory's first-named site, unless ``--first-site key=value`` picks by label."""
    if first_site:
        key, _, value = first_site.partition("=")
        if second.labels.get(key) == value and first.labels.get(key) != value:
            return second, first
    return first, second


def pairing_problem(a: Cluster, oa: Observed, b: Cluster, ob: Observed) -> str | None:
    """Does ONTAP agree with the inventory that these two clusters are MetroCluster partners?"""
    for site, seen, other, other_seen in ((a, oa, b, ob), (b, ob, a, oa)):
        mcc = seen.metrocluster
        if mcc is None:
            return f"{site.name} runs ONTAP {seen.version_text}: MetroCluster state needs 9.8 or later"
        if not mcc.configured:
            return (
                f"the inventory pairs {site.name} with {other.name}, "
                f"but ONTAP says {site.name} is not in a MetroCluster"
            )
        if mcc.remote_uuid != other_seen.uuid or (mcc.remote_name and mcc.remote_name != other_seen.name):
            return (
                f"{site.name} reports MetroCluster partner {mcc.remote_name or mcc.remote_uuid}, "
                f"but the inventory names {other.name}"
            )
    return None


def precheck_problem(site: Cluster, seen: Observed, resuming: bool = False) -> str | None:
    """Both sites must be configured, normal, reachable, on OKM and not already waiting for a sync.

    ``resuming``: the journal shows fleet itself sent this pair's new passphrase (a killed run), so
    the pending-partner-sync condition is ours to finish, not a reason to stop.
    """
    mcc = seen.metrocluster
    assert mcc is not None
    if mcc.configuration_state != "configured":
        return f"{site.name}: MetroCluster configuration_state is {mcc.configuration_state}, not configured"
    if mcc.mode != "normal":
        return f"{site.name}: MetroCluster mode is {mcc.mode}, not normal"
    if not mcc.partner_reachable:
        return f"{site.name}: the MetroCluster partner cluster is not reachable"
    if seen.km_uuid is None or not seen.onboard:
        return f"{site.name}: onboard key management is not enabled"
    if seen.partner_sync_pending and resuming:
        return None
    if not seen.healthy:
        return f"{site.name}: key manager not healthy (status {seen.status_code}: {seen.status_message})"
    return None


class PairRotation:
    """Rotate a pair: A's step machine, then B's partner sync, then verify both."""

    def __init__(self, ctx: RunContext, unit_id: str, a: Cluster, b: Cluster) -> None:
        self.ctx = ctx
        self.unit_id = unit_id
        self.a, self.b = a, b
        self.rec_a = ClusterRecorder(a)
        self.rec_b = ClusterRecorder(b)

    async def run(self) -> PairResult:
        a, b = self.a, self.b
        if any(self.ctx.secrets[site.name].current is None for site in (a, b)):
            return self._refused(ClusterOutcome.SKIPPED, NO_PASSPHRASE)
        try:
            seen_a = await observe(self.ctx.client(a), self.rec_a)
            seen_b = await observe(self.ctx.client(b), self.rec_b)
        except NotThatCluster as exc:
            return self._refused(ClusterOutcome.REFUSED, f"{exc}; neither site was touched", error_info(exc))
        except OntapError as exc:
            reason = f"could not read both sites: {failure_reason(exc)}"
            return self._refused(ClusterOutcome.FAILED, reason, error_info(exc))
        problem = pairing_problem(a, seen_a, b, seen_b)
        if problem is not None:
            reason = (
                f"pairing mismatch: {problem}; nothing was changed. Next: correct `metrocluster_partner:` "
                "in the inventory to the partner ONTAP reports, on both entries"
            )
            return self._refused(ClusterOutcome.REFUSED, reason, refusal("mcc_partner_mismatch", reason))
        resuming = await self._half_done_by_us()
        problem = precheck_problem(a, seen_a, resuming) or precheck_problem(b, seen_b, resuming)
        if problem is not None:
            return self._refused(ClusterOutcome.SKIPPED, f"pre-check failed: {problem}; nothing was changed")

        rotation = ClusterRotation(self.ctx, a, self.rec_a, self.unit_id, verify=False)
        try:
            outcome_a = await rotation.run(seen_a)
        except OntapError as exc:
            unsure = ClusterOutcome.UNCONFIRMED if rotation.sent_change else ClusterOutcome.FAILED
            outcome_a = Outcome(unsure, failure_reason(exc))
        if not rotation.verified and outcome_a.outcome == ClusterOutcome.UNCONFIRMED:
            # Never "not rotated" unless fleet knows A kept its old passphrase.
            reason = (
                f"site A ({a.name}) may hold the new passphrase ({rotation.new_fp}): {outcome_a.reason}; "
                f"{b.name} was not touched; {rotation.settled_by}, then syncs {b.name}"
            )
            return self._result(
                PairOutcome.UNCONFIRMED,
                reason,
                outcome_a,
                Outcome(ClusterOutcome.SKIPPED, f"waits for {a.name} to be settled"),
            )
        if not rotation.verified and outcome_a.outcome == ClusterOutcome.SKIPPED:
            left = Outcome(ClusterOutcome.SKIPPED, f"as its partner {a.name}: {outcome_a.reason}")
            return self._result(PairOutcome.SKIPPED, outcome_a.reason, outcome_a, left)
        if not (rotation.verified or rotation.on_journal_word):
            reason = f"site A ({a.name}) was not rotated: {outcome_a.reason}; {b.name} was not touched"
            return self._result(
                PairOutcome.FAILED,
                reason,
                outcome_a,
                Outcome(ClusterOutcome.SKIPPED, f"partner {a.name} failed"),
            )
        try:
            outcome_b = await self._sync_partner(seen_b)
        except WouldSend as would:  # a dry run, site A on the journal's word: B's sync is the first send
            return await self._partner_planned(outcome_a, would)
        except OntapError as exc:
            if self.rec_b.passphrase_fingerprint is None:  # B proved nothing: not settled here
                raise
            outcome_b = read_failed_after_change(exc)
        if outcome_b.outcome == ClusterOutcome.FAILED:
            return self._split(outcome_a, outcome_b)
        if outcome_b.outcome == ClusterOutcome.UNCONFIRMED:
            return self._partner_unconfirmed(outcome_a, outcome_b)
        if outcome_a.outcome in (ClusterOutcome.SUCCEEDED, ClusterOutcome.ALREADY_CURRENT):
            try:
                verified_a = await self._verify_site(seen_a, self.rec_a)
            except OntapError as exc:
                verified_a = read_failed_after_change(exc)
            if verified_a.outcome != ClusterOutcome.SUCCEEDED:
                outcome_a = verified_a
        return self._result(PairOutcome.ROTATED, None, outcome_a, outcome_b)

    async def _half_done_by_us(self) -> bool:
        """Did an earlier run of fleet send this pair's new passphrase to either site?"""
        new = self.ctx.secrets[self.a.name].new
        if new is None:
            return False
        new_fp = self.ctx.journal.fingerprint(new)
        for site in (self.a, self.b):
            rec = self.rec_a if site is self.a else self.rec_b
            state = await self.ctx.journal.cluster_state(site.name, uuid=rec.uuid)
            if state is not None and new_fp in (state.pending_fp, state.current_fp):
                return True
        return False

    # -- site B ------------------------------------------------------------------------------
    async def _sync_partner(self, seen_b: Observed) -> Outcome:
        """Sync B with the NEW passphrase (PATCH synchronize, existing_passphrase = new; POST if B asks).

        ontap-notes §4.1 marks the REST form UNCONFIRMED (see ``onboard_sync``). After a lost answer
        (no answer, or a 5xx that may have come after B applied it) B is read first; the sync is sent
        once more only to the B the read shows (A proved the passphrase, so that send cannot be a
        wrong attempt, and its answer is what proves B). Twice lost is reported on B's status, never
        guessed.
        """
        b, km = self.b, seen_b.km_uuid
        assert km is not None
        new = self.ctx.secrets[self.a.name].new
        assert new is not None
        not_allowed = await refuse_to_send(self.ctx, self.rec_b, new, role="new")
        if not_allowed is not None:
            return Outcome(ClusterOutcome.FAILED, f"partner sync not sent: {not_allowed}")
        if self.ctx.store is not None:
            await self.ctx.store.put_pending(b.name, new)
        detail = f"sync with the new passphrase set on {self.a.name}"
        replaced = await self._replaced_on_b(new)
        for attempt in (1, 2):
            try:
                await synchronize_site(
                    self.ctx,
                    self.rec_b,
                    self.unit_id,
                    km,
                    new,
                    step="partner_sync",
                    marks_pending=True,
                    detail=detail,
                    from_fp=replaced,
                )
            except OntapError as exc:
                if outcome_unknown(exc):
                    again = "again " if attempt == 2 else ""
                    lost = f"the answer to the partner sync was lost {again}({failure_reason(exc)})"
                    settled = await self._settle_lost_partner_sync(lost, seen_b, last_try=attempt == 2)
                    if settled is None:  # B read, and nothing proves the sync took effect: once more
                        continue
                    return settled
                if exc.code in C.PASSPHRASE_CHANGED_SOME_NODES_STALE:
                    # B accepted the new passphrase but some of its nodes kept stale keys.
                    self.rec_b.previous_passphrase_fingerprint = replaced
                    await mark_verified(self.ctx, self.rec_b, new)
                    stopped = await remediate_stale_nodes(self.ctx, self.rec_b, km, seen_b, exc, new)
                    return stopped or await self._verify_site(seen_b, self.rec_b)
                if exc.code == C.PASSPHRASE_INCORRECT:  # B does not hold the new passphrase: a fact
                    await refused(self.ctx, self.rec_b, new, code=exc.code)
                elif attempt == 2:  # the first sync, its answer lost, may be in place: B decides
                    refusal = (
                        f"the second partner sync was refused ({failure_reason(exc)}) after the first "
                        "lost its answer"
                    )
                    settled = await self._settle_lost_partner_sync(refusal, seen_b, last_try=True)
                    assert settled is not None
                    return settled
                return Outcome(ClusterOutcome.FAILED, f"partner sync refused: {failure_reason(exc)}")
            break
        self.rec_b.previous_passphrase_fingerprint = replaced
        await mark_verified(self.ctx, self.rec_b, new)
        return await self._verify_site(seen_b, self.rec_b)

    async def _settle_lost_partner_sync(
        self, lost: str, seen_b: Observed, *, last_try: bool
    ) -> Outcome | None:
        """The partner sync's answer was lost (``lost`` says how): read B before anything more is sent.

        Only ONTAP's answer to a sync proves B holds the new passphrase, so a read never settles the
        sync as done: ONTAP shows the MetroCluster "sync the partner" status while B waits, but
        whether every release shows it is UNCONFIRMED (ontap-notes §4.1). B unreadable, unhealthy or
        not the key manager the sync was for: UNCONFIRMED, nothing more sent. Otherwise None: the
        sync is sent once more, with the passphrase A proved, so it cannot be a wrong attempt. After
        the last try B's own status decides: still waiting is ``split``, anything else UNCONFIRMED.
        """
        b = self.b
        unknown = f"whether {b.name} holds the new passphrase is unknown; nothing more was sent"
        try:
            now_b = await observe(self.ctx.client(b), self.rec_b)
        except (OntapError, NotThatCluster) as read_exc:
            why = self.rec_b.reread_failed(read_exc)
            return Outcome(
                ClusterOutcome.UNCONFIRMED, f"{lost} and {b.name} could not be read again ({why}): {unknown}"
            )
        if (now_b.uuid, now_b.km_uuid) != (seen_b.uuid, seen_b.km_uuid) or not now_b.onboard:
            changed = (
                f"{lost}; a re-read shows {b.name}'s onboard key manager is not the one the sync was for"
            )
            self.rec_b.note("reread", StepStatus.FAILED, changed)
            return Outcome(ClusterOutcome.UNCONFIRMED, f"{changed}: {unknown}")
        waiting = now_b.partner_sync_pending
        if not waiting and not now_b.healthy:
            shown = f"{lost}; a re-read shows status {now_b.status_code}: {now_b.status_message}"
            self.rec_b.note("reread", StepStatus.OK, shown)
            return Outcome(ClusterOutcome.UNCONFIRMED, f"{shown}: {unknown}")
        shows = (
            "still waiting for the partner sync" if waiting else "no longer showing the partner-sync status"
        )
        self.rec_b.note("reread", StepStatus.OK, f"{lost}; a re-read shows {b.name} {shows}")
        if not last_try:
            return None
        if waiting:
            return Outcome(ClusterOutcome.FAILED, f"{lost}, and a re-read shows {b.name} {shows}")
        return Outcome(
            ClusterOutcome.UNCONFIRMED,
            f"{lost}; a re-read shows {b.name} {shows}, which does not prove it took the new "
            "passphrase; nothing more was sent",
        )

    async def _partner_planned(self, outcome_a: Outcome, would: WouldSend) -> PairResult:
        """A dry run's pair whose site A the journal records on the new passphrase: B would be synced
        with it (a sync changes no passphrase); what the journal knows of B is said too."""
        reason = f"dry run: {would}"
        known = await self.ctx.journal.cluster_state(self.b.name, uuid=self.rec_b.uuid)
        new = self.ctx.secrets[self.a.name].new
        if known is not None and new is not None and known.current_fp == self.ctx.journal.fingerprint(new):
            reason += (
                f"; {verified_by(known, self.ctx.under_way)} verified it on the new passphrase at "
                f"{known.verified_at}, says the journal"
            )
        pair_reason = f"site A ({self.a.name}) is on the new passphrase, says the journal; {reason}"
        return self._result(
            PairOutcome.PLANNED, pair_reason, outcome_a, Outcome(ClusterOutcome.PLANNED, reason)
        )

    async def _replaced_on_b(self, new: Secret) -> str | None:
        """The fingerprint of the passphrase B's sync replaces: its current reference's, unless the
        journal already knows B on the new one (then the sync replaces nothing)."""
        current = self.ctx.secrets[self.b.name].current
        if current is None:
            return None
        journal = self.ctx.journal
        known = await journal.cluster_state(self.b.name, uuid=self.rec_b.uuid)
        new_fp, current_fp = journal.fingerprint(new), journal.fingerprint(current)
        if current_fp == new_fp or (known is not None and known.current_fp == new_fp):
            return None
        return current_fp

    async def _verify_site(self, seen: Observed, rec: ClusterRecorder) -> Outcome:
        assert seen.km_uuid is not None
        client = self.ctx.client(rec.cluster)
        problem = await verify_and_backup(client, seen.km_uuid, seen.version, rec, self.ctx.spec.backup_dir)
        return (
            Outcome(ClusterOutcome.PARTIAL, f"synced, but {problem}")
            if problem
            else Outcome(ClusterOutcome.SUCCEEDED)
        )

    def _partner_unconfirmed(self, outcome_a: Outcome, outcome_b: Outcome) -> PairResult:
        """A has the new passphrase; whether B was synced is unknown. The remedy is this run's
        ``--retry-failed`` resume: it sends B the partner sync with the passphrase A proved (never a
        wrong attempt) whatever B shows, where ``fleet sync`` would find a B that looks healthy with
        nothing to sync and leave it on its old passphrase."""
        a, b = self.a, self.b
        reason = (
            f"UNCONFIRMED: {a.name} has the new passphrase; whether {b.name} does is unknown "
            f"({outcome_b.reason}). {a.name} will not be changed again."
        )
        remediation = retry_failed_command(self.ctx.run_id)
        return self._result(PairOutcome.UNCONFIRMED, reason, outcome_a, outcome_b, remediation=remediation)

    # -- results -----------------------------------------------------------------------------
    def _refused(self, outcome: ClusterOutcome, reason: str, error: ErrorInfo | None = None) -> PairResult:
        """Neither site is touched; ``error`` (what stopped the pair) goes on each site's row that has
        no error of its own yet (the site that failed to read, or was not who it should be, has one)."""
        for rec in (self.rec_a, self.rec_b):
            rec.note(
                "precheck",
                StepStatus.SKIPPED if outcome == ClusterOutcome.SKIPPED else StepStatus.FAILED,
                reason,
                error=None if any(step.error for step in rec.steps) else error,
            )
        both = Outcome(outcome, reason)
        return self._result(PairOutcome(outcome.value), reason, both, both)

    def _split(self, outcome_a: Outcome, outcome_b: Outcome) -> PairResult:
        a, b = self.a, self.b
        reason = (
            f"SPLIT: {a.name} has the new passphrase, {b.name} does not ({outcome_b.reason}). "
            f"{a.name} will not be changed again."
        )
        return self._result(
            PairOutcome.SPLIT, reason, outcome_a, Outcome(ClusterOutcome.SPLIT, outcome_b.reason)
        )

    def _result(
        self,
        outcome: PairOutcome,
        reason: str | None,
        oa: Outcome,
        ob: Outcome,
        *,
        remediation: str | None = None,
    ) -> PairResult:
        """The pair's record; a ``split`` one carries its heal command."""
        journal = self.ctx.journal
        current = self.ctx.secrets[self.b.name].current
        fingerprints = {
            self.a.name: self.rec_a.passphrase_fingerprint,
            self.b.name: self.rec_b.passphrase_fingerprint,
        }
        if outcome == PairOutcome.SPLIT and current is not None:
            fingerprints[self.b.name] = journal.fingerprint(current)
        if outcome == PairOutcome.SPLIT:
            remediation = heal_command(self.ctx.spec, self.a.name, self.b.name)
        pair = PairRecord(
            name=self.unit_id,
            sites=(self.a.name, self.b.name),
            first=self.a.name,
            outcome=outcome,
            reason=reason,
            remediation=remediation,
            fingerprints=fingerprints,
        )
        return PairResult(pair, {self.a.name: oa, self.b.name: ob})


def heal_command(spec: RunSpec, a: str, b: str) -> str:
    """The ``fleet sync`` that heals a split pair, copy-pasteable: the run's inventory, a reference to
    the passphrase site A now has, and both sites (a pair is synced whole)."""
    reference = spec.new or ""
    if spec.generated and spec.store is not None:
        if spec.store.startswith("cmd:"):
            reference = f"{spec.store} get {a} current"
        else:
            reference = f"file:{Path(spec.store.removeprefix('file:')) / a / 'current'}"
    source = inventory_args(spec)
    return f"fleet sync {source} --passphrase {shlex.quote(reference)} --limit {shlex.quote(f'{a},{b}')}"


def inventory_args(spec: RunSpec) -> str:
    """The command-line options that name the run's clusters as it read them (inventory, overlay, the
    import password's reference), quoted for a shell."""
    source = f"-i {shlex.quote(str(spec.inventory))}"
    if spec.overlay is not None:
        source += f" --overlay {shlex.quote(str(spec.overlay))}"
    if spec.import_password is not None:
        source += f" --import-password {shlex.quote(spec.import_password)}"
    return source
