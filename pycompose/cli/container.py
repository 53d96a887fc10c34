"""``pycompose container ...``: docker's container verbs.

Verbs that change a container (run, create, start, stop, restart, kill, rm, exec, wait)
ask the supervisor through the thin client (``engine.client``: stdlib only); verbs that
only read (ls, inspect, logs, top, port) and cp read the state root directly, so they
never wait for a supervisor to start. Nothing heavy is imported here at module level.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

TYPE_CHECKING = False  # not typing's: importing typing costs every command ~2 ms
if TYPE_CHECKING:
    from typing import Any


def _root() -> Path:
    from pycompose.util.paths import state_root

    return state_root()


def _add_run_flags(p: argparse.ArgumentParser) -> None:
    a = p.add_argument
    a("-d", "--detach", action="store_true", help="run in the background, print the id")
    a("-i", "--interactive", action="store_true", help="keep stdin open")
    a("-t", "--tty", action="store_true", help="allocate a pseudo-terminal")
    a("--rm", action="store_true", help="remove the container when it exits")
    a("--name", help="assign a name to the container")
    a("--hostname", help="container host name")
    a("-e", "--env", action="append", default=[], metavar="KEY[=VALUE]",
      help="set an environment variable (KEY alone takes the caller's value)")
    a("--env-file", action="append", default=[], metavar="FILE",
      help="read environment variables from a file")
    a("-w", "--workdir", help="working directory inside the container")
    a("-u", "--user", help="user: name|uid[:group|gid]")
    a("--entrypoint", help="override the image's entrypoint ('' clears it)")
    a("-v", "--volume", action="append", default=[], dest="volumes",
      metavar="[SRC:]DST[:ro]", help="bind mount or volume")
    a("--mount", action="append", default=[], dest="mounts",
      help="type=bind|volume|tmpfs,source=..,target=..[,readonly]")
    a("--tmpfs", action="append", default=[], metavar="PATH[:OPTS]", help="mount a tmpfs")
    a("--ulimit", action="append", default=[], dest="ulimits", metavar="NAME=SOFT[:HARD]")
    a("--sysctl", action="append", default=[], dest="sysctls", metavar="KEY=VALUE")
    a("-l", "--label", action="append", default=[], dest="labels", metavar="KEY=VALUE")
    a("--restart", help="no | always | unless-stopped | on-failure[:N]")
    a("--network", "--net", dest="network",
      help="bridge | host | none | container:NAME | a network's name "
           "(default: none, or bridge with -p)")
    a("--ip", help="IPv4 address on the (user-defined) network")
    a("--ipc", help="IPC namespace: private | shareable | none | host | container:NAME")
    a("--network-alias", action="append", default=[], dest="network_aliases",
      metavar="ALIAS", help="a DNS name of the container on its network")
    a("-p", "--publish", action="append", default=[], metavar="[IP:][HOST:]CTR[/PROTO]")
    a("--add-host", action="append", default=[], dest="extra_hosts", metavar="HOST:IP")
    a("--dns", action="append", default=[], metavar="IP")
    a("--dns-search", action="append", default=[], metavar="DOMAIN")
    a("--dns-option", action="append", default=[], dest="dns_opt", metavar="OPT")
    a("--group-add", action="append", default=[], metavar="GID")
    a("--link", action="append", default=[], dest="links", metavar="NAME[:ALIAS]")
    a("--domainname", help="container NIS domain name")
    a("--expose", action="append", default=[], metavar="PORT[/PROTO]")
    a("--init", action="store_true", help="run an init that reaps zombies as PID 1")
    a("--privileged", action="store_true", help="give all capabilities, no seccomp")
    a("--cap-add", action="append", default=[])
    a("--cap-drop", action="append", default=[])
    a("--device", action="append", default=[], dest="devices",
      metavar="HOST[:CONTAINER][:PERMS]",
      help="give the container a host device (or a directory of them); PERMS of rwm")
    a("--device-cgroup-rule", action="append", default=[], dest="device_cgroup_rules",
      metavar="'TYPE MAJOR:MINOR PERMS'",
      help="allow devices in the container's device cgroup ('c 10:200 rwm', * for any)")
    a("--read-only", action="store_true", help="mount the root filesystem read-only")
    a("--security-opt", action="append", default=[],
      help="no-new-privileges | seccomp=unconfined|FILE")
    a("-m", "--memory", help="memory limit (e.g. 64m)")
    a("--memory-swap", help="memory plus swap limit; -1 unlimited")
    a("--cpus", help="number of CPUs (e.g. 0.5)")
    a("-c", "--cpu-shares", help="relative CPU weight")
    a("--cpuset-cpus", help="CPUs allowed (0-1)")
    a("--pids-limit", help="maximum number of processes")
    a("--oom-score-adj", help="the OOM killer's preference (-1000..1000)")
    a("--stop-signal", help="signal that stops the container (default SIGTERM)")
    a("--stop-timeout", type=int, help="seconds to wait before killing it on stop")
    a("--shm-size", help="size of /dev/shm (default 64m)")
    a("--userns", help="user namespace: host (none) or remap (root's /etc/subuid range)")
    a("--uidmap", action="append", default=[], metavar="CTR:HOST:SIZE",
      help="run in a user namespace with this uid map")
    a("--gidmap", action="append", default=[], metavar="CTR:HOST:SIZE")
    a("--health-cmd", help="command to run to check health (in a shell)")
    a("--health-interval", help="time between checks (e.g. 30s)")
    a("--health-timeout", help="maximum time one check may take")
    a("--health-retries", type=int, help="failures in a row that mean unhealthy")
    a("--health-start-period", help="start-up time in which failures do not count")
    a("--no-healthcheck", action="store_true", help="disable the image's healthcheck")
    a("--log-driver", help="json-file (default, rotated at 20m x 5), local or none")
    a("--log-opt", action="append", default=[], dest="log_opts", metavar="KEY=VALUE",
      help="max-size=20m, max-file=5, compress=true|false")
    a("--rootfs", action="store_true",
      help="IMAGE is a directory holding a root filesystem (podman's --rootfs)")
    a("--detach-keys", default="ctrl-p,ctrl-q", help="only ctrl-p,ctrl-q is supported")
    a("--sig-proxy", default="true", choices=["true", "false"],
      help="forward signals to the container")
    a("--pull", default="missing", choices=["always", "missing", "never"],
      help="pull the image before creating: always, when missing (default), never")
    a("image", metavar="IMAGE")
    a("command", nargs=argparse.REMAINDER, metavar="COMMAND")


def register(p: argparse.ArgumentParser, command: str) -> None:
    sub = p.add_subparsers(dest="verb", metavar="COMMAND")

    # ~75 flags each, added only when the verb is used (see cli.parsing._Parser.fill)
    r = sub.add_parser("run", help="create and start a container")
    r.fill = _add_run_flags  # type: ignore[attr-defined]
    r.set_defaults(handler=cmd_run, create_only=False)
    c = sub.add_parser("create", help="create a container")
    c.fill = _add_run_flags  # type: ignore[attr-defined]
    c.set_defaults(handler=cmd_run, create_only=True)

    s = sub.add_parser("start", help="start stopped containers")
    s.add_argument("-a", "--attach", action="store_true")
    s.add_argument("-i", "--interactive", action="store_true")
    s.add_argument("containers", nargs="+", metavar="CONTAINER")
    s.set_defaults(handler=cmd_start)

    for verb, help_ in (("stop", "stop running containers"),
                        ("restart", "restart containers")):
        x = sub.add_parser(verb, help=help_)
        x.add_argument("-t", "--time", "--timeout", type=int, dest="timeout",
                       help="seconds to wait before killing (default: 10 or StopTimeout)")
        x.add_argument("-s", "--signal", help="signal to send (default: the stop signal)")
        x.add_argument("containers", nargs="+", metavar="CONTAINER")
        x.set_defaults(handler=cmd_simple, op=verb)

    k = sub.add_parser("kill", help="send a signal (default SIGKILL)")
    k.add_argument("-s", "--signal", default="SIGKILL")
    k.add_argument("containers", nargs="+", metavar="CONTAINER")
    k.set_defaults(handler=cmd_simple, op="kill")

    rm = sub.add_parser("rm", help="remove containers")
    rm.add_argument("-f", "--force", action="store_true", help="kill a running one first")
    rm.add_argument("-v", "--volumes", action="store_true", help="remove anonymous volumes")
    rm.add_argument("containers", nargs="+", metavar="CONTAINER")
    rm.set_defaults(handler=cmd_simple, op="rm")

    w = sub.add_parser("wait", help="wait for containers to stop, print exit codes")
    w.add_argument("containers", nargs="+", metavar="CONTAINER")
    w.set_defaults(handler=cmd_wait)

    ls = sub.add_parser("ls", aliases=["ps", "list"], help="list containers")
    ls.add_argument("-a", "--all", action="store_true", help="show all, not just running")
    ls.add_argument("-q", "--quiet", action="store_true", help="only ids")
    ls.add_argument("--no-trunc", action="store_true")
    ls.add_argument("--format", help="table (default) or json")
    ls.add_argument("-f", "--filter", action="append", default=[],
                    help="name=, label=, status=, id=")
    ls.set_defaults(handler=cmd_ls)

    i = sub.add_parser("inspect", help="detailed information on containers")
    i.add_argument("-f", "--format", help="a Go-template path such as {{.State.Status}}")
    i.add_argument("containers", nargs="+", metavar="CONTAINER")
    i.set_defaults(handler=cmd_inspect)

    lg = sub.add_parser("logs", help="fetch a container's logs")
    lg.add_argument("-f", "--follow", action="store_true", help="follow log output")
    lg.add_argument("-n", "--tail", default="all", help="lines from the end (default all)")
    lg.add_argument("-t", "--timestamps", action="store_true", help="show timestamps")
    lg.add_argument("--since", help="logs since a time (2013-01-02T13:23:37Z) or a "
                    "duration before now (42m)")
    lg.add_argument("--until", help="logs before a time or a duration before now")
    lg.add_argument("container", metavar="CONTAINER")
    lg.set_defaults(handler=cmd_logs)

    e = sub.add_parser("exec", help="run a command in a running container")
    e.add_argument("-d", "--detach", action="store_true")
    e.add_argument("-i", "--interactive", action="store_true")
    e.add_argument("-t", "--tty", action="store_true")
    e.add_argument("-u", "--user")
    e.add_argument("-w", "--workdir")
    e.add_argument("-e", "--env", action="append", default=[])
    e.add_argument("--env-file", action="append", default=[])
    e.add_argument("--privileged", action="store_true",
                   help="give extended privileges to the command")
    e.add_argument("container", metavar="CONTAINER")
    e.add_argument("command", nargs=argparse.REMAINDER, metavar="COMMAND")
    e.set_defaults(handler=cmd_exec)

    t = sub.add_parser("top", help="the processes of a container")
    t.add_argument("container", metavar="CONTAINER")
    t.set_defaults(handler=cmd_top)

    cp = sub.add_parser("cp", help="copy files between a container and the host")
    cp.add_argument("-a", "--archive", action="store_true",
                    help="keep the files' uid/gid (into a container)")
    cp.add_argument("-L", "--follow-link", action="store_true",
                    help="always follow a symbolic link in SRC_PATH")
    cp.add_argument("-q", "--quiet", action="store_true",
                    help="suppress progress output (there is none)")
    cp.add_argument("src", metavar="SRC")
    cp.add_argument("dst", metavar="DST")
    cp.set_defaults(handler=cmd_cp)

    cm = sub.add_parser("commit", help="create an image from a container's changes")
    cm.add_argument("-m", "--message", default="")
    cm.add_argument("-a", "--author", default="")
    cm.add_argument("-c", "--change", action="append", default=[])
    cm.add_argument("container", metavar="CONTAINER")
    cm.add_argument("repository", nargs="?", metavar="REPOSITORY[:TAG]")
    cm.set_defaults(handler=cmd_commit)

    pr = sub.add_parser("prune", help="remove all stopped containers")
    pr.add_argument("-f", "--force", action="store_true")
    pr.set_defaults(handler=cmd_prune)

    po = sub.add_parser("port", help="list a container's port mappings")
    po.add_argument("container", metavar="CONTAINER")
    po.set_defaults(handler=cmd_port)


# -- run / create / start ---------------------------------------------------------------
def cmd_run(args: argparse.Namespace) -> int:
    from pycompose.engine.api import Engine, session

    from .flags import create_request

    req = create_request(args)
    root = _root()
    args.leave_fast = True  # a thin client: nothing to tear down (cli.leave)
    if not args.rootfs and args.pull != "never":
        # a missing image is pulled here, client side (cli/registry.py), before create
        from pycompose.engine.api.registry import maybe_present

        if args.pull == "always" or not maybe_present(args.image):
            from pycompose.cli.registry import ensure_image

            ensure_image(args.image, args.pull)
    if args.create_only:
        print(Engine(root).create(req))
        return 0
    cid, code = session.run(root, req, detach=args.detach, interactive=args.interactive,
                            sig_proxy=args.sig_proxy == "true")
    if args.detach:
        print(cid)
    return code


def cmd_start(args: argparse.Namespace) -> int:
    from pycompose.engine.api import Engine, session

    engine = Engine(_root())
    code = 0
    for ref in args.containers:
        if args.attach:
            code = session.start(engine.root, ref, tty=engine.container(ref).tty,
                                 interactive=args.interactive)
        else:
            engine.start(ref)
            print(ref)
    return code


def cmd_simple(args: argparse.Namespace) -> int:
    """stop, restart, kill, rm: one request per container; docker prints each name and
    reports every failure, exiting 1 if any."""
    from pycompose.engine.api import Engine, EngineError

    engine = Engine(_root())
    failed = 0
    for ref in args.containers:
        try:
            if args.op in ("stop", "restart"):
                getattr(engine, args.op)(ref, args.timeout, args.signal)
            elif args.op == "kill":
                engine.kill(ref, args.signal)
            else:
                engine.remove(ref, force=args.force, volumes=args.volumes)
            print(ref)
        except EngineError as e:
            print(f"error: {e}", file=sys.stderr)
            failed = 1
    return failed


def cmd_wait(args: argparse.Namespace) -> int:
    from pycompose.engine.api import Engine

    engine = Engine(_root())
    for ref in args.containers:
        print(engine.wait(ref), flush=True)
    return 0


def cmd_exec(args: argparse.Namespace) -> int:
    from pycompose.engine.api import ExecRequest, InvalidArgument, session

    from .flags import environment

    cmd = list(args.command)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        raise InvalidArgument("exec needs a command")
    req = ExecRequest(cmd=cmd, tty=args.tty, interactive=args.interactive,
                      user=args.user or "", workdir=args.workdir or "",
                      env=environment(args.env, args.env_file), detach=args.detach,
                      privileged=bool(getattr(args, "privileged", False)),
                      console_size=session.terminal_size())
    return session.exec_(_root(), args.container, req)


# -- read-only verbs --------------------------------------------------------------------
def _records(root: Path) -> list[dict[str, Any]]:
    """All records as docker inspect shows them (the face repairs records that claim
    a running container no supervisor holds: a crash)."""
    from pycompose.engine.api import Engine

    return [r.raw for r in Engine(root).containers()]


def _match(rec: dict[str, Any], filters: list[str]) -> bool:
    for f in filters:
        k, _, v = f.partition("=")
        if k == "name" and v not in rec["Name"]:
            return False
        if k == "id" and not rec["Id"].startswith(v):
            return False
        if k == "status" and rec["State"]["Status"] != v:
            return False
        if k == "label":
            lk, eq, lv = v.partition("=")
            labels = rec["Config"].get("Labels") or {}
            if lk not in labels or (eq and labels[lk] != lv):
                return False
    return True


def _port_map(rec: dict[str, Any]) -> dict[str, Any]:
    """The real host ports (NetworkSettings) of a running container, else the asked."""
    real = (rec.get("NetworkSettings") or {}).get("Ports")
    if real and rec["State"]["Status"] == "running":
        return dict(real)
    return dict(rec["HostConfig"].get("PortBindings") or {})


def _ports(rec: dict[str, Any]) -> str:
    out = []
    for port, binds in _port_map(rec).items():
        for b in binds or []:
            out.append(f"{b.get('HostIp') or '0.0.0.0'}:{b.get('HostPort')}->{port}")
    return ", ".join(out)


def cmd_ls(args: argparse.Namespace) -> int:
    from .render import render_template, status_line

    recs = [r for r in _records(_root())
            if (args.all or r["State"]["Status"] in ("running", "restarting"))
            and _match(r, args.filter)]
    if args.quiet:
        for r in recs:
            print(r["Id"] if args.no_trunc else r["Id"][:12])
        return 0
    rows = []
    for r in recs:
        cmd = " ".join([r["Path"], *r["Args"]])
        if not args.no_trunc and len(cmd) > 20:
            cmd = cmd[:19] + "…"
        rows.append({
            "ID": r["Id"] if args.no_trunc else r["Id"][:12],
            "Image": r["Config"]["Image"], "Command": json.dumps(cmd, ensure_ascii=False),
            "CreatedAt": r["Created"], "Status": status_line(r), "State": r["State"]["Status"],
            "Ports": _ports(r), "Names": r["Name"].lstrip("/"),
            "Labels": ",".join(f"{k}={v}" for k, v in (r["Config"].get("Labels") or {}).items()),
            "Mounts": ",".join(m.get("Name") or m["Source"] for m in r.get("Mounts", [])),
        })
    if args.format == "json":
        for row in rows:
            print(json.dumps(row))
        return 0
    if args.format and args.format != "table":
        for row in rows:
            print(render_template(args.format, row))
        return 0
    cols = [("CONTAINER ID", "ID"), ("IMAGE", "Image"), ("COMMAND", "Command"),
            ("CREATED", "Status"), ("STATUS", "Status"), ("PORTS", "Ports"),
            ("NAMES", "Names")]
    import time

    from pycompose.engine.api import parse_iso

    from .render import human_duration

    table = [[h for h, _ in cols]]
    for row, r in zip(rows, recs, strict=True):
        created = human_duration(time.time() - parse_iso(r["Created"])) + " ago"
        table.append([row["ID"], row["Image"], row["Command"], created, row["Status"],
                      row["Ports"], row["Names"]])
    widths = [max(len(line[i]) for line in table) for i in range(len(cols))]
    for line in table:
        print("   ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    from pycompose.engine.api import Engine, NotFound

    from .render import render_template

    engine = Engine(_root())
    engine.containers()  # true state first, after a crash
    out, code = [], 0
    for ref in args.containers:
        try:
            rec = engine.container(ref).to_inspect()
        except NotFound as e:
            print(f"Error: {e}", file=sys.stderr)
            code = 1
            continue
        rec.pop("MountRequests", None)
        out.append(rec)
    if args.format:
        for rec in out:
            print(render_template(args.format, rec))
    else:
        print(json.dumps(out, indent=4))
    return code


def cmd_logs(args: argparse.Namespace) -> int:
    from pycompose.engine.api import Engine, EngineError, InvalidArgument
    from pycompose.engine.api import logs as reader

    engine = Engine(_root())
    rec = engine.container(args.container)
    window = log_window(args.tail, args.since, args.until)
    try:
        log = reader.open_log(rec)
    except reader.NotReadable as e:
        raise InvalidArgument(str(e)) from None

    def emit(e: Any) -> None:
        out = sys.stderr.buffer if e.stream == "stderr" else sys.stdout.buffer
        out.write(reader.render(e, args.timestamps))
        out.flush()
    for entry in log.history(window):
        emit(entry)
    if args.follow:
        def alive() -> bool:
            try:
                now = engine.container(rec.id)
                if now.status.is_active and not engine.supervisor_running():
                    engine.ping()  # its supervisor died: a new one reconciles the record
                    now = engine.container(rec.id)
                return now.status.is_active
            except EngineError:
                return False
        for entry in log.follow(alive, window):
            emit(entry)
    log.close()
    return 0


def log_window(tail: str, since: str | None, until: str | None) -> Any:
    """``--tail``, ``--since``, ``--until`` as the reader's Window."""
    from pycompose.engine.api import InvalidArgument
    from pycompose.engine.api import logs as reader

    n: int | None = None
    if tail != "all":
        try:
            n = int(tail)
        except ValueError:
            raise InvalidArgument(f"invalid --tail {tail!r}: a number or 'all'") from None
        if n < 0:
            n = None  # docker: a negative count means all
    try:
        return reader.Window(n, reader.parse_timestamp(since) if since else None,
                             reader.parse_timestamp(until) if until else None)
    except ValueError as e:
        raise InvalidArgument(f"invalid --since/--until: {e}") from None


