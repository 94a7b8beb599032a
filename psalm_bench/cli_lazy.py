"""The root click group built lazily: a command's options are made only when it runs.

Typer turns every registered command into a click command up front, reading
each function's signature with ``typing.get_type_hints`` (hundreds of
``eval`` calls on the string annotations): ~0.13 CPU-s for the 21 commands,
more than half of ``psalm-bench --help`` and paid again by every ``eval``. Here
the root group holds a stub per command (name, help, hidden, deprecated: all
that the command listing and typo suggestions read) and builds the real
command with Typer's own ``get_command_from_info`` / ``get_group_from_info`` on
first lookup, so help pages and behaviour are Typer's (tests/test_startup_lazy.py
compares every help page byte for byte).
"""

from __future__ import annotations

import copy
import inspect
from typing import Any, Callable

import typer
from typer.core import TyperCommand, TyperGroup

try:  # Typer >= 0.20 vendors its own click
    from typer import _click as click
except ImportError:  # pragma: no cover - older Typer uses click itself
    import click  # type: ignore[no-redef]

Factory = Callable[[], click.Command]


class LazyGroup(TyperGroup):
    """A TyperGroup whose subcommands are stubs until one is looked up to run."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.factories: dict[str, Factory] = {}
        self.built: dict[str, click.Command] = {}
        self.on_build: Callable[[click.Command], None] | None = None
        self._listing = False

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if self._listing or cmd_name not in self.factories:
            return super().get_command(ctx, cmd_name)
        if cmd_name not in self.built:
            command = self.factories[cmd_name]()
            if self.on_build is not None:
                self.on_build(command)
            self.built[cmd_name] = command
        return self.built[cmd_name]

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self._listing = True  # the listing reads the stubs' short help only
        try:
            super().format_commands(ctx, formatter)
        finally:
            self._listing = False


def _command_stub(info: Any, markup: Any) -> tuple[str, click.Command]:
    """The name and help Typer's ``get_command_from_info`` would give, without parameters."""
    name = info.name or typer.main.get_command_name(info.callback.__name__)
    text = inspect.getdoc(info.callback) if info.help is None else inspect.cleandoc(info.help)
    cls = info.cls or TyperCommand
    stub = cls(name=name, help=text, short_help=info.short_help, hidden=info.hidden, deprecated=info.deprecated,
               rich_markup_mode=markup, rich_help_panel=info.rich_help_panel)
    return name, stub


def _group_stub(info: Any, markup: Any) -> tuple[str, click.Command]:
    solved = typer.main.solve_typer_info_defaults(info)
    stub = TyperGroup(name=solved.name or "", help=solved.help, short_help=solved.short_help, hidden=solved.hidden,
                      deprecated=solved.deprecated, rich_markup_mode=markup, rich_help_panel=solved.rich_help_panel)
    return stub.name or "", stub


def lazy_command(app: typer.Typer, on_build: Callable[[click.Command], None] | None = None) -> click.Command:
    """``typer.main.get_command(app)``, with each subcommand built on first lookup.

    ``on_build`` is called on every command as it is built (the fast option
    coercion is installed there). An app without a root callback, or with
    unnamed sub-apps, is built by Typer as it is.
    """
    if app.registered_callback is None or any(not g.name for g in app.registered_groups):
        return typer.main.get_command(app)
    root = copy.copy(app)
    root.registered_commands, root.registered_groups = [], []
    root.info = copy.copy(app.info)
    root.info.cls = LazyGroup
    group = typer.main.get_command(root)
    assert isinstance(group, LazyGroup)
    group.on_build = on_build
    markup, short = app.rich_markup_mode, app.pretty_exceptions_short
    for cinfo in app.registered_commands:  # Typer's order: commands, then sub-apps
        name, stub = _command_stub(cinfo, markup)
        group.commands[name] = stub
        group.factories[name] = lambda i=cinfo: typer.main.get_command_from_info(
            i, pretty_exceptions_short=short, rich_markup_mode=markup)
    for ginfo in app.registered_groups:
        name, stub = _group_stub(ginfo, markup)
        group.commands[name] = stub
        group.factories[name] = lambda i=ginfo: typer.main.get_group_from_info(
            i, pretty_exceptions_short=short, rich_markup_mode=markup, suggest_commands=app.suggest_commands)
    return group
