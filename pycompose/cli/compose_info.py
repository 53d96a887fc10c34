"""The compose commands that look and do not touch: ``ps``, ``ls``, ``version``,
``images``, ``top``, ``volumes``, ``stats``, ``events``, with docker compose's flags,
columns and JSON keys (``cmd/compose/*.go``, ``cmd/formatter/``)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from . import compose_common as C
from .gotemplate import format_rows, go_json, tabulate


def register(p: argparse.ArgumentParser, command: str) -> None:
    a = p.add_argument
    if command == "ps":
        a("-a", "--all", action="store_true", help="show all stopped containers")
        a("-q", "--quiet", action="store_true", help="only display IDs")
        a("--services", action="store_true", help="display services")
        a("--format", default=None, help="table, json, or a Go template")
        a("--filter", action="append", default=[], metavar="KEY=VALUE",
          help="filter services by a property (status=running, source=...)")
        a("--status", action="append", default=[],
          choices=["paused", "restarting", "removing", "running", "dead", "created",
                   "exited"], help="filter services by status")
        a("--no-trunc", action="store_true", help="don't truncate output")
        a("--orphans", default="true", choices=["true", "false"], nargs="?", const="true",
          help="include orphaned services (not declared by the project)")
        a("services", nargs="*", metavar="SERVICE")
        p.set_defaults(handler=ps)
    elif command == "ls":
        a("-a", "--all", action="store_true", help="show all stopped compose projects")
        a("-q", "--quiet", action="store_true", help="only display project names")
        a("--filter", action="append", default=[], metavar="name=NAME")
        a("--format", default="table", help="table or json")
        p.set_defaults(handler=ls)
    elif command == "version":
        a("-f", "--format", default="pretty", help="pretty or json")
        a("--short", action="store_true", help="show only the version number")
        p.set_defaults(handler=version)
    elif command == "images":
        a("-q", "--quiet", action="store_true", help="only display IDs")
        a("--format", default="table", help="table or json")
        a("services", nargs="*", metavar="SERVICE")
        p.set_defaults(handler=images)
    elif command == "top":
        a("services", nargs="*", metavar="SERVICE")
        p.set_defaults(handler=top)
    elif command == "volumes":
        a("-q", "--quiet", action="store_true", help="only display volume names")
        a("--format", default="table", help="table, json, or a Go template")
        a("services", nargs="*", metavar="SERVICE")
        p.set_defaults(handler=volumes)
    elif command == "stats":
        a("-a", "--all", action="store_true", help="show all containers (default: running)")
        a("--no-stream", action="store_true", help="print one sample and exit")
        a("--no-trunc", action="store_true", help="don't truncate output")
        a("--format", default=None, help="table, json, or a Go template")
        a("service", nargs="?", metavar="SERVICE")
        p.set_defaults(handler=stats)
    elif command == "events":
        a("--json", action="store_true", help="output events as a stream of json objects")
        a("--since", help="show all events created since timestamp")
        a("--until", help="stream events until this timestamp")
        a("services", nargs="*", metavar="SERVICE")
        p.set_defaults(handler=events)


# -- ps ---------------------------------------------------------------------------------
def go_time(ts: str) -> str:
    """A record's RFC 3339 time as Go prints a time.Time: ``2006-01-02 15:04:05 +0000 UTC``."""
    from pycompose.engine.api import parse_iso

    secs = parse_iso(ts)
    return time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime(secs)) if secs else ""


def publishers(rec: Any) -> list[dict[str, Any]]:
    out = []
    for port, binds in sorted(rec.ports.items()):
        num, _, proto = port.partition("/")
        if not binds:
            out.append({"URL": "", "TargetPort": int(num), "PublishedPort": 0,
                        "Protocol": proto or "tcp"})
        for b in binds or []:
            out.append({"URL": b.get("HostIp") or "0.0.0.0", "TargetPort": int(num),
                        "PublishedPort": int(b.get("HostPort") or 0),
                        "Protocol": proto or "tcp"})
    return out


def ports_text(rec: Any) -> str:
    return ", ".join(f"{p['URL']}:{p['PublishedPort']}->{p['TargetPort']}/{p['Protocol']}"
                     if p["PublishedPort"] else f"{p['TargetPort']}/{p['Protocol']}"
                     for p in publishers(rec))


