"""One onboard key sync of a site, journaled, in the form the site accepts.

After a MetroCluster rotation the partner must be synced with the new passphrase. NetApp's client
uses PATCH ``onboard.synchronize`` where OKM exists and POST ``synchronize`` where it does not; the
pending-sync status message names POST; which form ONTAP wants on a pending partner is UNCONFIRMED
(ontap-notes §10). So: PATCH first, and once, the POST form when the site refuses the PATCH with
that MetroCluster message. A sync changes no passphrase. After a lost answer neither sync is sent
again blindly: a rotation's partner sync reads B first and is sent once more only to the B it read,
with the passphrase A proved (``pair.PairRotation._settle_lost_partner_sync``); ``fleet sync``'s,
unproven, reads the nodes and is never sent again (``sync._settle_lost_sync``).
"""

from __future__ import annotations

from fleet.engine.steps.context import RunContext
from fleet.engine.steps.journaled import journaled
from fleet.engine.steps.recorder import ClusterRecorder
from fleet.errors import OntapError
from fleet.ontap import Reply
from fleet.ontap import codes as C
from fleet.secrets import Secret

_USE_POST = C.message_for(C.MCC_SYNC_PENDING)[:60]


def wants_post(exc: OntapError) -> bool:
    """Did the site refuse the PATCH sync with the MetroCluster "use the POST method" message?"""
    return (exc.message or "").startswith(_USE_POST) or "POST method" in (exc.message or "")


async def synchronize_site(
    ctx: RunContext,
    rec: ClusterRecorder,
    unit_id: str,
    km: str,
    passphrase: Secret,
    *,
    step: str,
    marks_pending: bool = False,
    detail: str | None = None,
    from_fp: str | None = None,
) -> Reply:
    """PATCH synchronize with ``passphrase``; on the documented "use POST" refusal, the POST form once.

    ``from_fp``: the passphrase this sync replaces on the site, when it replaces one (a MetroCluster
    partner taking its site A's new passphrase); journaled beside ``to_fp``."""
    client = ctx.client(rec.cluster)
    fingerprint = ctx.journal.fingerprint(passphrase)
    try:
        async with journaled(
            ctx,
            rec,
            unit_id,
            step,
            from_fp=from_fp,
            to_fp=fingerprint,
            marks_pending=marks_pending,
            detail=detail,
        ) as handle:
            reply = await client.synchronize(km, passphrase=passphrase)
            handle.http_status = reply.status
            return reply
    except OntapError as exc:
        if not wants_post(exc):
            raise
    async with journaled(
        ctx,
        rec,
        unit_id,
        f"{step}_post",
        from_fp=from_fp,
        to_fp=fingerprint,
        marks_pending=marks_pending,
        detail="the site asked for the POST form of the sync",
    ) as handle:
        reply = await client.create_onboard(passphrase=passphrase, synchronize=True)
        handle.http_status = reply.status
        return reply
