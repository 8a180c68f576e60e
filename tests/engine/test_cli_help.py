"""Every option of every ``fleet`` command has help text; every command's help ends with an example."""

from __future__ import annotations

from collections.abc import Iterator

import click

from fleet.cli.app import main


def _commands(
    command: click.Command, path: str, parent: click.Context | None = None
) -> Iterator[tuple[str, click.Command, click.Context]]:
    """Every command under ``command``, with a context as an 80-column terminal gives it."""
    ctx = click.Context(command, info_name=path.rsplit(" ", 1)[-1], parent=parent, terminal_width=80)
    yield path, command, ctx
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None, name
            yield from _commands(sub, f"{path} {name}", ctx)


def test_every_option_has_help_and_every_command_ends_with_an_example():
    seen = []
    for path, command, ctx in _commands(main, "fleet"):
        seen.append(path)
        for param in command.get_params(ctx):
            if isinstance(param, click.Option):
                assert param.help and param.help.strip(), f"{path} {param.opts[0]} has no help text"
        last = (command.help or "").strip().splitlines()[-1].strip()
        assert last.startswith(f"Example: {path}"), f"{path}: its help ends {last!r}"
        shown = [line.strip() for line in command.get_help(ctx).splitlines()]
        assert last in shown, f"{path}: --help rewraps the example"  # one line, to copy
    assert {"fleet rotate", "fleet sweep", "fleet demo", "fleet report show", "fleet sim serve"} <= set(seen)