def ps_row(rec: Any, no_trunc: bool = False) -> dict[str, Any]:
    """docker compose's ``ps --format json`` object of one container (its keys)."""
    from pycompose.compose import translate as T
    from pycompose.engine.api import parse_iso

    from .render import human_duration, status_line

    labels = rec.labels
    cmd = " ".join(rec.command)
    if not no_trunc and len(cmd) > 20:
        cmd = cmd[:19] + "…"
    health = rec.health.value if rec.has_healthcheck else ""
    created = parse_iso(rec.created)
    return {
        "Command": json.dumps(cmd, ensure_ascii=False),
        "CreatedAt": go_time(rec.created),
        "ExitCode": rec.exit_code,
        "Health": "" if health == "none" else health,
        "ID": rec.id if no_trunc else rec.id[:12],
        "Image": labels.get(T.LABEL_IMAGE) or rec.image,
        "Labels": ",".join(f"{k}={v}" for k, v in sorted(labels.items())),
        "LocalVolumes": str(sum(1 for m in rec.mounts if m.get("Type") == "volume")),
        "Mounts": ",".join(m.get("Name") or m.get("Source", "") for m in rec.mounts),
        "Name": rec.name,
        "Names": rec.name,
        "Networks": ",".join(sorted(rec.networks)),
        "Ports": ports_text(rec),
        "Project": labels.get(T.LABEL_PROJECT, ""),
        "Publishers": publishers(rec),
        "RunningFor": (human_duration(time.time() - created) + " ago") if created else "",
        "Service": labels.get(T.LABEL_SERVICE, ""),
        "Size": "0B",
        "State": rec.status.value,
        "Status": status_line(rec.raw),
    }


def _ps_filter(rows: list[Any], filters: list[str], statuses: list[str]) -> list[Any]:
    from pycompose.compose.errors import ComposeError

    want = set(statuses)
    for f in filters:
        key, sep, value = f.partition("=")
        if not sep:
            raise ComposeError(f"invalid --filter {f!r}: use KEY=VALUE (status=running)")
        if key == "status":
            want.add(value)
        elif key != "source":
            raise ComposeError(f"invalid --filter {key!r}: ps filters by status")
    return [r for r in rows if not want or r.status.value in want]


PS_TABLE = [("NAME", "Name"), ("IMAGE", "Image"), ("COMMAND", "Command"),
            ("SERVICE", "Service"), ("CREATED", "RunningFor"), ("STATUS", "Status"),
            ("PORTS", "Ports")]


def ps(args: argparse.Namespace) -> int:
    from pycompose.compose import translate as T

    _, recs = C.rows(args, bool(args.all or args.status or args.filter),
                     orphans=args.orphans != "false")
    recs = _ps_filter(recs, args.filter, args.status)
    if args.quiet:
        for r in recs:
            print(r.id)
        return 0
    if args.services:
        for s in dict.fromkeys(r.labels.get(T.LABEL_SERVICE, "") for r in recs):
            print(s)
        return 0
    rows = [ps_row(r, args.no_trunc) for r in recs]
    for line in format_rows(args.format, rows, PS_TABLE):
        print(line)
    return 0


# -- ls ---------------------------------------------------------------------------------
def _projects(show_all: bool) -> list[dict[str, str]]:
    """docker compose's ``stackView``: Name, Status (``running(2), exited(1)``),
    ConfigFiles, from the labels of every container of the state root."""
    from pycompose.compose import translate as T

    found: dict[str, dict[str, Any]] = {}
    for rec in C.engine().containers():
        labels = rec.labels
        name = labels.get(T.LABEL_PROJECT)
        if not name:
            continue
        p = found.setdefault(name, {"states": {}, "files": labels.get(T.LABEL_FILES, "")})
        st = rec.status.value
        p["states"][st] = p["states"].get(st, 0) + 1
    out = []
    for name in sorted(found):
        states = found[name]["states"]
        if not show_all and "running" not in states:
            continue
        status = ", ".join(f"{s}({n})" for s, n in sorted(states.items()))
        out.append({"Name": name, "Status": status, "ConfigFiles": found[name]["files"]})
    return out


def ls(args: argparse.Namespace) -> int:
    from pycompose.compose.errors import ComposeError

    projects = _projects(args.all)
    for f in args.filter:
        key, _, value = f.partition("=")
        if key != "name":
            raise ComposeError(f"invalid --filter {f!r}: ls filters by name=NAME")
        projects = [p for p in projects if value in p["Name"]]
    if args.quiet:
        for p in projects:
            print(p["Name"])
        return 0
    if args.format == "json":
        print(go_json(projects))
        return 0
    for line in format_rows(args.format, projects,
                            [("NAME", "Name"), ("STATUS", "Status"),
                             ("CONFIG FILES", "ConfigFiles")]):
        print(line)
    return 0


