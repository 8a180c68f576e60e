"""The ``fleet`` command group. Sub-commands live in their own modules and attach themselves here.

Modules are imported only when their command runs (or ``--help`` lists them): ``fleet rotate`` does
not pay for the simulator, the HTML report or ``cryptography``. That is a few hundred milliseconds of
CPU per invocation, which a cron sweep or a 1,000-cluster rotation notices.
"""

from __future__ import annotations

import importlib

import click

from fleet import __version__

# command name -> the module that attaches it to ``main``
COMMAND_MODULES = {
    "apply": "fleet.cli.policy_cmds",
    "demo": "fleet.cli.demo_cmd",
    "plan": "fleet.cli.policy_cmds",
    "report": "fleet.cli.report_cmd",
    "resume": "fleet.cli.runs_cmd",
    "rotate": "fleet.cli.rotate_cmd",
    "runs": "fleet.cli.runs_cmd",
    "sim": "fleet.cli.sim_cmd",
    "store": "fleet.cli.store_cmd",
    "sweep": "fleet.cli.policy_cmds",
    "sync": "fleet.cli.sync_cmd",
}


class LazyGroup(click.Group):
    """A group whose sub-commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMAND_MODULES})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMAND_MODULES:
            importlib.import_module(COMMAND_MODULES[cmd_name])
        return super().get_command(ctx, cmd_name)


@click.group(
    cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
)
@click.version_option(__version__, prog_name="fleet")
def main() -> None:
    """Run ONTAP key-manager operations across a whole estate of clusters.

    Example: fleet rotate -i estate.yml --new generate --store /secure/okm-store
    """
