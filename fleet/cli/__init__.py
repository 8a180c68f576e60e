"""Command-line entry point: thin; parses, calls the engine, maps outcomes to exit codes."""

from fleet.cli.app import main

# Each import below attaches one sub-command group to ``main``.

__all__ = ["main"]