def cmd_top(args: argparse.Namespace) -> int:
    import subprocess

    from pycompose.engine.api import Engine

    pids = Engine(_root()).top_pids(args.container)
    r = subprocess.run(["ps", "-o", "user,pid,ppid,c,stime,tty,time,cmd",
                        "-p", ",".join(map(str, pids))], capture_output=True, text=True)
    sys.stdout.write(r.stdout)
    return 0


def cmd_cp(args: argparse.Namespace) -> int:
    from pycompose.engine.api import Engine, InvalidArgument

    def split(s: str) -> tuple[str | None, str]:
        if ":" in s and not s.startswith(("/", ".")):
            ref, _, path = s.partition(":")
            return ref, path
        return None, s
    (sref, spath), (dref, dpath) = split(args.src), split(args.dst)
    engine = Engine(_root())
    if (sref is None) == (dref is None):
        raise InvalidArgument("copying between containers or between host paths is not "
                              "supported: exactly one of SRC and DST must be CONTAINER:PATH")
    if sref is not None:  # the paths go as typed: a trailing "/." or "/" has a meaning
        engine.copy_from(sref, spath, dpath, follow_link=args.follow_link)
    else:
        assert dref is not None
        engine.copy_to(dref, spath, dpath, follow_link=args.follow_link,
                       archive=args.archive)
    return 0


