"""Command-line entry point: thin; parses, calls the engine, maps outcomes to exit codes."""

# Each import below attaches one sub-command group to ``main``.
import fleet.cli.demo_cmd
import fleet.cli.policy_cmds
import fleet.cli.report_cmd
import fleet.cli.rotate_cmd
import fleet.cli.runs_cmd
import fleet.cli.sim_cmd
import fleet.cli.sync_cmd  # noqa: F401
from fleet.cli.app import main

__all__ = ["main"]
