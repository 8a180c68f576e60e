"""MetroCluster pairs: one unit; site A rotates, then site B is synced with the NEW passphrase."""

from __future__ import annotations

import asyncio

from aiohttp import web
from enginekit import NEW_PASSPHRASE, by_name

from fleet.secrets import Secret
from fleet.sim.http import CLUSTER


def pair_mutation_watch(partner_of: dict[str, str], overlaps: list[tuple[str, str]]):
    """A middleware recording whenever both sites of a pair have a key-manager mutation in flight."""
    in_flight: dict[str, int] = {}

    @web.middleware
    async def watch(request, handler):
        cluster = request.get(CLUSTER)
        mutating = request.method in ("PATCH", "POST", "DELETE") and request.path.startswith("/api/security")
        if cluster is None or not mutating:
            return await handler(request)
        in_flight[cluster.name] = in_flight.get(cluster.name, 0) + 1
        partner = partner_of.get(cluster.name)
        if partner and in_flight.get(partner, 0):
            overlaps.append((cluster.name, partner))
        try:
            await asyncio.sleep(0.002)  # widen the window a concurrent partner mutation would hit
            return await handler(request)
        finally:
            in_flight[cluster.name] -= 1

    return watch


async def test_healthy_pair_rotates_site_a_then_syncs_site_b(sim_fleet, runner):
    sim = await sim_fleet(clusters=4, mcc_pairs=1, seed=11)
    old = sim.passphrase("sim-0001")
    assert old == sim.passphrase("sim-0002")
    report = await runner.rotate(sim.inventory)
    [pair] = report.pairs
    assert pair.outcome == "rotated" and pair.first == "sim-0001"
    rows = by_name(report)
    assert rows["sim-0001"].partner == "sim-0002" and rows["sim-0002"].partner == "sim-0001"
    for site in ("sim-0001", "sim-0002"):
        assert rows[site].outcome == "succeeded", rows[site].reason
        assert sim.passphrase(site) == NEW_PASSPHRASE
        assert sim.cluster(site).pending_partner_sync is None
        assert rows[site].key_backup_sha256
    assert sim.cluster("sim-0001").counters.rotations == 1
    assert sim.cluster("sim-0002").counters.rotations == 0
    assert sim.cluster("sim-0002").counters.syncs == 1
    assert pair.fingerprints["sim-0001"] == pair.fingerprints["sim-0002"]
    # both sites went from the pair's old passphrase to the new one, as the journal recorded it
    previous = {rows[site].previous_passphrase_fingerprint for site in ("sim-0001", "sim-0002")}
    assert len(previous) == 1 and None not in previous
    assert previous != {pair.fingerprints["sim-0001"]}
    assert previous == {runner.journal.fingerprint(Secret(old))}


async def test_site_a_failure_leaves_site_b_untouched(sim_fleet, runner):
    sim = await sim_fleet(clusters=2, mcc_pairs=1, seed=11)
    wrong = runner.secret_file("wrong.okm", "W" * 40)
    report = await runner.rotate(sim.inventory, current_ref=wrong)
    [pair] = report.pairs
    assert pair.outcome == "failed"
    assert sim.cluster("sim-0002").counters.mutations == 0
    assert by_name(report)["sim-0002"].outcome == "skipped"
    assert report.run.exit_code == 1


def refuse_once(name: str):
    """``name`` refuses its next PATCH (B's partner sync) as ONTAP does: "the change of passphrase failed"."""
    refusals = {name: 1}

    @web.middleware
    async def refuse(request, handler):
        cluster = request.get(CLUSTER)
        if cluster is not None and request.method == "PATCH" and refusals.get(cluster.name):
            refusals[cluster.name] -= 1
            body = {"error": {"message": "The change of passphrase failed.", "code": "65536406"}}
            return web.json_response(body, status=400)
        return await handler(request)

    return refuse


