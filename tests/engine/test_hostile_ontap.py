"""fleet against the simulator's hostile side: a partner that wants POST, 9.16 inactive configurations."""

from __future__ import annotations

from aiohttp import web
from enginekit import NEW_PASSPHRASE, by_name

from fleet.sim.http import CLUSTER


async def test_a_partner_that_wants_post_is_synced_after_the_rotation(sim_fleet, runner):
    sim = await sim_fleet(clusters=4, mcc_pairs=1, seed=8)
    a, b = sim.pairs()[0]
    sim.cluster(b).faults.partner_sync_method = "post"
    report = await runner.rotate(sim.inventory, limit=a)
    assert report.pairs[0].outcome == "rotated", report.pairs[0].reason
    assert sim.passphrase(b) == NEW_PASSPHRASE and sim.cluster(b).pending_partner_sync is None
    steps = [step.name for step in by_name(report)[b].steps]
    assert "partner_sync_post" in steps
    assert sim.cluster(b).wrong_passphrase_total == 0


async def test_fleet_sync_heals_a_split_pair_whose_partner_wants_post(sim_fleet, runner):
    refusing = {"on": True}

    @web.middleware
    async def refuse_partner(request, handler):
        cluster = request.get(CLUSTER)
        if refusing["on"] and cluster is not None and cluster.name == partner and request.method != "GET":
            return web.json_response({"error": {"message": "busy", "code": "6"}}, status=400)
        return await handler(request)

    sim = await sim_fleet(clusters=4, mcc_pairs=1, seed=8, middlewares=[refuse_partner])
    site_a, partner = sim.pairs()[0]
    report = await runner.rotate(sim.inventory, limit=site_a)
    assert report.pairs[0].outcome == "split"
    refusing["on"] = False
    sim.cluster(partner).faults.partner_sync_method = "post"
    new = runner.secret_file("new.okm", NEW_PASSPHRASE)
    healed = await runner.sync(sim.inventory, passphrase_ref=new, limit=partner)
    assert by_name(healed)[partner].outcome == "succeeded", by_name(healed)[partner].reason
    assert sim.cluster(partner).pending_partner_sync is None and sim.passphrase(partner) == NEW_PASSPHRASE


async def test_an_inactive_9_16_configuration_does_not_hide_the_active_okm(sim_fleet, runner):
    sim = await sim_fleet(clusters=30, seed=12, faults="inactive=1")
    hidden = [n for n in sim.onboard_names() if sim.cluster(n).inactive_key_manager is not None]
    assert hidden, "the fleet must hold 9.16 clusters with an inactive configuration"
    report = await runner.rotate(sim.inventory)
    rows = by_name(report)
    for name in hidden:
        assert rows[name].outcome == "succeeded", (name, rows[name].reason)
        assert sim.passphrase(name) == NEW_PASSPHRASE
