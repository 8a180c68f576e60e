"""``fleet apply`` when the answer to a change is lost (a reset, a hang, a proxy's 502/503/504).

ONTAP may have applied it. fleet reads the cluster again and carries on only if the re-read shows
the change in effect; otherwise the cluster is ``unconfirmed``, the change is never sent again and
a MetroCluster partner is left alone. Before, an applied change was reported ``failed`` and its
partner skipped: half a pair changed, and the report said nothing had been.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from aiohttp import web
from breakdown import Breakdown
from policykit import FAST_HTTP, lose_keys, make_external, make_svm, run_policy
from test_policy_runs import EXTERNAL, ONBOARD, newest

from fleet.engine.steps.policy import still_asked
from fleet.ontap import codes
from fleet.policy import Action, Evaluation, Policy
from fleet.report.change import RunPart, consolidate
from fleet.sim.http import CLUSTER
from fleet.sim.rules import error_body
from fleet.sim.state import LOST_MODES

WANTED = [("10.0.0.5:5696", 30), ("10.0.0.6:5696", 30)]


def servers(sim, name: str) -> list[tuple[str, int]]:
    return sorted((s.server, s.timeout) for s in sim.cluster(name).key_manager.servers)


async def external_pair(sim_fleet, *middlewares):
    sim = await sim_fleet(clusters=2, mcc_pairs=1, seed=3, middlewares=list(middlewares))
    site_a, site_b = sim.pairs()[0]
    make_external(sim, site_a, [("10.0.0.5:5696", 30)])  # apply adds 10.0.0.6 on each site
    make_external(sim, site_b, [("10.0.0.5:5696", 30)])
    return sim, site_a, site_b


@pytest.mark.parametrize("mode", LOST_MODES)
async def test_a_change_applied_then_lost_is_proven_by_a_reread_and_the_pair_is_finished(
    sim_fleet, journal, mode
):
    sim, site_a, site_b = await external_pair(sim_fleet)
    sim.cluster(site_a).faults.lose_next = [mode]
    http = replace(FAST_HTTP, request_timeout=1.5) if mode == "hang" else FAST_HTTP
    report = await run_policy(sim, journal, "apply", EXTERNAL, http=http)

    rows = {c.name: c for c in report.clusters}
    assert {n: r.outcome for n, r in rows.items()} == {site_a: "succeeded", site_b: "succeeded"}, {
        n: r.reason for n, r in rows.items()
    }
    assert servers(sim, site_a) == servers(sim, site_b) == WANTED
    assert sim.cluster(site_a).counters.lost_answers == 1
    assert sim.cluster(site_a).counters.by_method["POST"] == 1, "the change was sent again"
    reread = [s.detail for s in rows[site_a].steps if s.name == "reread"]
    assert len(reread) == 1 and "a re-read shows it in effect" in reread[0]
    assert report.run.exit_code == 0 and not report.failures.by_code  # nothing failed
    assert report.recovered.by_code  # the lost answer is listed, as recovered
    journaled = [(s.cluster, s.name, s.status) for s in await journal.steps(report.run.id)]
    assert (site_a, "add_key_servers", "unknown") in journaled
    assert (site_b, "add_key_servers", "ok") in journaled


async def test_a_change_that_never_reached_ontap_is_unconfirmed_not_resent_and_the_partner_untouched(
    sim_fleet, journal
):
    """The connection reset before ONTAP saw the change: the re-read shows it missing. It is not sent
    again (a request that timed out may still be running), so the site is unconfirmed."""
    breakdown = Breakdown(cluster="sim-0001", drop_first_change=True)
    sim, site_a, site_b = await external_pair(sim_fleet, breakdown.middleware())
    assert site_a == breakdown.cluster
    report = await run_policy(sim, journal, "apply", EXTERNAL)

    rows = {c.name: c for c in report.clusters}
    assert rows[site_a].outcome == "unconfirmed", rows[site_a].reason
    assert "a re-read shows it not (wholly) in effect: not sent again" in rows[site_a].reason
    assert rows[site_b].outcome == "skipped" and "partner site's change stopped" in rows[site_b].reason
    assert len(breakdown.changes) == 1 and sim.cluster(site_b).counters.mutations == 0
    assert servers(sim, site_a) == servers(sim, site_b) == [("10.0.0.5:5696", 30)]
    assert report.run.exit_code == 1


async def test_a_lost_answer_whose_reread_fails_is_unconfirmed_never_failed(sim_fleet, journal):
    breakdown = Breakdown(cluster="sim-0001", down_after=1)
    sim, site_a, site_b = await external_pair(sim_fleet, breakdown.middleware())
    sim.cluster(site_a).faults.lose_next = ["503"]
    report = await run_policy(sim, journal, "apply", EXTERNAL)

    rows = {c.name: c for c in report.clusters}
    assert rows[site_a].outcome == "unconfirmed", rows[site_a].reason
    assert "the re-read failed" in rows[site_a].reason
    assert "whether it took effect is unknown; not sent again" in rows[site_a].reason
    assert rows[site_b].outcome == "skipped" and sim.cluster(site_b).counters.mutations == 0
    km = sim.cluster(site_a).key_manager.uuid
    assert breakdown.changes == [f"POST /api/security/key-managers/{km}/key-servers"]  # sent once
    assert report.run.exit_code == 1


async def test_a_node_sync_applied_then_lost_is_proven_and_sent_once(sim_fleet, journal):
    sim = await sim_fleet(clusters=12, seed=7)
    target = newest(sim)[0]
    lose_keys(sim, target)
    sim.cluster(target).faults.lose_next = ["504"]
    passphrase = f"file:{sim.secrets_dir / f'{target}.okm'}"
    report = await run_policy(sim, journal, "apply", ONBOARD, limit=target, passphrase_ref=passphrase)
    row = report.clusters[0]
    assert row.outcome == "succeeded", row.reason
    assert sim.cluster(target).counters.syncs == 1 and sim.cluster(target).counters.lost_answers == 1
    assert all(key.restored for node in sim.cluster(target).nodes for key in node.keys)


async def test_a_pair_changed_on_its_first_site_only_is_not_a_finished_unit(sim_fleet, journal):
    """Site A changed, site B's change lost before ONTAP saw it: the unit was journaled (and counted
    by budgets) as its first site's ``succeeded``, so a resume would never have finished B."""
    breakdown = Breakdown(cluster="sim-0002", drop_first_change=True)
    sim = await sim_fleet(clusters=2, mcc_pairs=1, seed=3, middlewares=[breakdown.middleware()])
    site_a, site_b = sim.pairs()[0]
    assert site_b == breakdown.cluster
    for site in (site_a, site_b):  # the right servers, the wrong timeout: one PATCH per server
        make_external(sim, site, [("10.0.0.5:5696", 25), ("10.0.0.6:5696", 25)])
    report = await run_policy(sim, journal, "apply", EXTERNAL)

    rows = {c.name: c for c in report.clusters}
    assert (rows[site_a].outcome, rows[site_b].outcome) == ("succeeded", "unconfirmed"), rows[site_a].reason
    assert servers(sim, site_a) == WANTED and servers(sim, site_b) == [
        ("10.0.0.5:5696", 25),
        ("10.0.0.6:5696", 25),
    ]
    assert [unit.status for unit in await journal.units(report.run.id)] == ["unconfirmed"]
    assert report.run.exit_code == 1
    (pair,) = report.pairs
    assert (
        pair.outcome == "unconfirmed" and f"{site_a} was changed, {site_b} may not have been" in pair.reason
    )
    assert pair.remediation.startswith("fleet apply -i ") and f"--limit {site_a},{site_b}" in pair.remediation


