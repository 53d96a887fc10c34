"""The ``pycompose`` command line: parse arguments, call one function, render the result.

Start-up speed matters (every ``container run`` pays it), so this module imports only
the standard library's light parts. Each command group lives in its own module that is
imported only when its command is used; those modules import heavy libraries (pydantic,
trio, pyroute2, yaml) inside their handlers, never at module level.
tests/unit/test_cli_startup.py holds that line.
"""

from __future__ import annotations

import os
import sys

from pycompose import __version__

TYPE_CHECKING = False  # not typing's: importing typing costs every command ~2 ms
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Sequence

#: command -> (module that registers it, one line of help). Compose commands first,
#: then the engine's object commands, as ``docker`` lists them.
_STACK = "pycompose.cli.stack"
_RUN = "pycompose.cli.compose_run"
_INFO = "pycompose.cli.compose_info"
_OPS = "pycompose.cli.compose_ops"
COMMANDS: dict[str, tuple[str, str]] = {
    "attach": (_OPS, "Attach local standard input, output, and error to a service's "
                     "running container"),
    "config": ("pycompose.cli.project", "Parse, resolve and render the project in canonical form"),
    "cp": (_OPS, "Copy files/folders between a service container and the local filesystem"),
    "create": (_RUN, "Creates containers for a service"),
    "commit": (_OPS, "Create a new image from a service container's changes"),
    "down": (_STACK, "Stop and remove the project's containers, networks (and volumes)"),
    "events": (_INFO, "Receive real time events from containers"),
    "exec": (_STACK, "Run a command in a service's running container"),
    "export": (_OPS, "Export a service container's filesystem as a tar archive"),
    "images": (_INFO, "List images used by the created containers"),
    "kill": (_STACK, "Kill the project's containers"),
    "logs": (_STACK, "Show the output of the project's containers"),
    "ls": (_INFO, "List running compose projects"),
    "pause": (_OPS, "Pause services"),
    "port": (_STACK, "Print the host address of a service's published port"),
    "ps": (_INFO, "List the project's containers"),
    "restart": (_STACK, "Restart the project's containers"),
    "rm": (_STACK, "Remove the project's stopped containers"),
    "run": (_RUN, "Run a one-off command on a service"),
    "scale": (_RUN, "Scale services"),
    "start": (_STACK, "Start the project's existing containers"),
    "stats": (_INFO, "Display a live stream of container(s) resource usage statistics"),
    "stop": (_STACK, "Stop the project's containers"),
    "top": (_INFO, "Display the running processes"),
    "unpause": (_OPS, "Unpause services"),
    "up": (_STACK, "Create and start the project's containers"),
    "version": (_INFO, "Show the pycompose version information"),
    "volumes": (_INFO, "List volumes"),
    "wait": (_RUN, "Block until containers of all (or specified) services stop"),
    "watch": ("pycompose.cli.compose_watch",
              "Watch the build context and sync, restart or rebuild on changes"),
    "build": ("pycompose.cli.build", "Build images: the project's services, or a Dockerfile "
              "(build PATH)"),
    "builder": ("pycompose.cli.build", "Manage the build cache (prune)"),
    "pull": ("pycompose.cli.stack_registry", "Pull the images of the project's services"),
    "push": ("pycompose.cli.stack_registry", "Push the images of the services built here"),
    "kube": ("pycompose.cli.kube", "The project on Kubernetes, Kubernetes YAML on pycompose"),
    "container": ("pycompose.cli.container", "Manage containers"),
    "image": ("pycompose.cli.image", "Manage images"),
    "volume": ("pycompose.cli.volume", "Manage volumes"),
    "network": ("pycompose.cli.network", "Manage networks"),
    "system": ("pycompose.cli.system", "Manage pycompose itself (df, service: the "
               "Docker Engine API)"),
    "runtime": ("pycompose.cli.runtime", "An OCI runtime in runc's shape (create, start, ...)"),
    "login": ("pycompose.cli.registry", "Log in to a registry"),
    "logout": ("pycompose.cli.registry", "Log out from a registry"),
}

#: the compose commands: they load a project (pydantic, trio, yaml), so they run in the
#: warm worker when one serves the state root (``worker.py``)
WORKER_COMMANDS = {name for name, (mod, _) in COMMANDS.items()
                   if mod not in ("pycompose.cli.container", "pycompose.cli.image",
                                  "pycompose.cli.volume", "pycompose.cli.network",
                                  "pycompose.cli.system", "pycompose.cli.runtime",
                                  "pycompose.cli.registry", "pycompose.cli.kube")} - {
                                      "version", "builder"}