# -- version ------------------------------------------------------------------------------
def version(args: argparse.Namespace) -> int:
    from pycompose import __version__

    from .gotemplate import render, unescape

    if args.short:
        print(__version__)
    elif args.format == "json":
        print(go_json({"version": f"v{__version__}"}))
    elif args.format in ("pretty", "", None):
        print(f"pycompose version v{__version__}")
    else:
        print(render(unescape(args.format), {"version": f"v{__version__}"}))
    return 0


# -- images -------------------------------------------------------------------------------
def images(args: argparse.Namespace) -> int:
    from pycompose.engine.api.images import ImageStore
    from pycompose.engine.api.images import parse_reference as parse

    from .image import human_size

    _, recs = C.rows(args, True)
    store = ImageStore(C.root())
    rows = []
    for r in recs:
        ref = r.image
        try:
            im = store.resolve(r.image_id or ref)
        except Exception as e:  # an image removed under a container: show what we know
            from pycompose.errors import PycomposeError

            if not isinstance(e, PycomposeError):
                raise
            im = None
        repo, tag = ref, "latest"
        try:
            parsed = parse(ref)
            fam = parsed.familiar()
            repo, _, tag = fam.rpartition(":") if ":" in fam.rsplit("/", 1)[-1] else \
                (fam, "", "latest")
        except Exception as e:
            from pycompose.errors import PycomposeError

            if not isinstance(e, PycomposeError):
                raise
        rows.append({"ContainerName": r.name, "Repository": repo, "Tag": tag or "latest",
                     "ID": (im.short_id if im is not None else r.image_id[7:19]),
                     "Size": human_size(im.size) if im is not None else "0B",
                     "FullID": im.id if im is not None else r.image_id})
    if args.quiet:
        for i in dict.fromkeys(r["FullID"] for r in rows):
            print(i)
        return 0
    if args.format == "json":
        print(go_json([{k: v for k, v in r.items() if k != "FullID"} for r in rows]))
        return 0
    for line in format_rows(args.format, rows,
                            [("CONTAINER", "ContainerName"), ("REPOSITORY", "Repository"),
                             ("TAG", "Tag"), ("IMAGE ID", "ID"), ("SIZE", "Size")]):
        print(line)
    return 0


