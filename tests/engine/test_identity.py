"""An inventory name that points at another cluster is refused before any change; ontap_name allows it."""

from __future__ import annotations

from enginekit import by_name


def rename(sim, old: str, new: str, *, ontap_name: str | None = None) -> None:
    """The inventory calls cluster ``old`` ``new`` (its secrets follow: they are named per entry)."""
    text = sim.inventory.read_text()
    entry = f"- name: {new}\n" + (f"  ontap_name: {ontap_name}\n" if ontap_name else "")
    sim.inventory.write_text(text.replace(f"- name: {old}\n", entry, 1))
    for kind in ("password", "okm"):
        source = sim.secrets_dir / f"{old}.{kind}"
        target = sim.secrets_dir / f"{new}.{kind}"
        target.write_text(source.read_text())
        target.chmod(0o600)


async def test_an_inventory_name_pointing_at_another_cluster_is_refused_before_any_change(sim_fleet, runner):
    sim = await sim_fleet(clusters=4, seed=3)
    victim = sim.onboard_names()[0]
    rename(sim, victim, "prod-ams-07")  # the entry's address still answers as `victim`
    before = sim.passphrase(victim)
    report = await runner.rotate(sim.inventory)
    row = by_name(report)["prod-ams-07"]
    assert row.outcome == "refused"
    assert f"answers as cluster {victim!r}" in row.reason and "'prod-ams-07'" in row.reason
    assert sim.cluster(victim).counters.mutations == 0 and sim.passphrase(victim) == before
    assert report.run.exit_code == 1
    others = [r for r in report.clusters if r.name != "prod-ams-07" and r.outcome != "skipped"]
    assert others and all(r.outcome == "succeeded" for r in others)


async def test_ontap_name_declares_the_name_the_cluster_reports(sim_fleet, runner):
    sim = await sim_fleet(clusters=4, seed=3)
    victim = sim.onboard_names()[0]
    rename(sim, victim, "prod-ams-07", ontap_name=victim)
    report = await runner.rotate(sim.inventory)
    assert by_name(report)["prod-ams-07"].outcome == "succeeded"
    assert sim.cluster(victim).counters.rotations == 1


async def test_a_cluster_answering_with_another_name_is_refused_before_any_change(sim_fleet, runner):
    """The address now answers as another cluster (DNS moved, a swapped cable): never rotated."""
    sim = await sim_fleet(clusters=4, seed=3)
    name = sim.onboard_names()[0]
    sim.cluster(name).answer_name = "prod-ams-07"
    report = await runner.rotate(sim.inventory, limit=name)
    row = by_name(report)[name]
    assert row.outcome == "refused" and "answers as cluster 'prod-ams-07'" in row.reason
    assert list(report.failures.by_code) == ["not_that_cluster"]
    assert report.failures.by_code["not_that_cluster"].kind == "refused"
    assert "ontap_name" in report.failures.by_code["not_that_cluster"].next_step
    assert sim.cluster(name).counters.mutations == 0
