"""The two rich consoles a command prints with: stdout for what it reports, stderr for progress and logs.

On a terminal a console is as wide as the terminal. Anywhere else (a pipe, a file, cron's mail) it
never hard-wraps: rich would otherwise cut every line at 80 columns, mid-sentence and mid-path, and
``grep`` would no longer find a reason, a run id or a report path on one line.
"""

from __future__ import annotations

import sys

from rich.console import Console

#: The width of a console that is not a terminal: wide enough that no line is ever wrapped.
UNWRAPPED = 1_000_000


def output_console(*, highlight: bool = True) -> Console:
    """stdout: summaries, tables, plans. Not a terminal: no colour, no hard wrapping."""
    return _console(stderr=False, highlight=highlight)


def terminal_console() -> Console:
    """stderr: the progress bar, and the log lines printed above it (``fleet.logs``)."""
    return _console(stderr=True, highlight=False)


def _console(*, stderr: bool, highlight: bool) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    console = Console(file=stream, highlight=highlight)
    if console.is_terminal:
        return console
    return Console(file=stream, highlight=highlight, width=UNWRAPPED, soft_wrap=True)


__all__ = ["UNWRAPPED", "output_console", "terminal_console"]