# -- top ----------------------------------------------------------------------------------
def top(args: argparse.Namespace) -> int:
    import subprocess

    _, recs = C.rows(args, False)
    engine = C.engine()
    first = True
    for r in recs:
        pids = engine.top_pids(r.id)
        if not pids:
            continue
        out = subprocess.run(["ps", "-o", "uid,pid,ppid,c,stime,tty,time,cmd", "-p",
                              ",".join(map(str, pids))], capture_output=True, text=True)
        lines = out.stdout.splitlines()
        if not first:
            print()
        first = False
        print(r.name)
        table = [["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]]
        for line in lines[1:]:
            parts = line.split(None, 7)
            table.append(parts + [""] * (8 - len(parts)))
        for line in tabulate(table):
            print(line)
    return 0


# -- volumes ------------------------------------------------------------------------------
def volumes(args: argparse.Namespace) -> int:
    from pycompose.compose import translate as T
    from pycompose.engine.api.volumes import VolumeStore

    project, recs = C.rows(args, True)
    wanted = set(getattr(args, "services", []) or [])
    rows = []
    for v in VolumeStore(C.root()).list():
        labels = v.get("Labels") or {}
        if labels.get(T.LABEL_PROJECT) != project.name:
            continue
        if wanted:
            used = {r.labels.get(T.LABEL_SERVICE) for r in recs
                    for m in r.mounts if m.get("Name") == v["Name"]}
            if not used & wanted:
                continue
        rows.append({"Driver": v.get("Driver", "local"), "Name": v["Name"],
                     "Mountpoint": v.get("Mountpoint", ""), "Scope": "local",
                     "Labels": ",".join(f"{k}={val}" for k, val in sorted(labels.items())),
                     "Availability": "N/A", "Group": "N/A", "Links": "N/A", "Size": "N/A",
                     "Status": "N/A"})
    if args.quiet:
        for r in rows:
            print(r["Name"])
        return 0
    for line in format_rows(args.format, rows, [("DRIVER", "Driver"), ("VOLUME NAME", "Name")]):
        print(line)
    return 0


# -- stats --------------------------------------------------------------------------------
def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.4g}{unit}" if unit != "B" else f"{int(n)}B"
        n /= 1024
    return f"{n}B"


def stats(args: argparse.Namespace) -> int:
    import os

    from pycompose.engine.api import EngineError

    services = [args.service] if args.service else []
    engine = C.engine()
    host_mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    prev: dict[str, Any] = {}
    first = True
    tty = sys.stdout.isatty() and not args.no_stream
    while True:
        _, recs = C.rows(args, args.all, services)
        samples = {}
        for r in recs:
            try:
                samples[r.id] = engine.stats(r.id) if r.status.is_active else None
            except EngineError:
                samples[r.id] = None
        if args.no_stream and first and samples:  # a CPU % needs two samples
            prev, first = samples, False
            time.sleep(0.5)
            continue
        rows = []
        for r in recs:
            s, p = samples.get(r.id), prev.get(r.id)
            cpu = 0.0
            if s is not None and p is not None and s.time_ns > p.time_ns:
                cpu = 100.0 * (s.cpu_ns - p.cpu_ns) / (s.time_ns - p.time_ns)
            limit = s.memory_limit if s and 0 < s.memory_limit < host_mem else host_mem
            mem = s.memory if s else 0
            rows.append({"BlockIO": "0B / 0B", "CPUPerc": f"{cpu:.2f}%",
                         "Container": r.id[:12], "ID": r.id if args.no_trunc else r.id[:12],
                         "MemPerc": f"{100.0 * mem / limit if limit else 0:.2f}%",
                         "MemUsage": f"{_size(mem)} / {_size(limit)}", "Name": r.name,
                         "NetIO": "0B / 0B", "PIDs": str(s.pids if s else 0)})
        lines = format_rows(args.format, rows,
                            [("CONTAINER ID", "ID"), ("NAME", "Name"), ("CPU %", "CPUPerc"),
                             ("MEM USAGE / LIMIT", "MemUsage"), ("MEM %", "MemPerc"),
                             ("NET I/O", "NetIO"), ("BLOCK I/O", "BlockIO"),
                             ("PIDS", "PIDs")])
        if tty:
            sys.stdout.write("\x1b[H\x1b[2J")
        print("\n".join(lines), flush=True)
        if args.no_stream:
            return 0
        prev = samples
        time.sleep(1.0)


# -- events -------------------------------------------------------------------------------
def _event_time(ns: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(ns // 10**9)) + \
        f".{ns % 10**9 // 1000:06d}" + time.strftime("%z", time.localtime(ns // 10**9))


def events(args: argparse.Namespace) -> int:
    """Live events of the project's containers, from the supervisor's stream: docker
    compose's text line or its JSON object (time, type, action, id, service,
    attributes)."""
    from pycompose.compose import translate as T
    from pycompose.engine.api.logs import parse_timestamp

    project = C.load_project(args)
    wanted = set(args.services)
    for s in wanted:
        if s not in project.all_services():
            from pycompose.compose.errors import ComposeError

            raise ComposeError(f"no such service: {s}")
    try:
        since = parse_timestamp(args.since) if args.since else None
        until = parse_timestamp(args.until) if args.until else None
    except ValueError as e:
        from pycompose.compose.errors import ComposeError

        raise ComposeError(f"invalid --since/--until: {e}")
    for ev in C.engine().events(since_ns=since):
        if until is not None and ev.time_ns > until:
            return 0
        attrs = ev.attributes
        if attrs.get(T.LABEL_PROJECT) != project.name:
            continue
        service = attrs.get(T.LABEL_SERVICE, "")
        if wanted and service not in wanted:
            continue
        shown = {k: v for k, v in attrs.items() if not k.startswith("com.docker.compose.")}
        if args.json:
            print(go_json({"time": _event_time(ev.time_ns), "type": ev.type,
                           "action": ev.action, "id": ev.id, "service": service,
                           "attributes": shown}), flush=True)
        else:
            text = ", ".join(f"{k}={v}" for k, v in sorted(shown.items()))
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ev.time_ns // 10**9))
            print(f"{stamp}.{ev.time_ns % 10**9 // 1000:06d} {ev.type} {ev.action} {ev.id} "
                  f"({text})", flush=True)
    return 0
