"""Harvest and Ansible estates rotated as their admins would: real files, ``--overlay`` for what they
cannot say, ``--import-password`` for what fleet will not read, against the simulator."""

from __future__ import annotations

import asyncio
import json
import shlex
import shutil
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from enginekit import NEW_PASSPHRASE
from simfleet import SimFleet
from test_cli_rotate import run_fleet

from fleet.cli import main
from fleet.engine.spec import RunSpec
from fleet.engine.steps.pair import heal_command
from fleet.errors import InputError
from fleet.outcomes import RunKind

FIXTURES = Path(__file__).parent.parent / "fixtures"


def standalone_onboard(sim: SimFleet) -> str:
    return next(n for n in sim.onboard_names() if sim.cluster(n).metrocluster is None)


def outputs(*texts: str, paths: tuple[Path, ...] = ()) -> str:
    return "".join(texts) + "".join(path.read_text() for path in paths if path.exists())


async def test_harvest_docs_credentials_script_example_rotates_over_the_simulator(sim_fleet, tmp_path):
    """NetApp's documented example (no username; ./get_pass prints the password) plus an overlay."""
    sim = await sim_fleet(clusters=4, seed=21)
    name = standalone_onboard(sim)
    sim.cluster(name).password = "pass-from-script"  # what pkg/auth/testdata/get_pass prints
    folder = tmp_path / "harvest"
    folder.mkdir()
    example = (FIXTURES / "harvest" / "harvest_docs_credentials_script_example.yml").read_text()
    harvest = folder / "harvest.yml"
    harvest.write_text(example.replace("addr: 10.1.1.1", f"addr: {sim.server.address(name)}"))
    shutil.copy2(FIXTURES / "harvest" / "get_pass", folder / "get_pass")
    new = tmp_path / "new.okm"
    new.write_text(NEW_PASSPHRASE)
    new.chmod(0o600)
    common = ["--current", f"file:{sim.secrets_dir / f'{name}.okm'}", "--new", f"file:{new}", "--insecure"]
    common += ["--journal", str(tmp_path / "j.db")]

    # Harvest has no default user name and get_pass prints none: refused before any request.
    overlay = tmp_path / "overlay.yml"
    overlay.write_text(f"clusters:\n  ontap1: {{ontap_name: {name}}}\n")
    source = ["-i", str(harvest), "--overlay", str(overlay)]
    code, _, err = await run_fleet("rotate", *source, *common, cwd=tmp_path)
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert str(harvest) in err and "Pollers.ontap1.username" in err and "no username" in err
    assert sim.requests() == 0

    overlay.write_text(f"clusters:\n  ontap1: {{ontap_name: {name}, username: admin}}\n")
    report = tmp_path / "report.json"
    code, out, err = await run_fleet("rotate", *source, *common, "--report", str(report), cwd=tmp_path)
    assert code == 0, err
    assert sim.passphrase(name) == NEW_PASSPHRASE  # the simulator's own truth
    [row] = json.loads(report.read_text())["clusters"]
    assert (row["name"], row["outcome"]) == ("ontap1", "succeeded")
    assert "pass-from-script" not in outputs(out, err, paths=(report,))


def harvest_pair_files(sim: SimFleet, folder: Path) -> tuple[str, str]:
    """A harvest.yml for one MetroCluster pair whose credentials come from Harvest's YAML-form script."""
    a, b = sim.pairs()[0]
    for name in (a, b):
        sim.cluster(name).username = "script-username"  # what get_credentials_yaml prints
        sim.cluster(name).password = "script-password"
    folder.mkdir()
    shutil.copy2(FIXTURES / "harvest" / "get_credentials_yaml", folder / "get_credentials_yaml")
    (folder / "harvest.yml").write_text(
        textwrap.dedent(
            f"""
            Exporters:
              prometheus: {{exporter: Prometheus, port: 12990}}
            Defaults:
              collectors: [Rest, RestPerf]
              exporters: [prometheus]
              ca_cert: {sim.ca_file}
              credentials_script: {{path: ./get_credentials_yaml, schedule: 3h, timeout: 10s}}
            Pollers:
              unix: {{datacenter: local, addr: localhost, collectors: [Unix]}}
              {a}: {{datacenter: east, addr: {sim.server.address(a)}}}
              {b}: {{datacenter: west, addr: {sim.server.address(b)}}}
            """
        )
    )
    return a, b


