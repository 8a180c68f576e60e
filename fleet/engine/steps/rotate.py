"""One cluster's passphrase rotation: pre-check, change, reconcile, verify.

ONTAP never returns a passphrase, so every branch here is about knowing, not guessing:
the journal records the intent before the PATCH; an answer we did not get is reconciled by reading
and by one synchronize probe with the new passphrase (it validates without changing anything);
a wrong existing passphrase is never followed by another guess (Common Criteria mode locks a
cluster after a few wrong passphrases). MetroCluster pairs are sequenced in ``pair.py``; here a
cluster that ONTAP says is in a MetroCluster but the inventory pairs with nobody is refused:
rotating one site alone is the failure a pair must never have.
"""

from __future__ import annotations

import shlex
from datetime import datetime

from fleet.engine.steps.checks import verify_and_backup
from fleet.engine.steps.context import DECLARE_PAIR, NO_PASSPHRASE, Outcome, RunContext
from fleet.engine.steps.journaled import journaled, mark_verified, outcome_unknown
from fleet.engine.steps.ledger import refuse_to_send, refused
from fleet.engine.steps.observe import NotThatCluster, Observed, missing_keys_by_node, observe, read_status
from fleet.engine.steps.recorder import ClusterRecorder, failure_reason, refusal
from fleet.engine.steps.remediate import record_nodes, remediate_stale_nodes, stale
from fleet.errors import OntapError, OntapTransportError
from fleet.inventory import Cluster
from fleet.journal import ClusterFp
from fleet.ontap import OntapClient, Reply
from fleet.ontap import codes as C
from fleet.ontap.releases import Version, has
from fleet.outcomes import ClusterOutcome, RunKind, StepStatus
from fleet.report import ClusterRecord
from fleet.secrets import Secret

_NOT_ROTATED = "the new passphrase is not in place (probe refused it): the rotation was not applied"


def retry_failed_command(run_id: str) -> str:
    """The resume that settles a run's unconfirmed units. A plain resume leaves them: settling one
    means one more send with a candidate passphrase, which is the operator's call."""
    return f"fleet resume {shlex.quote(run_id)} --retry-failed"