async def test_a_pair_whose_second_site_refuses_its_change_is_reported_split(sim_fleet, journal):
    """ONTAP's own refusal on site B after site A changed: the pair is split, said of the pair, with
    the command that finishes it; before, only the two cluster rows told."""

    refused = []

    @web.middleware
    async def b_refuses_once(request, handler):
        cluster = request.get(CLUSTER)
        if cluster is not None and cluster.name == "sim-0002" and request.method == "PATCH" and not refused:
            refused.append(request.path)
            return web.json_response(error_body(codes.UNEXPECTED_EXCEPTION), status=400)
        return await handler(request)

    sim = await sim_fleet(clusters=2, mcc_pairs=1, seed=3, middlewares=[b_refuses_once])
    site_a, site_b = sim.pairs()[0]
    for site in (site_a, site_b):
        make_external(sim, site, [("10.0.0.5:5696", 25), ("10.0.0.6:5696", 25)])
    passphrase = f"file:{sim.secrets_dir / f'{site_a}.okm'}"  # the pair's passphrase, by reference
    report = await run_policy(sim, journal, "apply", EXTERNAL, passphrase_ref=passphrase)

    rows = {c.name: c for c in report.clusters}
    assert (rows[site_a].outcome, rows[site_b].outcome) == ("succeeded", "failed")
    (pair,) = report.pairs
    assert pair.outcome == "split" and pair.reason.startswith(
        f"SPLIT: {site_a} was changed, {site_b} was not"
    )
    assert report.summary.pairs["split"] == 1 and report.run.exit_code == 1
    assert [unit.status for unit in await journal.units(report.run.id)] == ["split"]
    assert f"--passphrase {passphrase}" in pair.remediation  # the sync would need the same reference

    again = await run_policy(sim, journal, "apply", EXTERNAL, passphrase_ref=passphrase)  # finishes B
    assert {c.outcome for c in again.clusters} == {"already_current", "succeeded"} and again.pairs == []
    change = consolidate([RunPart(report.run.id, report), RunPart(again.run.id, again)])
    assert change.pairs == [], "the finished pair still showed split"