#: the engine commands whose imports dwarf their work (trio and httpx for a registry,
#: the builder): they too run in the warm worker, where ``image pull`` of a 100 MB image
#: is mostly the transfer. ``(group, verb)``; the light ones (``image ls``) stay local,
#: so that they never start a worker.
WORKER_VERBS = {("image", "pull"), ("image", "push"), ("image", "build")}


def _in_worker(command: str, cmd_argv: list[str]) -> bool:
    """Whether ``command cmd_argv`` is one the warm worker runs (its help never is)."""
    if "-h" in cmd_argv or "--help" in cmd_argv:
        return False
    if command in WORKER_COMMANDS:
        return True
    return bool(cmd_argv) and (command, cmd_argv[0]) in WORKER_VERBS


#: Commands that exist in COMMANDS' modules under another group (aliases as docker has:
#: ``pycompose images`` is ``pycompose image ls``). name -> argv prefix. ``ps`` and
#: ``exec`` are the compose commands, as in ``docker compose``.
ALIASES: dict[str, list[str]] = {}


_GLOBAL_WITH_VALUE = {"-f", "--file", "-p", "--project-name", "--project-directory",
                      "--env-file", "--profile", "--ansi", "--progress", "--parallel"}


def split_global(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split ``argv`` into the global options and the command with its own arguments.

    Options after the command word belong to the command (``container run -p 8080:80``
    is a port, not a project name), so argparse must not see them here.
    """
    i = 0
    while i < len(argv):
        word = argv[i]
        if word == "--" or not word.startswith("-") or word == "-":
            break
        if word in _GLOBAL_WITH_VALUE:
            i += 2
            continue
        if word.startswith("-") and not word.startswith("--") and len(word) > 2 \
                and word[:2] in _GLOBAL_WITH_VALUE:
            i += 1  # -fFILE
            continue
        i += 1
    return list(argv[:i]), list(argv[i:])


def _default_sigchld() -> None:
    """A caller that ignores SIGCHLD (some init scripts, ``trap '' CHLD``) makes the
    kernel reap our children for us, and every wait for one fails with ECHILD: take
    the default back, as any program that waits for its children must."""
    import _signal

    if _signal.getsignal(_signal.SIGCHLD) == _signal.SIG_IGN:
        _signal.signal(_signal.SIGCHLD, _signal.SIG_DFL)


def _fill_closed_stdio() -> None:
    """A caller that closed fd 0, 1 or 2 (``<&-``, ``>&-``, some daemons): /dev/null
    there, as if the shell had given it. Left closed, the next socket took the number,
    and a container's output went into the supervisor's connection."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            os.open(os.devnull, os.O_RDWR)  # the lowest free number: this one


def _answered_here(global_argv: Sequence[str]) -> bool:
    """Whether the global options ask for what this process answers itself (``-h``,
    ``--version``, as argparse reads them: also ``--vers``, ``-hv``), so that the
    command must not be sent to the worker before they are parsed."""
    i = 0
    while i < len(global_argv):
        word = global_argv[i]
        i += 1
        if word in _GLOBAL_WITH_VALUE:
            i += 1
        elif word.startswith("--"):
            name = word.split("=", 1)[0]
            if len(name) > 2 and ("--help".startswith(name) or "--version".startswith(name)):
                return True
        elif word[:2] not in _GLOBAL_WITH_VALUE and ("h" in word or "v" in word):
            return True
    return False


def main(argv: Sequence[str] | None = None) -> int:
    argv_given = argv
    argv = list(sys.argv[1:] if argv is None else argv)
    _default_sigchld()
    _fill_closed_stdio()
    global_argv, rest = split_global(argv)
    if rest and rest[0] == "--":
        rest = rest[1:]
    woken = False
    if rest and not _answered_here(global_argv) and _in_worker(rest[0], rest[1:]):
        # before argparse is even imported: the worker parses it all again
        from . import worker
        from .apiservice import wake

        wake(rest)  # the Docker API service of this root, if it exited idle
        woken = True
        if worker.enabled():
            from pycompose.util.paths import state_root_text

            code = worker.forward(state_root_text(), argv)
            if code is not None:
                if argv_given is None:  # the program: it holds nothing to tear down
                    leave(code)
                return code
    from .parsing import _print_help, command_parser, global_parser

    gp = global_parser()
    gargs = gp.parse_args(global_argv)
    if gargs.version:
        print(f"pycompose version {__version__}")
        return 0
    if not rest:
        _print_help(gp)
        return 0 if gargs.help else 2
    command, cmd_argv = rest[0], rest[1:]
    if not woken:
        from .apiservice import wake

        wake(rest)
    if gargs.compatibility:
        os.environ["COMPOSE_COMPATIBILITY"] = "true"
    if command in ALIASES:
        command, *prefix = ALIASES[command]
        cmd_argv = prefix + cmd_argv
    if command not in COMMANDS:
        if command.startswith("-"):
            gp.error(f"unknown option {command}")
        print(f"pycompose: '{command}' is not a pycompose command.\n"
              "See 'pycompose --help'.", file=sys.stderr)
        return 2
    if gargs.help:
        cmd_argv = ["--help", *cmd_argv]
    parser = command_parser(command)
    args = parser.parse_args(cmd_argv)
    args.global_options = gargs
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    from .errors import family

    code = run_handler(handler, args, family(command, getattr(args, "verb", None)))
    if argv_given is None and getattr(args, "leave_fast", False):
        leave(code)
    return code


def leave(code: int) -> None:
    """End the process now, without the interpreter's teardown: for the thin client's
    commands (``container run``) that hold nothing to clean up, once their output is
    flushed. Freeing every module and object of an interpreter that is exiting anyway
    took 6-10 ms of each ``run --rm``, after the container's exit code was known."""
    for stream in (sys.stdout, sys.stderr):
        if stream is None:  # started with that fd closed (``>&-``): nothing to flush
            continue
        try:
            stream.flush()
        except (OSError, ValueError):  # the reader went away: as Python's own exit says
            code = code or 120
    os._exit(code)


def _leaves(group: BaseExceptionGroup) -> list[BaseException]:
    out: list[BaseException] = []
    for e in group.exceptions:
        out += _leaves(e) if isinstance(e, BaseExceptionGroup) else [e]
    return out


def run_handler(handler: Callable[[argparse.Namespace], int | None],
                args: argparse.Namespace, fam: str = "plain") -> int:
    """Call a command's handler; turn pycompose errors into one line and the exit code
    that the error's kind has for this command (``cli/errors.py``)."""
    from pycompose.errors import PycomposeError

    from .errors import exit_status

    try:
        code = handler(args)
    except PycomposeError as e:
        print(f"error: {e}", file=sys.stderr)
        return exit_status(e, fam)
    except BaseExceptionGroup as group:
        # Parallel work (trio nurseries) reports every failure at once; when each one
        # is a user-facing error, print each once, as the single-error case does.
        leaves = _leaves(group)
        if leaves and all(isinstance(e, PycomposeError) for e in leaves):
            for message in dict.fromkeys(str(e) for e in leaves):
                print(f"error: {message}", file=sys.stderr)
            return exit_status(leaves[0], fam)
        if any(isinstance(e, KeyboardInterrupt) for e in leaves):
            return 130
        first = next((e for e in leaves if not isinstance(e, PycomposeError)), group)
        if isinstance(first, NotADirectoryError) and _not_a_folder_root():
            return 1
        if os.environ.get("PYCOMPOSE_DEBUG"):
            raise
        print(f"internal error (a bug in pycompose): {type(first).__name__}: {first}\n"
              "Run again with PYCOMPOSE_DEBUG=1 to see the traceback.", file=sys.stderr)
        return 70
    except KeyboardInterrupt:
        return 130
    except PermissionError as e:  # another user's state root (it is root-only), a path
        print(f"error: {_denied(e)}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (``pycompose config | head``): not an error of ours.
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the final flush
        except OSError:
            pass
        return 141
    except Exception as e:  # a bug: say so in one line, the traceback on request
        if isinstance(e, NotADirectoryError) and _not_a_folder_root():
            return 1
        if os.environ.get("PYCOMPOSE_DEBUG"):
            raise
        print(f"internal error (a bug in pycompose): {type(e).__name__}: {e}\n"
              "Run again with PYCOMPOSE_DEBUG=1 to see the traceback.", file=sys.stderr)
        return 70
    return int(code or 0)


def _not_a_folder_root() -> bool:
    """Whether the state root is a file (``PYCOMPOSE_ROOT`` set to one): then say so,
    where each command's first read of it failed as an internal error."""
    from pycompose.util.paths import state_root_text

    root = state_root_text()
    if not os.path.lexists(root) or os.path.isdir(root):
        return False
    print(f"error: the state root {root} is not a folder: point PYCOMPOSE_ROOT at a "
          "folder (or move the file away)", file=sys.stderr)
    return True


def _denied(e: PermissionError) -> str:
    """docker's "permission denied" line, with what to do when the path is the state
    root's (root's alone, as /var/lib/docker, whatever the umask)."""
    from pycompose.util.paths import state_root

    path = str(e.filename or "")
    root = str(state_root())
    if path == root or path.startswith(root + "/"):
        return (f"permission denied: {path}: the state root {root} is its owner's only; "
                "run as its owner (root), or give a state root of your own with "
                "PYCOMPOSE_ROOT")
    return f"permission denied: {path or e.strerror}"
