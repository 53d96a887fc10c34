"""``pycompose runtime ...`` and ``pycompose-runtime ...``: an OCI runtime in runc's
command shape (create, start, state, kill, delete, run, exec, spec, list, ps) over a
bundle's config.json, so that other engines and opencontainers/runtime-tools can
drive this runtime as they drive runc.

Global options come before the command, as runc's: ``--root`` (default
/run/pycompose-runtime), ``--log``, ``--log-format text|json``, ``--systemd-cgroup``
(refused: there is no systemd cgroup driver), ``--debug``. Errors are one line on
stderr (and in ``--log``) with exit status 1, as runc's; ``run`` and ``exec`` exit
with the process's status.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from pycompose.engine.api.runtime import Store


def _add_global(p: argparse.ArgumentParser) -> None:
    p.add_argument("--root", default=None,
                   help="state directory (default /run/pycompose-runtime)")
    p.add_argument("--log", default=None, help="log file (default: stderr)")
    p.add_argument("--log-format", default="text", choices=["text", "json"])
    p.add_argument("--systemd-cgroup", action="store_true",
                   help="use systemd to manage cgroups (not supported: refused)")
    p.add_argument("--debug", action="store_true", help="log debug lines")
    p.add_argument("--rootless", default="auto", help=argparse.SUPPRESS)
    p.add_argument("--criu", default=None, help=argparse.SUPPRESS)


def register(p: argparse.ArgumentParser, command: str = "runtime") -> None:
    _add_global(p)
    sub = p.add_subparsers(dest="verb", metavar="COMMAND")

    def bundle_opts(c: argparse.ArgumentParser) -> None:
        c.add_argument("-b", "--bundle", default=".", help="bundle directory (default .)")
        c.add_argument("--console-socket", default=None,
                       help="unix socket that receives the pty master (process.terminal)")
        c.add_argument("--pid-file", default=None, help="write PID 1's host pid here")
        c.add_argument("--no-pivot", action="store_true", help=argparse.SUPPRESS)
        c.add_argument("--no-new-keyring", action="store_true", help=argparse.SUPPRESS)
        c.add_argument("--preserve-fds", type=int, default=0, help=argparse.SUPPRESS)

    c = sub.add_parser("create", help="create a container, waiting for 'start'")
    bundle_opts(c)
    c.add_argument("id")
    c.set_defaults(handler=_wrap(cmd_create))

    s = sub.add_parser("start", help="run the process of a created container")
    s.add_argument("id")
    s.set_defaults(handler=_wrap(cmd_start))

    st = sub.add_parser("state", help="print a container's state as JSON")
    st.add_argument("id")
    st.set_defaults(handler=_wrap(cmd_state))

    k = sub.add_parser("kill", help="send a signal (default TERM) to a container's process")
    k.add_argument("-a", "--all", action="store_true", help="to every process in it")
    k.add_argument("id")
    k.add_argument("signal", nargs="?", default="TERM")
    k.set_defaults(handler=_wrap(cmd_kill))

    d = sub.add_parser("delete", help="remove a stopped container (-f: any)")
    d.add_argument("-f", "--force", action="store_true")
    d.add_argument("id")
    d.set_defaults(handler=_wrap(cmd_delete))

    r = sub.add_parser("run", help="create and start a container (in the foreground)")
    bundle_opts(r)
    r.add_argument("-d", "--detach", action="store_true")
    r.add_argument("--keep", action="store_true", help="do not delete it after it exits")
    r.add_argument("id")
    r.set_defaults(handler=_wrap(cmd_run))

    e = sub.add_parser("exec", help="run one more process in a running container")
    e.add_argument("--console-socket", default=None)
    e.add_argument("--cwd", default=None)
    e.add_argument("-e", "--env", action="append", default=[])
    e.add_argument("-t", "--tty", action="store_true")
    e.add_argument("-u", "--user", default=None, help="UID[:GID]")
    e.add_argument("-g", "--additional-gids", action="append", type=int, default=[])
    e.add_argument("-p", "--process", default=None, help="an OCI process JSON file")
    e.add_argument("-d", "--detach", action="store_true")
    e.add_argument("--pid-file", default=None)
    e.add_argument("-c", "--cap", action="append", default=[])
    e.add_argument("--no-new-privs", action="store_true")
    e.add_argument("id")
    e.add_argument("command", nargs=argparse.REMAINDER)
    e.set_defaults(handler=_wrap(cmd_exec))

    sp = sub.add_parser("spec", help="write a starting config.json")
    sp.add_argument("-b", "--bundle", default=".")
    sp.add_argument("--rootless", action="store_true")
    sp.set_defaults(handler=_wrap(cmd_spec))

    ls = sub.add_parser("list", help="list containers")
    ls.add_argument("-f", "--format", default="table", choices=["table", "json"])
    ls.add_argument("-q", "--quiet", action="store_true")
    ls.set_defaults(handler=_wrap(cmd_list))

    ps = sub.add_parser("ps", help="list the pids of a container's processes")
    ps.add_argument("-f", "--format", default="table", choices=["table", "json"])
    ps.add_argument("id")
    ps.set_defaults(handler=_wrap(cmd_ps))


def _wrap(fn: Callable[[argparse.Namespace], int | None]) -> Callable[[argparse.Namespace], int]:
    """Set up logging, refuse what is unsupported, turn errors into runc's one line
    and status 1."""

    def handler(args: argparse.Namespace) -> int:
        from pycompose.errors import PycomposeError

        _logging(args)
        try:
            if args.systemd_cgroup:
                from pycompose.engine.api import InvalidArgument

                raise InvalidArgument("--systemd-cgroup: this runtime has no systemd cgroup "
                                      "driver; leave the flag out (cgroupfs is used)")
            return int(fn(args) or 0)
        except PycomposeError as e:
            logging.getLogger("pycompose.runtime.oci").error("%s", e)
            print(f"{_prog(args)}: {e}", file=sys.stderr)
            return 1
        except BrokenPipeError:  # the reader went away (``state ID | head``)
            with contextlib.suppress(OSError, ValueError):
                null = os.open(os.devnull, os.O_WRONLY)
                os.dup2(null, sys.stdout.fileno())  # silence the final flush
                os.close(null)
            return 141
        except Exception as e:  # a bug: one line, the traceback on request
            if os.environ.get("PYCOMPOSE_DEBUG"):
                raise
            logging.getLogger("pycompose.runtime.oci").exception("internal error")
            print(f"{_prog(args)}: internal error (a bug in pycompose): "
                  f"{type(e).__name__}: {e}\nRun again with PYCOMPOSE_DEBUG=1 to see the "
                  "traceback.", file=sys.stderr)
            return 1

    return handler


def _prog(args: argparse.Namespace) -> str:
    return getattr(args, "prog_name", "pycompose-runtime")


def _logging(args: argparse.Namespace) -> None:
    logger = logging.getLogger("pycompose.runtime.oci")
    logger.setLevel(logging.DEBUG if args.debug else logging.INFO)
    if args.log:
        handler: logging.Handler = logging.FileHandler(args.log)
    else:
        handler = logging.NullHandler()
    if args.log_format == "json":
        class _Json(logging.Formatter):
            def format(self, record: logging.LogRecord) -> str:
                return json.dumps({"level": record.levelname.lower(),
                                   "msg": record.getMessage(),
                                   "time": self.formatTime(record)})
        handler.setFormatter(_Json())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.handlers = [handler]
    logger.propagate = False


def _store(args: argparse.Namespace) -> Store:
    from pycompose.engine.api.runtime import DEFAULT_ROOT, Store

    return Store(args.root or DEFAULT_ROOT)


def cmd_create(args: argparse.Namespace) -> int:
    from pycompose.engine.api.runtime import ocirun

    ocirun.create(_store(args), args.id, args.bundle, pid_file=args.pid_file,
                  console_socket=args.console_socket)
    return 0


def cmd_start(args: argparse.Namespace) -> int:
    from pycompose.engine.api.runtime import ocirun

    ocirun.start(_store(args), args.id)
    return 0


def cmd_state(args: argparse.Namespace) -> int:
    from pycompose.engine.api.runtime import ocirun

    s = ocirun.state(_store(args), args.id)
    print(json.dumps(json.loads(s.to_json()), indent=2))
    return 0


def cmd_kill(args: argparse.Namespace) -> int:
    from pycompose.engine.api.runtime import ocirun

    ocirun.kill(_store(args), args.id, ocirun.parse_signal(args.signal),
                all_processes=args.all)
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    from pycompose.engine.api.runtime import ocirun

    ocirun.delete(_store(args), args.id, force=args.force)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from pycompose.engine.api.runtime import ocirun

    return ocirun.run(_store(args), args.id, args.bundle, pid_file=args.pid_file,
                      console_socket=args.console_socket, detach=args.detach, keep=args.keep)


def cmd_exec(args: argparse.Namespace) -> int:
    from pycompose.engine.api import InvalidArgument
    from pycompose.engine.api.runtime import CapabilitySets, ocirun, parse_process

    caps: CapabilitySets | None = None
    if args.process:
        try:
            with open(args.process) as f:
                data = json.load(f)
        except OSError as e:
            raise InvalidArgument(f"--process {args.process}: {e.strerror}") from None
        except ValueError as e:
            raise InvalidArgument(f"--process {args.process}: not JSON: {e}") from None
        process, caps = parse_process(data, where=args.process)
    else:
        if not args.command:
            raise InvalidArgument("exec needs a command (or --process FILE)")
        store = _store(args)
        rec = store.load_record(args.id)
        base = rec.spec.process
        from dataclasses import replace

        process = replace(base, args=list(args.command), terminal=args.tty,
                          env=[*base.env, *args.env], cwd=args.cwd or base.cwd,
                          user=args.user or base.user,
                          additional_gids=args.additional_gids or base.additional_gids)
        if args.cap and rec.spec.capability_sets is not None:
            old = rec.spec.capability_sets
            caps = CapabilitySets(*(sorted({*getattr(old, k), *args.cap}) for k in (
                "bounding", "effective", "inheritable", "permitted", "ambient")))
    return ocirun.exec_process(_store(args), args.id, process, pid_file=args.pid_file,
                               console_socket=args.console_socket, detach=args.detach,
                               capability_sets=caps)


def cmd_spec(args: argparse.Namespace) -> int:
    from pycompose.engine.api import Conflict, InvalidArgument
    from pycompose.engine.api.runtime import default_config

    path = os.path.join(args.bundle, "config.json")
    if os.path.exists(path):
        raise Conflict(f"{path} exists: remove it first")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except OSError as e:
        raise InvalidArgument(f"{path}: {e.strerror}") from None
    with os.fdopen(fd, "w") as f:
        json.dump(default_config(rootless=args.rootless), f, indent="\t")
        f.write("\n")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from pycompose.engine.api.runtime import ocirun

    states = ocirun.list_states(_store(args))
    if args.quiet:
        for s in states:
            print(s.id)
    elif args.format == "json":
        print(json.dumps([json.loads(s.to_json()) for s in states]))
    else:
        rows = [("ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER")]
        rows += [(s.id, str(s.pid), s.status, s.bundle, s.created, s.owner) for s in states]
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for r in rows:
            print("   ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
    return 0


def cmd_ps(args: argparse.Namespace) -> int:
    from pycompose.engine.api.runtime import ocirun

    pids = ocirun.ps(_store(args), args.id)
    if args.format == "json":
        print(json.dumps(pids))
    else:
        print("PID")
        for pid in pids:
            print(pid)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """The ``pycompose-runtime`` console script."""
    p = argparse.ArgumentParser(prog="pycompose-runtime",
                                description="An OCI runtime (runc's commands) over "
                                            "pycompose's container runtime.")
    p.add_argument("-v", "--version", action="store_true")
    register(p)
    args = p.parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.version:
        from pycompose import __version__
        from pycompose.engine.api.runtime import OCI_VERSION

        print(f"pycompose-runtime version {__version__}\nspec: {OCI_VERSION}")
        return 0
    handler = getattr(args, "handler", None)
    if handler is None:
        p.print_help(sys.stderr)
        return 1
    args.prog_name = "pycompose-runtime"
    return int(handler(args))


if __name__ == "__main__":
    sys.exit(main())