async def test_a_partner_with_nothing_to_send_is_not_left_split_by_its_sites_change(sim_fleet, journal):
    """A lacks a server B has: apply adds it to A and the sites match. B, judged against A's first
    read, had nothing apply may send; it was reported as left behind, the pair split."""
    sim = await sim_fleet(clusters=2, mcc_pairs=1, seed=3)
    site_a, site_b = sim.pairs()[0]
    make_external(sim, site_a, [("10.0.0.5:5696", 30)])
    make_external(sim, site_b, [("10.0.0.5:5696", 30), ("10.0.0.6:5696", 30)])
    report = await run_policy(sim, journal, "apply", EXTERNAL)
    assert servers(sim, site_a) == servers(sim, site_b) == WANTED
    assert report.pairs == [], report.pairs
    assert [unit.status for unit in await journal.units(report.run.id)] != ["split"]


async def test_a_pair_apply_changes_whole_has_no_pair_record(sim_fleet, journal):
    sim, *_ = await external_pair(sim_fleet)
    report = await run_policy(sim, journal, "apply", EXTERNAL)
    assert {c.outcome for c in report.clusters} == {"succeeded"} and report.pairs == []


async def test_an_add_of_two_servers_lost_with_only_one_in_place_is_unconfirmed(sim_fleet, journal):
    """One POST adds both servers; ONTAP got one in before the connection died. The re-read still
    asks for the other: the add did not take effect, whatever else the re-read shows."""
    half = []

    @web.middleware
    async def adds_one_then_resets(request, handler):
        cluster = request.get(CLUSTER)
        if cluster is None or cluster.name != "sim-0001" or request.method != "POST" or half:
            return await handler(request)
        await handler(request)
        half.append(cluster.key_manager.servers.pop())  # the second server did not make it
        request.transport.abort()
        return web.Response(status=500)

    sim = await sim_fleet(clusters=2, mcc_pairs=1, seed=3, middlewares=[adds_one_then_resets])
    site_a, site_b = sim.pairs()[0]
    assert site_a == "sim-0001"
    for site in (site_a, site_b):
        make_external(sim, site, [("10.9.9.9:5696", 30)])  # apply adds 10.0.0.5 and .6, then removes it
    report = await run_policy(sim, journal, "apply", EXTERNAL)

    rows = {c.name: c for c in report.clusters}
    assert rows[site_a].outcome == "unconfirmed", rows[site_a].reason
    assert rows[site_b].outcome == "skipped" and sim.cluster(site_b).counters.mutations == 0
    assert [s.server for s in half] == ["10.0.0.6:5696"]
    assert sim.cluster(site_a).counters.by_method == {
        "GET": sim.cluster(site_a).counters.by_method["GET"],
        "POST": 1,
    }