async def test_a_harvest_pair_declared_in_an_overlay_rotates_and_resumes_with_it(sim_fleet, tmp_path):
    """YAML credentials-script output, datacenter as site, the overlay's pair; resume keeps the overlay."""
    sim = await sim_fleet(clusters=4, mcc_pairs=1, seed=5)
    a, b = harvest_pair_files(sim, tmp_path / "harvest")
    (tmp_path / "overlay.yml").write_text(
        f"clusters:\n  {a}: {{metrocluster_partner: {b}}}\n  {b}: {{metrocluster_partner: {a}}}\n"
    )
    (tmp_path / "new.okm").write_text(NEW_PASSPHRASE)
    journal = str(tmp_path / "j.db")
    first = tmp_path / "first.json"
    closing = (datetime.now(UTC) + timedelta(seconds=20)).strftime("%Y-%m-%dT%H:%M:%SZ")
    code, _, err = await run_fleet(
        "rotate", "-i", "harvest/harvest.yml", "--overlay", "overlay.yml",
        "--current", f"file:{sim.secrets_dir}/{{cluster}}.okm", "--new", "file:new.okm",
        "--first-site", "site=east", "--journal", journal, "--window-end", closing, "--report", str(first),
        cwd=tmp_path,
    )  # fmt: skip
    assert code == 4, err  # the window closes before the pair could start: nothing sent
    assert sim.mutations() == 0
    recorded = json.loads(first.read_text())["run"]
    assert recorded["options"]["overlay"] == str(tmp_path / "overlay.yml")
    assert recorded["inventory"] == f"{tmp_path / 'harvest' / 'harvest.yml'};{tmp_path / 'overlay.yml'}"

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    resumed = tmp_path / "resumed.json"
    tonight = (datetime.now(UTC) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    code, out, err = await run_fleet(
        "resume", recorded["id"], "--journal", journal, "--window-end", tonight, "--report", str(resumed),
        cwd=elsewhere,
    )  # fmt: skip
    assert code == 0, err
    assert sim.passphrase(a) == sim.passphrase(b) == NEW_PASSPHRASE
    report = json.loads(resumed.read_text())
    [pair] = report["pairs"]
    assert (sorted(pair["sites"]), pair["first"], pair["outcome"]) == (sorted([a, b]), a, "rotated")
    assert {row["name"]: row["outcome"] for row in report["clusters"]} == {a: "succeeded", b: "succeeded"}
    assert "script-password" not in outputs(out, err, paths=(first, resumed))


async def test_a_harvest_literal_password_is_replaced_by_import_password(sim_fleet, tmp_path):
    sim = await sim_fleet(clusters=4, seed=21)
    name = standalone_onboard(sim)
    harvest = tmp_path / "harvest.yml"
    harvest.write_text(
        f"Pollers:\n  {name}:\n    addr: {sim.server.address(name)}\n    username: admin\n"
        f"    password: hunter2-literal-in-harvest\n    ca_cert: {sim.ca_file}\n"
    )
    new = tmp_path / "new.okm"
    new.write_text(NEW_PASSPHRASE)
    args = ["rotate", "-i", str(harvest), "--current", f"file:{sim.secrets_dir / f'{name}.okm'}"]
    args += ["--new", f"file:{new}", "--journal", str(tmp_path / "j.db")]
    code, _, err = await run_fleet(*args, cwd=tmp_path)
    assert code == 2 and f"Pollers.{name}.password" in err and "--import-password" in err
    assert "hunter2" not in err and sim.requests() == 0

    report = tmp_path / "report.json"
    env = {"SIM_PASSWORD": sim.cluster(name).password}
    code, out, err = await run_fleet(
        *args, "--import-password", "env:SIM_PASSWORD", "--report", str(report), cwd=tmp_path, env=env
    )
    assert code == 0, err
    assert sim.passphrase(name) == NEW_PASSPHRASE
    assert json.loads(report.read_text())["run"]["options"]["import_password"] == "env:SIM_PASSWORD"
    written = outputs(out, err, paths=(report,))
    assert "hunter2" not in written and sim.cluster(name).password not in written


def ansible_inventory() -> str | None:
    beside = Path(sys.executable).parent / "ansible-inventory"
    return str(beside) if beside.exists() else shutil.which("ansible-inventory")


async def test_an_ansible_ini_estate_rotates_through_ansible_inventory_list(sim_fleet, tmp_path):
    """INI + group_vars, as an Ansible admin has them; INI itself gets the one-line hint."""
    sim = await sim_fleet(clusters=4, mcc_pairs=1, seed=5)
    a, b = sim.pairs()[0]
    solo = standalone_onboard(sim)
    for name in (a, b, solo):
        sim.cluster(name).password = "one-ansible-password"
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "hosts.ini").write_text(
        f"{solo} netapp_hostname={sim.server.address(solo)}\n\n"
        f"[east]\n{a} netapp_hostname={sim.server.address(a)} metrocluster_partner={b}\n\n"
        f"[west]\n{b} netapp_hostname={sim.server.address(b)} metrocluster_partner={a}\n"
    )
    (tmp_path / "group_vars" / "all.yml").write_text(
        "netapp_username: admin\n"
        "netapp_password: \"{{ lookup('env', 'ONTAP_PASSWORD') }}\"\n"
        'hostname: "{{ netapp_hostname }}"\n'
        f"ca_file: {sim.ca_file}\n"
        f"okm_passphrase: file:{sim.secrets_dir}/{{cluster}}.okm\n"
    )
    (tmp_path / "group_vars" / "east.yml").write_text("labels: {site: east}\n")
    (tmp_path / "new.okm").write_text(NEW_PASSPHRASE)
    env = {"ONTAP_PASSWORD": "one-ansible-password"}
    rotate = ["rotate", "--new", "file:new.okm", "--journal", str(tmp_path / "j.db")]

    code, _, err = await run_fleet(*rotate, "-i", "hosts.ini", cwd=tmp_path, env=env)
    assert code == 2 and sim.requests() == 0
    ini = tmp_path / "hosts.ini"
    assert err == (
        f"fleet: error: {ini}: this looks like an Ansible INI inventory: "
        f"run `ansible-inventory -i {ini} --list > inv.json` and pass that\n"
    )

    program = ansible_inventory()
    if program is None:
        pytest.skip("ansible-inventory is not installed (pip install -e '.[test]' brings ansible-core)")
    listing = await asyncio.create_subprocess_exec(
        program, "-i", "hosts.ini", "--list", cwd=tmp_path, stdout=asyncio.subprocess.PIPE
    )
    listed, _ = await listing.communicate()
    assert listing.returncode == 0
    (tmp_path / "inv.json").write_bytes(listed)
    report = tmp_path / "report.json"
    rotate += ["--report", str(report)]
    code, out, err = await run_fleet(*rotate, "-i", "inv.json", cwd=tmp_path, env=env)
    assert code == 0, err
    assert all(sim.passphrase(name) == NEW_PASSPHRASE for name in (a, b, solo))
    assert [pair["first"] for pair in json.loads(report.read_text())["pairs"]] == [a]
    assert "one-ansible-password" not in outputs(out, err, paths=(report,))


