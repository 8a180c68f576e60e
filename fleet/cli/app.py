"""The ``fleet`` command group. Sub-commands live in their own modules and attach themselves here."""

from __future__ import annotations

import click

from fleet import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="fleet")
def main() -> None:
    """Run ONTAP key-manager operations across a whole estate of clusters."""
