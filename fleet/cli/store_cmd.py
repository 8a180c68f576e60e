"""``fleet store show CLUSTER``: what the secret store holds for one cluster, and a recovery sheet.

Without ``--print`` nothing secret is shown: which slots are filled, their keyed fingerprints, and
whether ``current`` is what the journal last saw the cluster prove. ``--print`` is for the day a
passphrase must be typed at a boot console: it needs a terminal and the cluster's name typed back,
and prints the value in numbered groups of four so it can be read out and typed without losing
one's place.
"""

from __future__ import annotations

import asyncio
import getpass
import socket
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import click

from fleet import aio
from fleet.cli import options
from fleet.cli.app import main
from fleet.cli.run_support import fail_input, open_journal
from fleet.errors import InputError
from fleet.journal import ClusterFp, JournalError, journal_location
from fleet.secrets import Secret
from fleet.secrets.store import SecretStoreError, Slot, open_store

SLOTS: tuple[Slot, ...] = ("current", "pending", "previous")
Fingerprint = Callable[[Secret], str]
GROUP = 4
GROUPS_PER_LINE = 8


@click.group(name="store")
def store_group() -> None:
    """Read the secret store of generated passphrases (--new generate --store ...).

    Example: fleet store show cl-0042 --store /secure/okm-store
    """


@store_group.command(name="show")
@click.argument("cluster")
@click.option("--store", "store_spec", required=True, help="The store: DIR, file:DIR or cmd:COMMAND.")
@options.journal
@click.option(
    "--print",
    "print_sheet",
    is_flag=True,
    help="Print the current passphrase as a recovery sheet (asks for the cluster name first; "
    "needs a terminal).",
)
def show(
    cluster: str, store_spec: str, journal_path: str | None, journal_key: str | None, print_sheet: bool
) -> None:
    """Show which passphrases the store holds for CLUSTER (fingerprints only, unless --print).

    Example: fleet store show cl-0042 --store /secure/okm-store --print
    """
    if print_sheet and not (sys.stdin.isatty() and sys.stdout.isatty()):
        fail_input(InputError("prints a passphrase only on a terminal, to a person", field="--print"))
    try:
        slots, known, fingerprint = aio.run(_read(cluster, store_spec, journal_path, journal_key))
    except (InputError, JournalError, SecretStoreError) as exc:
        fail_input(exc)
    for slot in SLOTS:
        value = slots[slot]
        shown = fingerprint(value) if value is not None and fingerprint else "set" if value else "-"
        click.echo(f"{slot:<9} {shown}")
    current = slots["current"]
    if known is not None and current is not None and fingerprint is not None:
        proven = known.current_fp == fingerprint(current)
        verdict = "matches" if proven else "does NOT match"
        click.echo(
            f"journal   current {verdict} what run {known.run_id} saw the cluster prove "
            f"at {known.verified_at}"
        )
    if not print_sheet:
        return
    if current is None:
        fail_input(InputError(f"the store has no current passphrase for {cluster}", field="CLUSTER"))
    typed = click.prompt(f"This prints {cluster}'s passphrase on this screen. Type the cluster name to go on")
    if typed.strip() != cluster:
        click.echo("fleet: not printed (the name did not match)", err=True)
        sys.exit(1)
    click.echo(recovery_sheet(cluster, current, fingerprint(current) if fingerprint else None))


async def _read(
    cluster: str, store_spec: str, journal_path: str | None, journal_key: str | None
) -> tuple[dict[Slot, Secret | None], ClusterFp | None, Fingerprint | None]:
    store = open_store(store_spec)
    slots: dict[Slot, Secret | None] = {slot: await store.get(cluster, slot) for slot in SLOTS}
    where = journal_location(journal_path)  # a SQLite file, or a team's postgresql:// journal
    if isinstance(where, Path) and not await asyncio.to_thread(where.exists):
        return slots, None, None
    async with await open_journal(where, journal_key) as journal:
        return slots, await journal.cluster_state(cluster), journal.fingerprint


def recovery_sheet(cluster: str, secret: Secret, fingerprint: str | None) -> str:
    """The passphrase in numbered lines of eight groups of four, with who printed it and when."""
    value = secret.reveal()
    groups = [value[start : start + GROUP] for start in range(0, len(value), GROUP)]
    lines = [
        f"fleet recovery sheet: cluster {cluster}",
        f"printed {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by {getpass.getuser()}@{socket.gethostname()}",
        f"slot current, {len(value)} characters" + (f", {fingerprint}" if fingerprint else ""),
        "",
    ]
    for row in range(0, len(groups), GROUPS_PER_LINE):
        lines.append(f"{row // GROUPS_PER_LINE + 1:>2}  " + " ".join(groups[row : row + GROUPS_PER_LINE]))
    lines += ["", "Type the groups without the spaces. Destroy this sheet after use."]
    return "\n".join(lines)


main.add_command(store_group)
