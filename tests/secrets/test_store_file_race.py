"""Two processes writing ``pending`` for one cluster on one FileStore: exactly one wins."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from fleet.secrets.secret import Secret
from fleet.secrets.store import FileStore, SecretStoreError

REPO_ROOT = str(Path(__file__).resolve().parents[2])
ROUNDS = 40

# Each racer puts its own value as pending for cluster r<i>, at the same moment as the other.
_RACER = textwrap.dedent(
    """
    import asyncio, json, sys
    from fleet.secrets.secret import Secret
    from fleet.secrets.store import FileStore, SecretStoreError

    async def main(root: str, name: str, rounds: int) -> None:
        store = FileStore(root)
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        results = {}
        for i in range(rounds):
            try:
                await store.put_pending(f"r{i}", Secret(f"{name}-passphrase-{i:04d}-" + name[0] * 40))
                results[f"r{i}"] = "won"
            except SecretStoreError as exc:
                results[f"r{i}"] = "refused" if "different pending" in str(exc) else str(exc)
        print(json.dumps(results), flush=True)

    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
    """
)


def _value(name: str, i: int) -> str:
    return f"{name}-passphrase-{i:04d}-" + name[0] * 40


def _race(root: Path, names: tuple[str, ...]) -> list[dict[str, str]]:
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _RACER, str(root), name, str(ROUNDS)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": REPO_ROOT},
        )
        for name in names
    ]
    for child in children:
        assert child.stdout is not None and child.stdout.readline() == "ready\n"
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    results = []
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        results.append(json.loads(out))
    return results


async def test_two_processes_putting_different_pending_values_one_wins(tmp_path: Path) -> None:
    """Exactly one process stores its value; the other gets SecretStoreError; the file is the winner's."""
    store = FileStore(tmp_path)
    alpha, beta = await asyncio.to_thread(_race, tmp_path, ("alpha", "beta"))
    for i in range(ROUNDS):
        cluster = f"r{i}"
        assert sorted([alpha[cluster], beta[cluster]]) == ["refused", "won"], (cluster, alpha, beta)
        winner = "alpha" if alpha[cluster] == "won" else "beta"
        assert await store.get(cluster, "pending") == Secret(_value(winner, i))
        assert sorted(p.name for p in (tmp_path / cluster).iterdir()) == ["pending"], "no temp file left"
    wins = sum(result == "won" for result in alpha.values())
    print(f"\nalpha won {wins} of {ROUNDS}")


async def test_pending_is_created_exclusively_even_past_the_lock(tmp_path: Path) -> None:
    """A writer that ignores the lock (an older fleet) still cannot replace ``pending``."""
    from fleet.secrets.store import _create_file

    assert await asyncio.to_thread(_create_file, tmp_path, "cl-1", "pending", _value("alpha", 1))
    assert not await asyncio.to_thread(_create_file, tmp_path, "cl-1", "pending", _value("beta", 1))
    assert (tmp_path / "cl-1" / "pending").read_text() == _value("alpha", 1)
    assert [p.name for p in (tmp_path / "cl-1").iterdir()] == ["pending"]


async def test_without_hard_links_pending_is_still_created_exclusively(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", refuse)
    store = FileStore(tmp_path)
    await store.put_pending("cl-1", Secret(_value("alpha", 2)))
    await store.put_pending("cl-1", Secret(_value("alpha", 2)))
    with pytest.raises(SecretStoreError, match="different pending"):
        await store.put_pending("cl-1", Secret(_value("beta", 2)))
    assert await store.get("cl-1", "pending") == Secret(_value("alpha", 2))
    assert [p.name for p in (tmp_path / "cl-1").iterdir()] == ["pending"]


async def test_the_refusal_names_no_passphrase(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    await store.put_pending("cl-1", Secret(_value("alpha", 3)))
    with pytest.raises(SecretStoreError) as caught:
        await store.put_pending("cl-1", Secret(_value("beta", 3)))
    assert _value("alpha", 3) not in str(caught.value) and _value("beta", 3) not in str(caught.value)
