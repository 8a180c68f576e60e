"""Command-line entry point: thin; parses, calls the engine, maps outcomes to exit codes.

Sub-command modules are imported lazily by ``fleet.cli.app.LazyGroup``.
"""

from fleet.cli.app import main

__all__ = ["main"]