def test_every_command_that_takes_an_inventory_takes_overlay_and_import_password():
    for command in ("rotate", "sync", "apply", "plan", "sweep"):
        text = CliRunner().invoke(main, [command, "--help"], terminal_width=200).output
        assert "--overlay" in text and "--import-password REF" in text, command


def test_runspec_keeps_overlay_and_import_password_absolute_and_refuses_a_literal(tmp_path):
    spec = RunSpec.create(
        kind=RunKind.ROTATE,
        workdir=tmp_path,
        inventory="harvest.yml",
        overlay="site/overlay.yml",
        import_password="file:secrets/ontap.pw",
        new="file:new.okm",
    )
    assert spec.overlay == tmp_path / "site" / "overlay.yml"
    assert spec.import_password == f"file:{tmp_path / 'secrets' / 'ontap.pw'}"
    assert RunSpec.from_journal("rotate", spec.options()) == spec
    scripted = RunSpec.create(
        kind=RunKind.SYNC, workdir=tmp_path, inventory="h.yml", import_password="cmd:./pw x"
    )
    assert scripted.import_password == f"cmd:{shlex.join([str(tmp_path / 'pw'), 'x'])}"
    with pytest.raises(InputError) as caught:
        RunSpec.create(kind=RunKind.SYNC, workdir=tmp_path, inventory="h.yml", import_password="Hunter2!")
    assert caught.value.field == "--import-password" and "Hunter2" not in str(caught.value)


def test_the_split_pair_remedy_names_the_overlay_and_import_password(tmp_path):
    spec = RunSpec.create(
        kind=RunKind.ROTATE,
        workdir=tmp_path,
        inventory="harvest.yml",
        overlay="overlay.yml",
        import_password="env:ONTAP_PASSWORD",
        new="file:new.okm",
    )
    assert heal_command(spec, "cl-a", "cl-b") == (
        f"fleet sync -i {tmp_path / 'harvest.yml'} --overlay {tmp_path / 'overlay.yml'} "
        f"--import-password env:ONTAP_PASSWORD --passphrase file:{tmp_path / 'new.okm'} --limit cl-a,cl-b"
    )
