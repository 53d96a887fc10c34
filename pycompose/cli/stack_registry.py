"""``pycompose pull`` and ``pycompose push``: a project's images, as docker compose has
them (compose/pull.py decides and does; this parses and prints)."""

from __future__ import annotations

import argparse


def register(p: argparse.ArgumentParser, command: str) -> None:
    a = p.add_argument
    a("services", nargs="*", metavar="SERVICE")
    a("--include-deps", action="store_true", help="also the services they depend on")
    a("-q", "--quiet", action="store_true", help="pull or push without printing progress")
    if command == "pull":
        a("--ignore-pull-failures", action="store_true",
          help="pull what it can; a failed pull is a warning")
        a("--ignore-buildable", action="store_true", help="skip images that can be built")
        a("--policy", choices=["missing", "always"],
          help="pull only missing images, or always (default: each service's pull_policy)")
        p.set_defaults(handler=cmd_pull)
    else:
        a("--ignore-push-failures", action="store_true",
          help="push what it can; a failed push is a warning")
        p.set_defaults(handler=cmd_push)


def cmd_pull(args: argparse.Namespace) -> int:
    import trio

    from pycompose.compose.pull import PullOptions, pull

    from .project import load_project
    from .stack import _engine, _progress

    project = load_project(args)
    opts = PullOptions(services=list(args.services), include_deps=args.include_deps,
                       ignore_failures=args.ignore_pull_failures,
                       ignore_buildable=args.ignore_buildable, quiet=args.quiet,
                       policy=args.policy)
    trio.run(pull, project, _engine(), opts, _progress())
    return 0


def cmd_push(args: argparse.Namespace) -> int:
    import trio

    from pycompose.compose.pull import PushOptions, push

    from .project import load_project
    from .stack import _engine, _progress

    project = load_project(args)
    opts = PushOptions(services=list(args.services), include_deps=args.include_deps,
                       ignore_failures=args.ignore_push_failures, quiet=args.quiet)
    trio.run(push, project, _engine(), opts, _progress())
    return 0
