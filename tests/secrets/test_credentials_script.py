"""``script:`` references: a credentials script read as NetApp Harvest reads one."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fleet.errors import InputError
from fleet.secrets import SecretRequest, SecretResolver

HARVEST_FILES = Path(__file__).parent.parent / "fixtures" / "harvest"


def script(tmp_path: Path, name: str, body: str) -> None:
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o700)


async def test_harvests_own_test_scripts_give_a_password_and_a_username(tmp_path: Path) -> None:
    """pkg/auth/testdata/get_pass prints a password; get_credentials_yaml prints Harvest's YAML form."""
    for name in ("get_pass", "get_credentials_yaml"):
        shutil.copy2(HARVEST_FILES / name, tmp_path / name)
    resolver = SecretResolver()
    plain = SecretRequest("script:./get_pass 10.1.1.1", "ontap1", "password", base_dir=tmp_path)
    yaml_form = SecretRequest(
        "script:./get_credentials_yaml 10.1.1.2", "ontap2", "password", base_dir=tmp_path
    )
    first, second = await resolver.resolve_many([plain, yaml_form])
    assert first.reveal() == "pass-from-script" and resolver.username(plain) is None
    assert second.reveal() == "script-password" and resolver.username(yaml_form) == "script-username"
    assert resolver.resolve("script:./get_credentials_yaml 10.1.1.2", "ontap2", base_dir=tmp_path) == second


@pytest.mark.parametrize(
    ("printed", "password", "username"),
    [
        ("password: 'my pass # 1'\n", "my pass # 1", None),
        ("username: u1\npassword: p1\nextra: [1, 2]\n", "p1", "u1"),
        ("foo: bar\n", "foo: bar", None),  # YAML without a password: the text itself, as Harvest does
        ("  plain-secret  \n", "plain-secret", None),
    ],
)
async def test_the_output_is_yaml_with_a_password_or_else_the_password_itself(
    tmp_path: Path, printed: str, password: str, username: str | None
) -> None:
    (tmp_path / "out.txt").write_text(printed)
    script(tmp_path, "creds", "cat out.txt\n")
    resolver = SecretResolver(base_dir=tmp_path)
    request = SecretRequest("script:./creds", "c1", "password", base_dir=tmp_path)
    [secret] = await resolver.resolve_many([request])
    assert (secret.reveal(), resolver.username(request)) == (password, username)


async def test_cmd_references_stay_plain_text(tmp_path: Path) -> None:
    (tmp_path / "out.txt").write_text("username: u1\npassword: p1\n")
    resolver = SecretResolver(base_dir=tmp_path)
    request = SecretRequest("cmd:cat out.txt", "c1", "password", base_dir=tmp_path)
    [secret] = await resolver.resolve_many([request])
    assert secret.reveal() == "username: u1\npassword: p1" and resolver.username(request) is None


async def test_an_auth_token_is_refused_without_showing_it(tmp_path: Path) -> None:
    script(tmp_path, "creds", "echo 'authToken: eyJhbGciOiJSUzI1NiJ9.token-value'\n")
    resolver = SecretResolver(base_dir=tmp_path)
    with pytest.raises(InputError) as caught:
        await resolver.resolve_many([SecretRequest("script:./creds", "c1", "password", base_dir=tmp_path)])
    assert "authToken" in str(caught.value) and "token-value" not in str(caught.value)