async def test_partner_sync_failure_is_split_with_remediation_then_fleet_sync_heals_it(sim_fleet, runner):
    sim = await sim_fleet(clusters=2, mcc_pairs=1, seed=11, middlewares=[refuse_once("sim-0002")])
    old = sim.passphrase("sim-0001")
    report = await runner.rotate(sim.inventory)
    [pair] = report.pairs
    assert pair.outcome == "split", pair.reason
    assert "fleet sync" in pair.remediation and "sim-0002" in pair.remediation
    assert pair.fingerprints["sim-0001"] != pair.fingerprints["sim-0002"]
    assert sim.passphrase("sim-0001") == NEW_PASSPHRASE and sim.passphrase("sim-0002") == old
    assert sim.cluster("sim-0002").pending_partner_sync is not None
    assert report.run.exit_code == 1
    healed = await runner.sync(
        sim.inventory, passphrase_ref=runner.secret_file("new.okm", NEW_PASSPHRASE), limit="sim-0002"
    )
    assert by_name(healed)["sim-0002"].outcome == "succeeded"
    assert sim.passphrase("sim-0002") == NEW_PASSPHRASE
    assert sim.cluster("sim-0002").pending_partner_sync is None
    assert sim.cluster("sim-0001").counters.rotations == 1  # A was never changed again


def rewrite_partners(inventory, partners: dict[str, str | None]) -> None:
    """Edit the inventory's metrocluster_partner fields (None removes one)."""
    import yaml

    document = yaml.safe_load(inventory.read_text())
    for entry in document["clusters"]:
        if entry["name"] in partners:
            if partners[entry["name"]] is None:
                entry.pop("metrocluster_partner", None)
            else:
                entry["metrocluster_partner"] = partners[entry["name"]]
    inventory.write_text(yaml.safe_dump(document, sort_keys=False))


async def test_unreachable_partner_skips_the_pair_and_changes_nothing(sim_fleet, runner):
    sim = await sim_fleet(clusters=4, mcc_pairs=2, seed=11)
    sim.cluster("sim-0003").metrocluster.partner_reachable = False
    report = await runner.rotate(sim.inventory)
    pairs = {pair.name: pair for pair in report.pairs}
    assert pairs["sim-0003+sim-0004"].outcome == "skipped"
    assert "not reachable" in pairs["sim-0003+sim-0004"].reason
    assert sim.cluster("sim-0003").counters.mutations == 0 and sim.cluster("sim-0004").counters.mutations == 0
    assert pairs["sim-0001+sim-0002"].outcome == "rotated"


async def test_switchover_mode_skips_the_pair(sim_fleet, runner):
    sim = await sim_fleet(clusters=2, mcc_pairs=1, seed=12)
    sim.cluster("sim-0002").metrocluster.mode = "switchover"
    report = await runner.rotate(sim.inventory)
    [pair] = report.pairs
    assert pair.outcome == "skipped" and "switchover" in pair.reason
    assert sim.mutations() == 0


async def test_inventory_pairing_that_ontap_contradicts_is_refused(sim_fleet, runner):
    sim = await sim_fleet(clusters=4, mcc_pairs=2, seed=13)
    rewrite_partners(
        sim.inventory,
        {"sim-0001": "sim-0003", "sim-0003": "sim-0001", "sim-0002": "sim-0004", "sim-0004": "sim-0002"},
    )
    report = await runner.rotate(sim.inventory)
    assert {pair.outcome for pair in report.pairs} == {"refused"}
    assert all("pairing mismatch" in pair.reason for pair in report.pairs)
    assert {record.outcome for record in report.clusters} == {"refused"}
    assert list(report.failures.by_code) == ["mcc_partner_mismatch"]
    group = report.failures.by_code["mcc_partner_mismatch"]
    assert group.kind == "refused" and group.clusters == ["sim-0001", "sim-0002", "sim-0003", "sim-0004"]
    assert "metrocluster_partner" in group.next_step and "file an issue" not in group.next_step
    assert sim.mutations() == 0


async def test_cluster_in_a_metrocluster_the_inventory_does_not_pair_is_refused(sim_fleet, runner):
    sim = await sim_fleet(clusters=3, mcc_pairs=1, seed=13)
    rewrite_partners(sim.inventory, {"sim-0001": None, "sim-0002": None})
    report = await runner.rotate(sim.inventory)
    rows = by_name(report)
    for site in ("sim-0001", "sim-0002"):
        assert rows[site].outcome == "refused" and "MetroCluster" in rows[site].reason
    assert list(report.failures.by_code) == ["mcc_partner_unlisted"]
    assert report.failures.by_code["mcc_partner_unlisted"].kind == "refused"
    assert sim.cluster("sim-0001").counters.mutations == 0 and sim.cluster("sim-0002").counters.mutations == 0


