"""The CLI's argparse side: the parser classes, the global options, one command's parser.

Apart from ``__init__`` so that a command the warm worker runs (``worker.py``) is sent
there before argparse (and the ``re`` and ``enum`` it imports, ~6 ms) is loaded: the
client of a worker command needs only ``split_global``. In the worker, the parsers of
its commands are built once before it forks (:func:`prebuild`), so that a command's
child finds its parser made.
"""

from __future__ import annotations

import argparse
import importlib
import os

from pycompose.cli import COMMANDS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any


class _Formatter(argparse.HelpFormatter):
    """argparse's formatter, minus its ``import shutil`` (~3 ms with the bz2 and lzma
    that pulls in, on every command: add_argument makes a formatter for a check). The
    width is found as shutil.get_terminal_size finds it."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        if width is None:
            try:
                width = int(os.environ.get("COLUMNS", "0"))
            except ValueError:
                width = 0
            if width <= 0:
                try:
                    width = os.get_terminal_size(1).columns or 80
                except (ValueError, OSError):
                    width = 80
            width -= 2
        super().__init__(prog, indent_increment, max_help_position, width)


class _Parser(argparse.ArgumentParser):
    """argparse that exits with docker's usage status (125 for the engine verbs is
    docker's; compose uses 1 -- we use 2 like argparse, documented in the README).

    ``fill``: a function that adds this (sub-)parser's arguments, called only when it is
    used (parsed, or asked for help): ``container run`` has ~75 flags, and building
    every verb's flags on every command cost ~6 ms."""

    fill: Callable[[argparse.ArgumentParser], None] | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def _fill(self) -> None:
        fill, self.fill = self.fill, None
        if fill is not None:
            fill(self)

    def parse_known_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                         namespace: argparse.Namespace | None = None
                         ) -> tuple[argparse.Namespace, list[str]]:
        self._fill()
        return super().parse_known_args(args, namespace)

    def format_usage(self) -> str:
        self._fill()
        return super().format_usage()

    def format_help(self) -> str:
        self._fill()
        return super().format_help()


#: parsers the worker built before it forked (:func:`prebuild`): each is taken by the
#: first use in a child, later ones are built afresh (a parser holds its parse's state
#: only in the namespace it returns, but a filled ``fill`` is for one use)
_PREBUILT: dict[str, argparse.ArgumentParser] = {}


def prebuild(commands: Sequence[str], verbs: Sequence[tuple[str, str]]) -> None:
    """Build, in the warm worker, the global parser and those of ``commands``, with the
    lazily added flags of ``verbs`` ((group, verb)) added: a forked command then finds
    them made (~7 ms of argparse and gettext per command otherwise)."""
    _PREBUILT[""] = _global_parser()
    for command in commands:
        _PREBUILT[command] = p = build_command_parser(command)
        if isinstance(p, _Parser):
            p._fill()
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for group, verb in verbs:
                    sub = action.choices.get(verb) if group == command else None
                    if isinstance(sub, _Parser):
                        sub._fill()


def global_parser() -> argparse.ArgumentParser:
    """The global options' parser (the worker's prebuilt one in a child of it)."""
    return _PREBUILT.pop("", None) or _global_parser()


def command_parser(command: str) -> argparse.ArgumentParser:
    """``command``'s parser (the worker's prebuilt one in a child of it)."""
    return _PREBUILT.pop(command, None) or build_command_parser(command)


def _global_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="pycompose",
        description="Compose stacks on a container engine of its own: no daemon.",
        add_help=False,
    )
    p.add_argument("-h", "--help", action="store_true", help="show this help and exit")
    p.add_argument("-v", "--version", action="store_true", help="print the version and exit")
    g = p.add_argument_group("compose options")
    g.add_argument("-f", "--file", action="append", dest="files", metavar="FILE",
                   help="compose file (repeatable; '-' reads standard input)")
    g.add_argument("-p", "--project-name", metavar="NAME", help="project name")
    g.add_argument("--project-directory", metavar="DIR",
                   help="working directory (default: the first compose file's folder)")
    g.add_argument("--env-file", action="append", dest="env_files", metavar="FILE",
                   help="alternative environment file(s)")
    g.add_argument("--profile", action="append", dest="profiles", metavar="PROFILE",
                   help="enable a profile (repeatable)")
    g.add_argument("--ansi", choices=["never", "always", "auto"], default="auto",
                   help="control when to print ANSI control characters")
    g.add_argument("--no-ansi", action="store_const", const="never", dest="ansi",
                   help=argparse.SUPPRESS)
    g.add_argument("--progress", choices=["auto", "tty", "plain", "json", "quiet"],
                   help="type of progress output")
    g.add_argument("--dry-run", action="store_true",
                   help="execute the command in dry run mode: show what it would do")
    g.add_argument("--parallel", type=int, default=-1, metavar="N",
                   help="control max parallelism, -1 for unlimited")
    g.add_argument("--compatibility", action="store_true",
                   help="run in backward compatibility mode (PROJECT_SERVICE_N names)")
    g.add_argument("--all-resources", action="store_true",
                   help="include all resources, even those not used by services")
    g.add_argument("--verbose", action="store_true", help=argparse.SUPPRESS)
    return p


def _print_help(p: argparse.ArgumentParser) -> None:
    out = [p.format_help().rstrip(), "", "commands:"]
    width = max(len(n) for n in COMMANDS)
    out += [f"  {name:<{width}}  {help_}" for name, (_, help_) in COMMANDS.items()]
    out += ["", "Run 'pycompose COMMAND --help' for more on a command."]
    print("\n".join(out))


def build_command_parser(
    command: str, parents: Sequence[argparse.ArgumentParser] = ()
) -> argparse.ArgumentParser:
    """The parser of one top-level command, with its module's sub-commands."""
    module_name, help_ = COMMANDS[command]
    module = importlib.import_module(module_name)
    p = _Parser(prog=f"pycompose {command}", description=help_, parents=list(parents))
    module.register(p, command)
    return p