async def test_an_answered_sync_asked_for_again_after_a_lost_answer_is_not_sent_twice(sim_fleet, journal):
    """The node sync answered OK, yet a node still lacks keys; then an SVM's key-server add lost its
    answer. The re-read still asks for the sync: sending it again would be a second passphrase
    attempt in one run."""

    @web.middleware
    async def svm_add_answer_lost(request, handler):
        if request.get(CLUSTER) is None or request.method != "POST" or "key-servers" not in request.path:
            return await handler(request)
        await handler(request)
        request.transport.abort()
        return web.Response(status=500)

    sim = await sim_fleet(clusters=3, seed=7, middlewares=[svm_add_answer_lost])
    name = sim.onboard_names()[0]
    make_svm(sim, name, "vs1", ["10.0.0.5:5696"])
    sim.cluster(name).faults.partial_nodes = [lose_keys(sim, name)]  # the sync leaves it behind,
    sim.cluster(name).faults.partial_code = None  # and answers OK all the same
    policy = Policy.model_validate(
        {
            "key_manager": "onboard",
            "require": {"key_store_active": False},
            "svms": {"vs*": {"servers": [server for server, _ in WANTED]}},
        }
    )
    passphrase = f"file:{sim.secrets_dir / f'{name}.okm'}"
    report = await run_policy(sim, journal, "apply", policy, limit=name, passphrase_ref=passphrase)
    row = report.clusters[0]
    assert sim.cluster(name).counters.syncs == 1
    assert row.outcome == "partial" and "not sent twice" in row.reason, row.reason


async def test_apply_never_sends_a_passphrase_the_cluster_refused(sim_fleet, journal):
    """The sync's passphrase was refused (65536139) by an earlier apply: the ledger keeps it from
    being sent again, as it does for rotate and sync (Common Criteria counts wrong attempts)."""
    sim = await sim_fleet(clusters=12, seed=7)
    target = newest(sim)[0]
    lose_keys(sim, target)
    wrong = sim.secrets_dir / "wrong.okm"
    wrong.write_text("not-the-passphrase-" + "x" * 20)
    for _ in range(2):
        report = await run_policy(
            sim, journal, "apply", ONBOARD, limit=target, passphrase_ref=f"file:{wrong}"
        )
    row = report.clusters[0]
    assert sim.cluster(target).wrong_passphrase_total == 1
    assert row.outcome == "failed" and "already refused" in row.reason, row.reason


def test_an_add_is_in_effect_when_a_fresh_read_asks_only_for_other_servers():
    """Adds compare by their servers: one for a server the lost add did not name is another change."""
    sent = Action("add_key_servers", "cl", "key_servers", ("10.0.0.5:5696", "10.0.0.6:5696"))

    def fresh(*actions: Action) -> Evaluation:
        return Evaluation("cl", [], list(actions))

    assert not still_asked(sent, fresh(Action("add_key_servers", "cl", "key_servers", ("10.0.0.7:5696",))))
    assert still_asked(sent, fresh(Action("add_key_servers", "cl", "key_servers", ("10.0.0.6:5696",))))
    assert not still_asked(
        sent, fresh(Action("remove_key_server", "cl", "key_servers", (), server="10.9.9.9:5696"))
    )
    svm_add = Action("add_key_servers", "cl", "svm_key_servers", ("10.0.0.6:5696",), svm="vs1", km="k2")
    assert not still_asked(sent, fresh(svm_add))  # another key manager's
