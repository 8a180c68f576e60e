"""Every click option of the ``fleet`` commands, declared once.

An option's destination is the ``RunSpec`` field it fills (``--timeout`` → ``timeout``), so a command
hands what click parsed straight to ``RunSpec.create``. Defaults live in the spec, not here: an
option left out arrives as ``None`` and the spec's default applies.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from fleet.engine.audit import CHANGE_ID_MAX
from fleet.engine.rollout.window import DEFAULT_FLOOR_SECONDS
from fleet.engine.spec import DEFAULT_CONCURRENCY, DEFAULT_PER_CLUSTER, DEFAULT_TIMEOUT
from fleet.ontap.limits import DEFAULT_MAX_RESPONSE_BYTES, size_text
from fleet.report.write import REPORTS_DIR

Command = Callable[..., Any]
Decorator = Callable[[Command], Command]

#: Options the CLI itself consumes; everything else a run command takes goes into the RunSpec.
CLI_ONLY = ("report_path", "journal_path", "journal_key", "log_format", "yes")


def _path(**kwargs: Any) -> click.Path:
    return click.Path(path_type=Path, **kwargs)


inventory = click.option(
    "-i", "--inventory", "inventory", required=True, type=_path(), help="Inventory file or directory."
)
overlay = click.option(
    "--overlay",
    "overlay",
    default=None,
    type=_path(dir_okay=False),
    help="YAML merged on top of the inventory, per cluster: metrocluster_partner, labels, groups, "
    "ontap_name, username (pairs for Harvest and Ansible estates).",
)
import_password = click.option(
    "--import-password",
    "import_password",
    default=None,
    metavar="REF",
    help="Secret reference (env:, file:, cmd:) for Harvest/Ansible clusters whose source has a literal, "
    "vault-encrypted or no password.",
)
limit = click.option(
    "--limit", default=None, help="Select clusters: globs, group:NAME, key=value, !negation."
)
concurrency = click.option(
    "--concurrency",
    default=None,
    type=click.IntRange(1, 4096),
    help=f"Units in flight at once.  [default: {DEFAULT_CONCURRENCY}]",
)
per_cluster = click.option(
    "--per-cluster",
    default=None,
    type=click.IntRange(1, 16),
    help=f"Requests in flight per cluster.  [default: {DEFAULT_PER_CLUSTER}]",
)
timeout = click.option(
    "--timeout",
    "timeout",
    default=None,
    type=click.FloatRange(min=0, min_open=True),
    help=f"Per-request timeout, seconds.  [default: {DEFAULT_TIMEOUT:g}]",
)
cluster_deadline = click.option(
    "--cluster-deadline",
    default=None,
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds for all of one cluster's work.",
)
_journal_where = click.option(
    "--journal",
    "journal_path",
    default=None,
    envvar="FLEET_JOURNAL",
    metavar="PATH|URL",
    help="Journal: a SQLite file, or postgresql://… for a team's shared one (env FLEET_JOURNAL).",
)
_journal_key = click.option(
    "--journal-key",
    "journal_key",
    default=None,
    envvar="FLEET_JOURNAL_KEY",
    metavar="REF",
    help="Secret reference (env:, file:, cmd:) to the fingerprint key every runner of a PostgreSQL journal "
    "shares: 64 hex digits (env FLEET_JOURNAL_KEY).",
)


def journal(command: Command) -> Command:
    """``--journal`` and ``--journal-key``: where the journal is, and its shared key if it has one."""
    return _journal_where(_journal_key(command))


insecure = click.option(
    "--insecure", is_flag=True, help="Do NOT verify TLS certificates (loud; for labs only)."
)
allow_http = click.option(
    "--allow-http",
    is_flag=True,
    help="Accept plain http:// cluster addresses: credentials and passphrases in cleartext (loud).",
)
max_response_bytes = click.option(
    "--max-response-bytes",
    default=None,
    metavar="SIZE",
    help="Largest reply read from a cluster, decompressed (bytes, or e.g. 8MiB); larger ones fail the "
    f"request.  [default: {size_text(DEFAULT_MAX_RESPONSE_BYTES).replace(' ', '')}]",
)
log_format = click.option(
    "--log-format",
    type=click.Choice(["auto", "json", "console"]),
    default="auto",
    show_default=True,
    help="Log lines on stderr: json (one object per line), console (for a person); auto: console on a "
    "terminal, json otherwise.",
)


def file_option(flag: str, dest: str, help_text: str) -> Decorator:
    """An option naming one file (never a folder), optional."""
    return click.option(flag, dest, default=None, type=_path(dir_okay=False), help=help_text)


report = file_option("--report", "report_path", "Report file (default reports/<run-id>.json).")
policy = click.option("-p", "--policy", "policy", required=True, type=_path(), help="Policy file (YAML).")
backup_dir = click.option(
    "--backup-dir",
    default=None,
    type=_path(file_okay=False),
    help="Write each cluster's OKM key backup here (files 0600, folder 0700).",
)


def passphrase(help_text: str) -> Decorator:
    return click.option("--passphrase", "passphrase", default=None, help=help_text)


# --- rollout: waves, budgets, window, limits, events (docs/rollouts.md) --------------------------------

waves = click.option("--waves", default=None, help="Wave sizes, counts or % of all units: e.g. 1,5,10%,100%.")
max_failures = click.option(
    "--max-failures", default=None, help="Abort (exit 3) on reaching N or P% failed units."
)
max_wave_failures = click.option(
    "--max-wave-failures", default=None, help="Abort on reaching N or P% failures in a wave."
)
max_consecutive_failures = click.option(
    "--max-consecutive-failures", default=None, help="Abort on reaching N failures in a row."
)
window_end = click.option(
    "--window-end", default=None, help="Change window end: HH:MM (local, next) or ISO 8601; exit 4."
)
window_floor = click.option(
    "--window-floor",
    default=None,
    type=click.FloatRange(min=0),
    help=f"Seconds a unit is assumed to need at least, before the window closes.  "
    f"[default: {DEFAULT_FLOOR_SECONDS:g}]",
)
limit_per = click.option(
    "--limit-per", "limit_per", multiple=True, help="LABEL=N: at most N units in flight per label value."
)
pause_between_waves = click.option(
    "--pause-between-waves", is_flag=True, default=None, help="Ask before each wave after the first."
)
yes = click.option("--yes", is_flag=True, help="Do not ask (--pause-between-waves); needed without a TTY.")
max_wrong_passphrase = click.option(
    "--max-wrong-passphrase",
    default=None,
    type=click.IntRange(min=1),
    help="Stop admitting units (exit 3) once N clusters refused a passphrase as wrong.  [default: 3]",
)
allow_attempt = click.option(
    "--allow-attempt",
    is_flag=True,
    help="Allow a passphrase attempt on a cluster that refused one within 24 h (lockout risk: loud).",
)
change_id = click.option(
    "--change-id",
    "change_id",
    default=None,
    metavar="TICKET",
    help=f"The change ticket this run belongs to, recorded in the journal, report and events "
    f"(printable, at most {CHANGE_ID_MAX} characters).",
)
events = click.option(
    "--events",
    "events",
    default=None,
    type=_path(dir_okay=False),
    help="Append the run's events here as JSON Lines.",
)

rollout: list[Decorator] = [
    waves,
    max_failures,
    max_wave_failures,
    max_consecutive_failures,
    window_end,
    window_floor,
    limit_per,
    pause_between_waves,
    yes,
    max_wrong_passphrase,
    allow_attempt,
    events,
]

#: What ``fleet resume`` may give again for tonight (``RunSpec.NIGHT_OPTIONS``, plus --yes); the
#: window end has resume's own option, as it also says what happens to the recorded one.
night: list[Decorator] = [
    concurrency,
    max_failures,
    max_wave_failures,
    max_consecutive_failures,
    window_floor,
    pause_between_waves,
    yes,
    max_wrong_passphrase,
]

dry_run = click.option(
    "--dry-run",
    is_flag=True,
    default=None,
    help="Read every cluster and check every reference; send no change. Exit 0: the run would be "
    "clean; 1: some units would be refused (the report says why).",
)

#: What every changing run command (rotate, sync, apply) takes, as DESIGN.md lists them.
run: list[Decorator] = [
    inventory,
    overlay,
    import_password,
    limit,
    concurrency,
    per_cluster,
    timeout,
    cluster_deadline,
    report,
    journal,
    insecure,
    allow_http,
    max_response_bytes,
    log_format,
    change_id,
    *rollout,
]

#: What a read-only policy command (plan, sweep) takes: no waves, budgets or window.
read: list[Decorator] = [
    inventory,
    overlay,
    import_password,
    policy,
    limit,
    concurrency,
    per_cluster,
    timeout,
    journal,
    insecure,
    allow_http,
    max_response_bytes,
    log_format,
]

sweep_report_dir = click.option(
    "--report-dir",
    default=REPORTS_DIR,
    show_default=True,
    type=_path(file_okay=False),
    help="Where sweep reports go (<run-id>.json); drift compares with the newest earlier one here.",
)


def apply_options(options: Sequence[Decorator]) -> Decorator:
    """Decorate a command with ``options``, the first one listed first in ``--help``."""

    def decorate(command: Command) -> Command:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate
