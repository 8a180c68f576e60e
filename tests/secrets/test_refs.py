"""Secret references: env, file, cmd, {cluster}; errors name cluster, field and reference, never values."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from fleet.errors import InputError
from fleet.secrets import SecretRequest, SecretResolver, resolve_ref

VALUE = "ref-test-passphrase-0123456789abcdef"


def test_env_reference_reads_the_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FLEET_TEST_PW", VALUE)
    secret = resolve_ref("env:FLEET_TEST_PW", cluster="c1", base_dir=tmp_path, purpose="password")
    assert secret.reveal() == VALUE


def test_file_reference_is_relative_to_base_dir_and_cluster_expanded(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    path = tmp_path / "secrets" / "cl-0001.okm"
    path.write_text(VALUE + "\n")
    path.chmod(0o600)
    with capture_logs() as logs:
        secret = resolve_ref("file:secrets/{cluster}.okm", cluster="cl-0001", base_dir=tmp_path, purpose="p")
    assert secret.reveal() == VALUE and logs == []


def test_group_readable_secret_file_is_used_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "pw.txt"
    path.write_text(VALUE)
    path.chmod(0o644)
    with capture_logs() as logs:
        assert (
            resolve_ref("file:pw.txt", cluster="c1", base_dir=tmp_path, purpose="password").reveal() == VALUE
        )
    assert [entry["log_level"] for entry in logs] == ["warning"]
    assert logs[0]["path"] == str(path) and VALUE not in str(logs)


def test_cmd_reference_runs_in_base_dir_with_cluster_expanded(tmp_path: Path) -> None:
    (tmp_path / "vault.sh").write_text('printf "%s-%s\\n" "$1" "$(basename "$PWD")"\n')
    secret = resolve_ref(
        "cmd:sh vault.sh {cluster}", cluster="cl-0007", base_dir=tmp_path, purpose="password"
    )
    assert secret.reveal() == f"cl-0007-{tmp_path.name}"


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("hunter2-literal-password", "literal secrets are refused"),
        ("env:FLEET_SURELY_UNSET_VAR", "FLEET_SURELY_UNSET_VAR is not set"),
        ("file:missing/{cluster}.txt", "missing/c9.txt does not exist"),
        ("cmd:true", "empty value"),
        ("cmd:exit 3", "command exit: exit 3 (run it by hand to see its output)"),
    ],
)
def test_unresolvable_reference_names_cluster_field_and_reference(
    tmp_path: Path, ref: str, message: str
) -> None:
    resolver = SecretResolver(base_dir=tmp_path)
    with pytest.raises(InputError) as caught:
        resolver.resolve(ref, "c9", purpose="vars.okm_passphrase", source=tmp_path / "inv.yml")
    error = caught.value
    assert error.field == "vars.okm_passphrase" and error.file == str(tmp_path / "inv.yml")
    assert "cluster c9" in str(error) and message in str(error) and error.__suppress_context__
    if ref.startswith("hunter2"):
        assert "hunter2" not in str(error)
    else:
        assert repr(ref) in str(error)


def test_failing_command_error_names_the_program_and_exit_code_never_its_output(tmp_path: Path) -> None:
    """A vault script that prints a token (``set -x``) and then fails must not leak it into the error."""
    (tmp_path / "vault-okm").write_text(f"echo {VALUE}\necho '+ vault login -token=tok-5e1d9a' >&2\nexit 1\n")
    ref = "cmd:TOKEN=tok-5e1d9a sh vault-okm"
    with pytest.raises(InputError) as caught:
        resolve_ref(ref, cluster="c1", base_dir=tmp_path, purpose="password")
    message = str(caught.value).replace(repr(ref), "<ref>")
    assert message.endswith("command sh: exit 1 (run it by hand to see its output)")
    assert VALUE not in message and "tok-5e1d9a" not in message


def test_hanging_command_times_out_and_is_killed(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(InputError, match=r"timed out after 0\.3s"):
        resolve_ref(f"cmd:echo {VALUE}; sleep 30", cluster="c1", base_dir=tmp_path, purpose="p", timeout=0.3)
    assert time.monotonic() - started < 5


def test_resolver_caches_per_expanded_reference(tmp_path: Path) -> None:
    counter = tmp_path / "calls"
    resolver = SecretResolver(base_dir=tmp_path)
    ref = f"cmd:echo x >> {counter}; echo {VALUE}-{{cluster}}"
    first = resolver.resolve(ref, "a")
    assert resolver.resolve(ref, "a") is first
    assert resolver.resolve(ref, "b").reveal() == f"{VALUE}-b"
    assert counter.read_text().count("x") == 2


async def test_resolve_many_runs_commands_concurrently_with_a_bound(tmp_path: Path) -> None:
    log = tmp_path / "log"
    ref = f"cmd:echo start >> {log}; sleep 0.3; echo end >> {log}; echo {VALUE}-{{cluster}}"
    requests = [SecretRequest(ref, f"c{i}", "password") for i in range(6)]
    resolver = SecretResolver(base_dir=tmp_path, max_concurrent_cmds=3)
    started = time.monotonic()
    secrets = await resolver.resolve_many(requests)
    elapsed = time.monotonic() - started
    assert [s.reveal() for s in secrets] == [f"{VALUE}-c{i}" for i in range(6)]
    assert 0.55 < elapsed < 1.5  # two batches of three, not six in a row, not all at once
    lines = log.read_text().split()
    assert max(lines[: i + 1].count("start") - lines[: i + 1].count("end") for i in range(len(lines))) <= 3


async def test_resolve_many_reports_first_failure_and_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLEET_TEST_OK", VALUE)
    requests = [
        SecretRequest("env:FLEET_TEST_OK", "c1", "password"),
        SecretRequest("cmd:exit 4", "c2", "vars.okm_passphrase"),
        SecretRequest("env:FLEET_SURELY_UNSET_VAR", "c3", "password"),
    ]
    with pytest.raises(InputError) as caught:
        await SecretResolver(base_dir=tmp_path).resolve_many(requests)
    assert caught.value.field == "vars.okm_passphrase"
    assert "cluster c2" in str(caught.value) and "(and 1 more failed)" in str(caught.value)


async def test_resolve_many_timeout_kills_the_command(tmp_path: Path) -> None:
    marker = tmp_path / "survived"
    ref = f"cmd:sleep 1 && touch {marker}"
    with pytest.raises(InputError, match="timed out"):
        await SecretResolver(base_dir=tmp_path, cmd_timeout=0.2).resolve_many([SecretRequest(ref, "c1")])
    await asyncio.sleep(1.2)
    assert not marker.exists()
    assert os.environ.get("FLEET_SURELY_UNSET_VAR") is None


def test_dot_dot_after_a_symlink_is_read_as_the_operating_system_reads_it(tmp_path: Path) -> None:
    """``link/../secret`` is the link target's sibling, not ``./secret``: a wrong file, a wrong passphrase."""
    (tmp_path / "real" / "sub").mkdir(parents=True)
    (tmp_path / "real" / "secret").write_text("the-right-secret-value\n")
    (tmp_path / "secret").write_text("the-wrong-secret-value\n")
    os.chmod(tmp_path / "real" / "secret", 0o600)
    os.chmod(tmp_path / "secret", 0o600)
    (tmp_path / "link").symlink_to(tmp_path / "real" / "sub")
    secret = resolve_ref("file:link/../secret", cluster="cl-1", base_dir=tmp_path, purpose="password")
    assert secret.reveal() == "the-right-secret-value"
