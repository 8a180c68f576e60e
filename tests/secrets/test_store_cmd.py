"""A ``cmd:`` store drives a user's tool through the documented get/put/delete contract."""

from __future__ import annotations

import stat
import textwrap
from pathlib import Path

import pytest

from fleet.secrets.secret import Secret
from fleet.secrets.store import CmdStore, Promotion, SecretStoreError, open_store

FIRST = Secret("cmd-first-passphrase-" + "a" * 44)
SECOND = Secret("cmd-second-passphrase-" + "b" * 43)

# A tiny vault: one file per cluster and slot under $1. Exit 3 when the value is not there.
VAULT = textwrap.dedent(
    """\
    #!/bin/sh
    root="$1"; op="$2"; cluster="$3"; slot="$4"
    mkdir -p "$root/$cluster"
    case "$op" in
      get)    [ -f "$root/$cluster/$slot" ] || exit 3; cat "$root/$cluster/$slot"; echo ;;
      put)    cat > "$root/$cluster/$slot" ;;
      delete) [ -f "$root/$cluster/$slot" ] || exit 3; rm "$root/$cluster/$slot" ;;
      *)      echo "unknown op $op" >&2; exit 64 ;;
    esac
    """
)


def _tool(tmp_path: Path, name: str, body: str) -> Path:
    tool = tmp_path / name
    tool.write_text(body)
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    return tool


@pytest.fixture
def vault(tmp_path: Path) -> tuple[CmdStore, Path]:
    data = tmp_path / "vault-data"
    tool = _tool(tmp_path, "vault.sh", VAULT)
    store = open_store(f"cmd:{tool} {data}")
    assert isinstance(store, CmdStore)
    return store, data


async def test_slots_move_through_the_users_tool(vault: tuple[CmdStore, Path]) -> None:
    store, data = vault
    await store.set_current("cl-1", FIRST)
    await store.put_pending("cl-1", SECOND)
    await store.promote("cl-1")
    assert await store.get("cl-1", "current") == SECOND
    assert await store.get("cl-1", "previous") == FIRST
    assert await store.get("cl-1", "pending") is None
    assert (data / "cl-1" / "current").read_text() == SECOND.reveal()


async def test_discard_of_a_missing_pending_is_fine(vault: tuple[CmdStore, Path]) -> None:
    store, _ = vault
    await store.discard_pending("cl-2")
    assert await store.get("cl-2", "pending") is None


async def test_a_failing_tool_is_named_with_its_exit_code_never_its_output(tmp_path: Path) -> None:
    echo_and_refuse = '#!/bin/sh\n[ "$1" = get ] && exit 3\nread value\necho "refused $value" >&2\nexit 1\n'
    tool = _tool(tmp_path, "loud.sh", echo_and_refuse)
    store = CmdStore(f"cmd:{tool}")
    with pytest.raises(SecretStoreError) as caught:
        await store.put_pending("cl-1", FIRST)
    assert str(caught.value) == "loud.sh put cl-1 pending: exit 1 (run it by hand to see its output)"


async def test_a_hanging_tool_is_killed_after_the_timeout(tmp_path: Path) -> None:
    tool = _tool(tmp_path, "hang.sh", "#!/bin/sh\nexec sleep 30\n")
    store = CmdStore(f"cmd:{tool}", timeout=0.3)
    with pytest.raises(SecretStoreError, match=r"no answer within 0\.3s"):
        await store.get("cl-1", "current")


async def test_a_missing_tool_is_a_clear_error(tmp_path: Path) -> None:
    store = CmdStore(f"cmd:{tmp_path / 'no-such-tool'}")
    with pytest.raises(SecretStoreError, match="cannot run the store command"):
        await store.get("cl-1", "current")


async def test_promote_with_proof_is_a_compare_and_swap_through_the_tool(
    vault: tuple[CmdStore, Path],
) -> None:
    store, _ = vault
    await store.set_current("cl-1", FIRST)
    await store.put_pending("cl-1", SECOND)
    assert await store.promote("cl-1", FIRST) is Promotion.ALREADY_CURRENT
    assert await store.promote("cl-1", Secret("never-stored-" + "z" * 40)) is Promotion.MISMATCH
    assert await store.get("cl-1", "pending") == SECOND
    assert await store.promote("cl-1", SECOND) is Promotion.PROMOTED
    assert (await store.get("cl-1", "current"), await store.get("cl-1", "previous")) == (SECOND, FIRST)


async def test_a_pending_value_replaced_right_after_our_put_is_detected(tmp_path: Path) -> None:
    """The read-back after ``put`` catches another writer that came after us (see CmdStore's race)."""
    data = tmp_path / "vault-data"
    # A vault where another process's put lands right after ours: stdin is ignored, theirs is stored.
    racing = VAULT.replace(
        'put)    cat > "$root/$cluster/$slot" ;;',
        'put)    cat >/dev/null; echo theirs-"$$" > "$root/$cluster/$slot" ;;',
    )
    assert racing != VAULT
    store = CmdStore(f"cmd:{_tool(tmp_path, 'racing.sh', racing)} {data}")
    with pytest.raises(SecretStoreError, match="different pending"):
        await store.put_pending("cl-1", FIRST)
    assert (data / "cl-1" / "pending").read_text().startswith("theirs-")