async def test_a_site_whose_partner_is_missing_from_the_inventory_is_refused_with_a_next_step(
    sim_fleet, tmp_path
):
    """An expected safety refusal is no fleet bug: its own kind and a next step, never "internal"."""
    import json

    import yaml
    from test_cli_rotate import run_fleet

    sim = await sim_fleet(clusters=3, mcc_pairs=1, seed=13)
    document = yaml.safe_load(sim.inventory.read_text())
    document["clusters"] = [entry for entry in document["clusters"] if entry["name"] != "sim-0002"]
    for entry in document["clusters"]:
        entry.pop("metrocluster_partner", None)
    sim.inventory.write_text(yaml.safe_dump(document, sort_keys=False))
    new = tmp_path / "new.okm"
    new.write_text(NEW_PASSPHRASE)
    report_path = tmp_path / "r.json"
    code, out, err = await run_fleet(
        "rotate", "-i", str(sim.inventory), "--new", f"file:{new}", "--report", str(report_path),
        "--journal", str(tmp_path / "j.db"), cwd=tmp_path,
    )  # fmt: skip
    assert code == 1, out + err
    report = json.loads(report_path.read_text())
    rows = {row["name"]: row for row in report["clusters"]}
    assert rows["sim-0001"]["outcome"] == "refused"
    assert "sim-0002" in rows["sim-0001"]["reason"]  # the partner ONTAP names
    assert "metrocluster_partner: sim-0002" in rows["sim-0001"]["reason"]
    assert rows["sim-0003"]["outcome"] == "succeeded"
    [key] = report["failures"]["by_code"]
    group = report["failures"]["by_code"][key]
    assert key == "mcc_partner_unlisted" and group["kind"] == "refused"
    assert group["clusters"] == ["sim-0001"]
    assert "metrocluster_partner" in group["next_step"] and "--limit" in group["next_step"]
    [step] = [s for s in rows["sim-0001"]["steps"] if s["status"] == "failed"]
    assert step["error"]["kind"] == "refused" and step["error"]["key"] == key
    assert "internal" not in out and "file an issue" not in out
    assert "mcc_partner_unlisted" in out and "metrocluster_partner" in out
    assert sim.cluster("sim-0001").counters.mutations == 0


async def test_fifty_pairs_at_concurrency_64_never_mutate_both_sites_at_once(sim_fleet, runner):
    overlaps: list[tuple[str, str]] = []
    partner_of = {}
    for index in range(1, 101, 2):
        a, b = f"sim-{index:04d}", f"sim-{index + 1:04d}"
        partner_of[a], partner_of[b] = b, a
    sim = await sim_fleet(
        clusters=110, mcc_pairs=50, seed=14, middlewares=[pair_mutation_watch(partner_of, overlaps)]
    )
    report = await runner.rotate(sim.inventory, concurrency=64)
    assert overlaps == []
    assert sum(sim.cluster(name).counters.mutations for name in partner_of) >= 100  # the watch saw them
    assert len(report.pairs) == 50 and {pair.outcome for pair in report.pairs} == {"rotated"}
    assert all(sim.cluster(name).pending_partner_sync is None for name in sim.fleet.clusters)
    assert all(sim.passphrase(name) == NEW_PASSPHRASE for name in partner_of)


async def test_the_heal_command_of_a_split_pair_runs_as_printed_and_exits_0(sim_fleet, tmp_path):
    """The report's heal command names the run's inventory, the new passphrase and both sites."""
    import json
    import shlex

    from test_cli_rotate import run_fleet

    sim = await sim_fleet(clusters=2, mcc_pairs=1, seed=11, middlewares=[refuse_once("sim-0002")])
    env = {"FLEET_JOURNAL": str(tmp_path / "journal.db")}
    report_path = tmp_path / "rotate.json"
    code, _, err = await run_fleet(
        "rotate", "-i", str(sim.inventory), "--new", "generate", "--store", str(tmp_path / "store"),
        "--report", str(report_path), cwd=tmp_path, env=env,
    )  # fmt: skip
    assert code == 1, err
    [pair] = json.loads(report_path.read_text())["pairs"]
    assert pair["outcome"] == "split" and "<" not in pair["remediation"]
    command = shlex.split(pair["remediation"])
    assert command[:2] == ["fleet", "sync"]
    code, out, err = await run_fleet(
        *command[1:], "--report", str(tmp_path / "heal.json"), cwd=tmp_path, env=env
    )
    assert code == 0, out + err
    healed = {c["name"]: c["outcome"] for c in json.loads((tmp_path / "heal.json").read_text())["clusters"]}
    assert healed == {"sim-0001": "succeeded", "sim-0002": "succeeded"}
    assert sim.passphrase("sim-0001") == sim.passphrase("sim-0002")
    assert sim.cluster("sim-0002").pending_partner_sync is None