def cmd_commit(args: argparse.Namespace) -> int:
    from pycompose.engine.api import Engine

    image_id = Engine(_root()).commit(args.container, args.repository, message=args.message,
                                      author=args.author, changes=args.change)
    print(image_id)
    return 0


def cmd_prune(args: argparse.Namespace) -> int:
    from pycompose.engine.api import Engine, EngineError

    root = _root()
    engine = Engine(root)
    if not args.force and os.isatty(0):
        ans = input("WARNING! This will remove all stopped containers.\n"
                    "Are you sure you want to continue? [y/N] ")
        if ans.strip().lower() not in ("y", "yes"):
            return 0
    removed = []
    for r in _records(root):
        if r["State"]["Status"] in ("exited", "created", "dead"):
            try:
                engine.remove(r["Id"])
                removed.append(r["Id"])
            except EngineError:
                pass
    if removed:
        print("Deleted Containers:\n" + "\n".join(removed) + "\n")
    print(f"Total removed containers: {len(removed)}")
    return 0


def cmd_port(args: argparse.Namespace) -> int:
    from pycompose.engine.api import Engine

    rec = Engine(_root()).container(args.container).raw
    for port, binds in _port_map(rec).items():
        for b in binds or []:
            print(f"{port} -> {b.get('HostIp') or '0.0.0.0'}:{b.get('HostPort')}")
    return 0
