"""A helper command is named by its program's basename, never by what it prints or is given."""

from __future__ import annotations

import pytest

from fleet.secrets.helper import command_name, exit_message


@pytest.mark.parametrize(
    ("command", "name"),
    [
        ("/opt/vault/bin/vault-okm --field okm {cluster}", "vault-okm"),
        ("VAULT_TOKEN=s.abc123 vault kv get -field=okm secret/okm", "vault"),
        ("'unbalanced /usr/bin/op read", "'unbalanced"),
        (["/usr/local/bin/okm-store", "--profile", "prod"], "okm-store"),
        ("", "the command"),
    ],
)
def test_command_name_is_the_programs_basename_without_assignments(command, name) -> None:
    assert command_name(command) == name


def test_exit_message_is_name_code_and_a_fixed_hint() -> None:
    assert exit_message("okm-store put c1 pending", 2) == (
        "okm-store put c1 pending: exit 2 (run it by hand to see its output)"
    )