class ClusterRotation:
    """Rotate one cluster's OKM passphrase from ``current`` to ``new`` and prove the result."""

    def __init__(
        self, ctx: RunContext, cluster: Cluster, rec: ClusterRecorder, unit_id: str, *, verify: bool = True
    ) -> None:
        self.ctx = ctx
        self.cluster = cluster
        self.rec = rec
        self.unit_id = unit_id
        self.client: OntapClient = ctx.client(cluster)
        secrets = ctx.secrets[cluster.name]
        assert secrets.current is not None and secrets.new is not None
        self.current: Secret = secrets.current
        self.new: Secret = secrets.new
        self.new_fp = ctx.journal.fingerprint(self.new)
        self.current_fp = ctx.journal.fingerprint(self.current)
        self.probed = False  # at most one extra passphrase attempt per cluster per run
        self.verified = False
        # A MetroCluster site A reports "sync the partner" until B is synced: its pair verifies later.
        self.verify = verify
        self.version: Version = (9, 0, 0)  # set from the observed cluster when the run starts
        self.sent_change = False  # a change PATCH left (its outcome may be unknown)
        # the proven new passphrase replaced current (this run's change, or the lineage's pending one)
        self.replaced_current = False
        self.behind_before: list[str] = []  # nodes missing keys before the rotation, left so (--no-remediate)
        self.on_journal_word = False  # a dry run took the journal's word that it has the new passphrase

    # -- the whole machine -------------------------------------------------------------------
    @property
    def settled_by(self) -> str:
        """What settles an unconfirmed rotation."""
        return f"`{retry_failed_command(self.ctx.run_id)}` settles it with one probe"

    async def run(self, observed: Observed) -> Outcome:
        """Rotate on a cluster whose pre-checks passed (``observed`` is its fresh state)."""
        km = observed.km_uuid
        assert km is not None
        self.version = observed.version
        known = await self.ctx.journal.cluster_state(self.cluster.name, uuid=observed.uuid or None)
        overlapping = await self._rotated_by_an_overlapping_run(known) if known is not None else None
        if overlapping is not None:
            return Outcome(ClusterOutcome.SKIPPED, overlapping)
        if known is not None and known.current_fp == self.new_fp:
            if self.ctx.spec.dry_run:  # the probe would be a passphrase attempt: take the journal's word
                return self._journal_says_rotated(known)
            # The journal saw this cluster verified on the new passphrase: prove it, don't re-send.
            return await self._probe_already_rotated(km, observed, why="the journal records it as rotated")
        if known is not None and known.pending_fp == self.new_fp:
            # A change to this passphrase was sent and never confirmed (a killed run): probe first.
            outcome = await self._probe_already_rotated(
                km,
                observed,
                why="a change to the new passphrase was sent but never confirmed",
                replaced_current=True,
            )
            if outcome.reason != _NOT_ROTATED:
                return outcome
            # Proven not applied: the change below is the first one that takes effect.
        not_allowed = await refuse_to_send(self.ctx, self.rec, self.current, role="current", known=known)
        if not_allowed is not None:
            return Outcome(ClusterOutcome.FAILED, not_allowed)
        behind = await self._nodes_behind_before(km, observed)
        if behind is not None:
            return behind
        if self.ctx.store is not None:
            await self.ctx.store.put_pending(self.cluster.name, self.new)
        try:
            await self._change("change_passphrase", km, marks_pending=True)
        except OntapError as exc:
            if outcome_unknown(exc):
                return await self._reconcile_unknown(km, observed)
            return await self._on_change_error(exc, km, observed, known_pending=known)
        self.replaced_current = True
        return await self._verify_and_finish(km, observed)

    async def _rotated_by_an_overlapping_run(self, known: ClusterFp) -> str | None:
        """Why another rotation's result stands here (this cluster is not rotated again), or None.

        Two overlapping rotations never rotate one cluster twice. Overlapping means the other run was
        under way at some moment since this one read its passphrases (``planned_at``), whenever it
        verified this cluster: with ``--new generate`` a run that started a second later read the
        store *after* the other promoted its passphrase, so "verified after we planned" alone let it
        rotate that cluster again. Or the other rotation verified it after we planned. A ``fleet
        sync`` verifies the passphrase it was given and changes none: its verification does not count.
        A cluster already on this run's new passphrase is proven by a probe instead (``run``).
        """
        other, at = known.verified_by, known.verified_at
        if other is None or at is None or other == self.ctx.run_id or known.current_fp == self.new_fp:
            return None
        if other in self.ctx.under_way:
            return (
                f"run {other}, under way alongside this one, rotated this cluster at {at}: not rotated "
                "again (two overlapping rotations never rotate one cluster twice)"
            )
        planned = self.ctx.planned_at.replace(microsecond=self.ctx.planned_at.microsecond // 1000 * 1000)
        if datetime.fromisoformat(at) < planned:  # the journal keeps milliseconds
            return None
        run = await self.ctx.journal.run(other)
        if run is None or run.kind != RunKind.ROTATE:
            return None
        return f"run {other} rotated this cluster at {at}, after this run started: not rotated again"

    def _journal_says_rotated(self, known: ClusterFp) -> Outcome:
        """A dry run on a cluster the journal records on the new passphrase: ``already_current`` on the
        journal's word, which run proved it and when; the real run proves it with one probe first."""
        self.on_journal_word = True
        reason = (
            f"dry run: {verified_by(known, self.ctx.under_way)} verified the new passphrase "
            f"({self.new_fp}) on this cluster at {known.verified_at}, says the journal; not probed (a dry "
            "run tries no passphrase): the real run proves it with one probe and changes nothing"
        )
        self.rec.note("probe_new_passphrase", StepStatus.SKIPPED, reason)
        return Outcome(ClusterOutcome.ALREADY_CURRENT, reason)

    async def _nodes_behind_before(self, km: str, observed: Observed) -> Outcome | None:
        """Nodes already missing keys (9.12+): sync them with the CURRENT passphrase first.

        Rotating with nodes behind leaves them further behind, so a failed sync stops here, before
        any change; with ``--no-remediate`` they are recorded and the rotation ends ``partial``.
        """
        counts = await missing_keys_by_node(self.client, km, observed.version, self.rec)
        if not stale(counts):
            return None
        if not self.ctx.spec.remediate:
            record_nodes(self.rec, counts, None)
            self.behind_before = stale(counts)
            return None
        stopped = await remediate_stale_nodes(
            self.ctx,
            self.rec,
            km,
            observed,
            None,
            self.current,
            step="remediate_before_rotation",
            missing=counts,
        )
        if stopped is None:
            return None
        return Outcome(
            ClusterOutcome.FAILED,
            f"nodes were missing keys before the rotation and could not be synced, so the passphrase "
            f"was not changed: {stopped.reason}",
        )

    async def _change(self, step: str, km: str, *, marks_pending: bool = False) -> None:
        """The PATCH itself, journaled: existing = current, new = new."""
        self.sent_change = True
        async with journaled(
            self.ctx,
            self.rec,
            self.unit_id,
            step,
            from_fp=self.current_fp,
            to_fp=self.new_fp,
            marks_pending=marks_pending,
        ) as handle:
            reply = await self.client.change_passphrase(km, existing=self.current, new=self.new)
            handle.http_status = reply.status

    # -- outcomes of the change PATCH --------------------------------------------------------
    async def _on_change_error(
        self, exc: OntapError, km: str, observed: Observed, known_pending: ClusterFp | None
    ) -> Outcome:
        if exc.code == C.PASSPHRASE_SAME_AS_OLD:
            await self._verified()
            self.rec.note(
                "already_current", StepStatus.OK, "ONTAP says the new passphrase is already in place"
            )
            return await self._verify_and_finish(km, observed, outcome=ClusterOutcome.ALREADY_CURRENT)
        if exc.code in C.PASSPHRASE_CHANGED_SOME_NODES_STALE:
            # The passphrase did change; some nodes kept stale keys. ONTAP confirmed the change.
            return await self._partial(km, observed, exc)
        if exc.code == C.PASSPHRASE_INCORRECT:
            await refused(self.ctx, self.rec, self.current, code=exc.code)
            sent_before = known_pending is not None and self.new_fp in (
                known_pending.pending_fp,
                known_pending.current_fp,
            )
            if sent_before:
                return await self._probe_already_rotated(
                    km,
                    observed,
                    why="the journal records a change to the new passphrase as sent",
                    replaced_current=True,
                )
            # A definite refusal: nothing changed, so the new passphrase is pending nowhere.
            await self.ctx.journal.clear_pending(self.cluster.name, self.new_fp, uuid=self.rec.uuid)
            if self.ctx.store is not None:
                await self.ctx.store.discard_pending(self.cluster.name)
            return Outcome(
                ClusterOutcome.FAILED,
                "the current passphrase was refused (65536139); no further attempt was made "
                "(Common Criteria lockout risk)",
            )
        if isinstance(exc, OntapTransportError):  # never reached the cluster: nothing was changed
            return Outcome(ClusterOutcome.FAILED, failure_reason(exc))
        return Outcome(ClusterOutcome.FAILED, f"passphrase change refused: {exc.message}")

    async def _reconcile_unknown(self, km: str, observed: Observed) -> Outcome:
        """The PATCH may or may not have been applied: read, then probe once; never re-send blindly."""
        try:
            async with self.rec.step("reread_after_unknown"):
                await read_status(self.client, km, self.version, with_backup=False)
        except OntapError:
            return Outcome(
                ClusterOutcome.UNCONFIRMED,
                f"the change to {self.new_fp} was sent, its answer lost, and the cluster did not answer "
                f"the re-read: {self.settled_by}",
            )
        outcome = await self._probe_already_rotated(
            km,
            observed,
            why="the change's answer was lost",
            proven=ClusterOutcome.SUCCEEDED,
            replaced_current=True,
        )
        if outcome.outcome != ClusterOutcome.FAILED or outcome.reason != _NOT_ROTATED:
            return outcome
        # Proven not applied: sending the change once more is no longer blind.
        try:
            await self._change("change_passphrase_retry", km)
        except OntapError as exc:
            if outcome_unknown(exc):
                return Outcome(
                    ClusterOutcome.UNCONFIRMED,
                    f"the proven-safe resend of the change to {self.new_fp} lost its answer too: "
                    f"{self.settled_by}",
                )
            if exc.code in C.PASSPHRASE_CHANGED_SOME_NODES_STALE:
                return await self._partial(km, observed, exc)
            return Outcome(ClusterOutcome.FAILED, f"passphrase change refused on retry: {exc.message}")
        self.replaced_current = True
        return await self._verify_and_finish(km, observed)

    async def _probe_already_rotated(
        self,
        km: str,
        observed: Observed,
        *,
        why: str,
        proven: ClusterOutcome = ClusterOutcome.ALREADY_CURRENT,
        replaced_current: bool = False,
    ) -> Outcome:
        """One synchronize with the new passphrase: success proves the cluster already has it.

        ``replaced_current``: a change from the current passphrase was sent (by this run or the run it
        resumes), so once proven, the new passphrase is what replaced it (the audit's previous one).
        """
        if self.probed:
            return Outcome(
                ClusterOutcome.FAILED, "a second passphrase probe was not attempted (lockout risk)"
            )
        self.probed = True
        not_allowed = await refuse_to_send(self.ctx, self.rec, self.new, role="new")
        if not_allowed is not None:
            return Outcome(
                ClusterOutcome.UNCONFIRMED,
                f"{why}, and the probe that would settle it is not allowed: {not_allowed}",
            )
        try:
            async with self.rec.step("probe_new_passphrase") as step:
                step.detail = why
                try:
                    reply = await self._probe(km)
                except OntapError as exc:
                    if exc.code == C.PASSPHRASE_SAME_AS_OLD:
                        # The 9.6 probe: "the new passphrase is the same as the current one" proves it.
                        step.http_status = exc.http_status
                        step.detail = f"{why}; ONTAP says the new passphrase is current (65536150)"
                        self.replaced_current = replaced_current
                        await self._verified()
                        return await self._verify_and_finish(km, observed, outcome=proven)
                    if exc.code != C.PASSPHRASE_INCORRECT:
                        raise
                    await refused(self.ctx, self.rec, self.new, code=exc.code, probe=True)
                    # Proven not applied: the change's pending mark no longer stands.
                    await self.ctx.journal.clear_pending(self.cluster.name, self.new_fp, uuid=self.rec.uuid)
                    # An answer, not a failure: the probe proved the change is not in place.
                    step.detail = f"{why}; ONTAP refused the new passphrase (65536139): not applied"
                    step.http_status = exc.http_status
                    return Outcome(ClusterOutcome.FAILED, _NOT_ROTATED)
                step.http_status = reply.status
        except OntapError as exc:
            if exc.code in C.PASSPHRASE_CHANGED_SOME_NODES_STALE:
                return await self._partial(km, observed, exc, replaced_current=replaced_current)
            return Outcome(
                ClusterOutcome.UNCONFIRMED,
                f"the probe with the new passphrase ({self.new_fp}) got no usable answer ({exc.message}): "
                f"whether the cluster has it is unknown; {self.settled_by}",
            )
        self.replaced_current = replaced_current
        await self._verified()
        return await self._verify_and_finish(km, observed, outcome=proven)

    async def _probe(self, km: str) -> Reply:
        """One attempt with the new passphrase that changes nothing: a synchronize (9.7+), else on 9.6
        a PATCH from the new passphrase to itself (65536150 proves it current, 65536139 refutes it)."""
        if has(self.version, "onboard.synchronize"):
            return await self.client.synchronize(km, passphrase=self.new)
        return await self.client.change_passphrase(km, existing=self.new, new=self.new)

    async def _partial(
        self, km: str, observed: Observed, exc: OntapError, *, replaced_current: bool = True
    ) -> Outcome:
        """ONTAP confirmed the new passphrase but some nodes kept stale keys: remediate, then verify.

        ``replaced_current``: the answer came to a change from the current passphrase (not to a probe
        of a passphrase the journal already knew as current)."""
        self.replaced_current = self.replaced_current or replaced_current
        await self._verified()
        try:
            stopped = await remediate_stale_nodes(self.ctx, self.rec, km, observed, exc, self.new)
        except OntapError as read_exc:  # the change is in place: never "failed" for a read after it
            return Outcome(
                ClusterOutcome.PARTIAL,
                f"passphrase changed, but {exc.message} and its nodes could not be checked: "
                f"{failure_reason(read_exc)}; run `fleet sync` with the new passphrase once it answers",
            )
        return stopped if stopped is not None else await self._verify_and_finish(km, observed)

    # -- success path ------------------------------------------------------------------------
    async def _verify_and_finish(
        self, km: str, observed: Observed, outcome: ClusterOutcome = ClusterOutcome.SUCCEEDED
    ) -> Outcome:
        await self._verified()
        problem = None
        if self.verify:
            problem = await verify_and_backup(
                self.client, km, self.version, self.rec, self.ctx.spec.backup_dir
            )
        if self.behind_before:
            nodes = ", ".join(self.behind_before)
            return Outcome(
                ClusterOutcome.PARTIAL,
                f"passphrase changed; nodes {nodes} were already missing keys before the rotation and were "
                "not synced (--no-remediate): run `fleet sync` with the new passphrase",
            )
        if problem is not None:
            return Outcome(ClusterOutcome.PARTIAL, f"passphrase changed, but {problem}")
        return Outcome(outcome)

    async def _verified(self) -> None:
        """The cluster is proven to have the new passphrase (once per run); the audit record gets the
        passphrase it replaced when the change from current is what put it there."""
        if not self.verified:
            self.verified = True
            if self.replaced_current:
                self.rec.previous_passphrase_fingerprint = self.current_fp
            await mark_verified(self.ctx, self.rec, self.new)


def verified_by(known: ClusterFp, under_way: frozenset[str]) -> str:
    """Which run proved the journal's current passphrase of a cluster, and whether it is under way."""
    run = known.verified_by or known.run_id or "an earlier run"
    return f"run {run} (under way now)" if run in under_way else f"run {run}"


# --- a standalone cluster ---------------------------------------------------------------------


def precheck_single(cluster: Cluster, observed: Observed) -> Outcome | None:
    """Why this standalone cluster must not be rotated, or None when it may."""
    if observed.km_uuid is None:
        return Outcome(ClusterOutcome.SKIPPED, "no cluster-scope key manager is configured")
    if not observed.onboard:
        kind = "an external key manager (KMIP)" if observed.external else "no onboard key manager"
        return Outcome(
            ClusterOutcome.SKIPPED, f"the cluster uses {kind}; OKM passphrase rotation does not apply"
        )
    mcc = observed.metrocluster
    if mcc is not None and mcc.configured:
        partner = mcc.remote_name or "<partner>"
        reason = (
            f"ONTAP reports a MetroCluster partner ({mcc.remote_name or 'unknown'}) that the inventory "
            "does not name; refused so the two sites are never rotated independently. Next: give "
            f"{cluster.name}'s entry `metrocluster_partner: {partner}` (and add {partner} to the inventory "
            f"if it is missing, naming {cluster.name}), then rerun with --limit {cluster.name},{partner}. "
            f"{DECLARE_PAIR}"
        )
        return Outcome(ClusterOutcome.REFUSED, reason, refusal("mcc_partner_unlisted", reason))
    if not observed.healthy:
        reason = (
            f"the key manager is not healthy (status {observed.status_code}: {observed.status_message}); "
            "nothing was changed"
        )
        return Outcome(ClusterOutcome.FAILED, reason, refusal("km_unhealthy", reason))
    return None


async def rotate_single(
    ctx: RunContext, cluster: Cluster, unit_id: str, rec: ClusterRecorder
) -> ClusterRecord:
    """Always returns the cluster's record: an error becomes a failed row with the failing step."""
    try:
        outcome = await _rotate_single(ctx, cluster, unit_id, rec)
    except NotThatCluster as exc:
        outcome = Outcome(ClusterOutcome.REFUSED, str(exc))
    except OntapError as exc:
        outcome = Outcome(ClusterOutcome.FAILED, failure_reason(exc))
    return rec.finish(outcome.outcome, outcome.reason, requests=ctx.requests_sent(cluster.name))


async def _rotate_single(ctx: RunContext, cluster: Cluster, unit_id: str, rec: ClusterRecorder) -> Outcome:
    if ctx.secrets[cluster.name].current is None:
        rec.note("precheck", StepStatus.SKIPPED, NO_PASSPHRASE)
        return Outcome(ClusterOutcome.SKIPPED, NO_PASSPHRASE)
    observed = await observe(ctx.client(cluster), rec)
    stop = precheck_single(cluster, observed)
    if stop is not None:
        status = StepStatus.SKIPPED if stop.outcome == ClusterOutcome.SKIPPED else StepStatus.FAILED
        rec.note("precheck", status, stop.reason, error=stop.error)
        return stop
    rotation = ClusterRotation(ctx, cluster, rec, unit_id)
    try:
        return await rotation.run(observed)
    except OntapError as exc:
        if rotation.verified:
            return read_failed_after_change(exc)
        if rotation.sent_change:  # a change left and nothing settled it: never "failed"
            return Outcome(
                ClusterOutcome.UNCONFIRMED,
                f"a change was sent, then {failure_reason(exc)}; {rotation.settled_by}",
            )
        raise


def read_failed_after_change(exc: OntapError) -> Outcome:
    """The cluster proved the new passphrase, then a read (nodes, status, backup) failed: the change
    stands, so the cluster is ``partial``, never ``failed``."""
    return Outcome(
        ClusterOutcome.PARTIAL,
        f"on the new passphrase (verified), but a read after the change failed: {failure_reason(exc)}; "
        "a rerun verifies it",
    )
