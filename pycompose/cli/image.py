"""``pycompose image ...``: the docker CLI's image verbs, calling engine.images directly.

Heavy imports stay inside the handlers (the store itself imports only the standard
library, so ``image ls`` starts fast).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from pycompose.util.humanize import human_size

from .render import human_ago, table


def register(p: argparse.ArgumentParser, command: str) -> None:
    sub = p.add_subparsers(dest="verb", metavar="COMMAND")
    __import__("pycompose.cli.build", fromlist=["hook"]).hook(sub)  # image build

    s = sub.add_parser("import", help="Import a rootfs tarball as a one-layer image")
    s.add_argument("file", metavar="TARBALL|-")
    s.add_argument("ref", nargs="?", metavar="REPOSITORY[:TAG]")
    s.add_argument("-c", "--change", action="append", default=[], metavar="INSTRUCTION",
                   help="apply a Dockerfile instruction (CMD, ENTRYPOINT, ENV, WORKDIR, "
                        "USER, EXPOSE, LABEL, VOLUME, STOPSIGNAL)")
    s.add_argument("-m", "--message", default="", help="commit message for the image")
    s.add_argument("--platform", help="accepted for docker compatibility (ignored)")
    s.set_defaults(handler=cmd_import)

    s = sub.add_parser("load", help="Load images from a docker-save or OCI archive")
    s.add_argument("-i", "--input", default="-", metavar="FILE",
                   help="read from FILE (gzip or plain tar) instead of standard input")
    s.add_argument("-q", "--quiet", action="store_true", help="suppress the load output")
    s.set_defaults(handler=cmd_load)

    s = sub.add_parser("save", help="Save images to an archive docker and podman can load")
    s.add_argument("images", nargs="+", metavar="IMAGE")
    s.add_argument("-o", "--output", metavar="FILE", help="write to FILE, not stdout")
    s.set_defaults(handler=cmd_save)

    for name, aliases in (("ls", ["list"]),):
        s = sub.add_parser(name, aliases=aliases, help="List images")
        s.add_argument("repository", nargs="?", metavar="REPOSITORY[:TAG]")
        s.add_argument("-a", "--all", action="store_true", help="show all images")
        s.add_argument("-q", "--quiet", action="store_true", help="only show image ids")
        s.add_argument("--no-trunc", action="store_true", help="don't truncate ids")
        s.add_argument("--digests", action="store_true", help="show manifest digests")
        s.add_argument("-f", "--filter", action="append", default=[], metavar="KEY=VALUE",
                       help="filter: dangling=true|false, reference=PATTERN")
        s.add_argument("--format", help="'table' (default) or 'json'")
        s.set_defaults(handler=cmd_ls)

    s = sub.add_parser("inspect", help="Show the details of images as JSON")
    s.add_argument("images", nargs="+", metavar="IMAGE")
    s.add_argument("-f", "--format", help="'json' (default) or a {{.Field}} template")
    s.set_defaults(handler=cmd_inspect)

    s = sub.add_parser("tag", help="Give an image another name")
    s.add_argument("source", metavar="SOURCE_IMAGE[:TAG]")
    s.add_argument("target", metavar="TARGET_IMAGE[:TAG]")
    s.set_defaults(handler=cmd_tag)

    s = sub.add_parser("rm", aliases=["remove"], help="Remove images")
    s.add_argument("images", nargs="+", metavar="IMAGE")
    s.add_argument("-f", "--force", action="store_true",
                   help="remove even images that containers use or that have several names")
    s.add_argument("--no-prune", action="store_true", help="accepted for docker compatibility")
    s.set_defaults(handler=cmd_rm)

    s = sub.add_parser("prune", help="Remove unused images")
    s.add_argument("-a", "--all", action="store_true",
                   help="remove all images no container uses, not just untagged ones")
    s.add_argument("-f", "--force", action="store_true", help="do not ask for confirmation")
    s.add_argument("--dry-run", action="store_true",
                   help="only say what would be removed, and what is kept for rollback")
    s.add_argument("--old-versions", action="store_true",
                   help="also remove untagged images that only earlier versions of tags "
                        "point at (they can no longer be rolled back to)")
    s.set_defaults(handler=cmd_prune)

    s = sub.add_parser("history", help="Show the history of an image: its layers")
    s.add_argument("image", metavar="IMAGE")
    s.add_argument("-H", "--human", default=True, action=argparse.BooleanOptionalAction,
                   help="human-readable sizes and dates (default)")
    s.add_argument("--no-trunc", action="store_true", help="don't truncate the output")
    s.add_argument("-q", "--quiet", action="store_true", help="only show image ids")
    s.add_argument("--format", help="'table' (default) or 'json'")
    s.set_defaults(handler=cmd_history)

    from pycompose.cli import registry, versions

    registry.register_image_verbs(sub)
    versions.register_image_verbs(sub)

    s = sub.add_parser("bootstrap", help="Make a Debian-family base image with debootstrap")
    s.add_argument("ref", metavar="NAME:TAG")
    s.add_argument("--suite", required=True, help="release, e.g. bookworm")
    s.add_argument("--mirror", help="package mirror (default: the one apt uses)")
    s.add_argument("--variant", default="minbase", help="debootstrap variant (minbase)")
    s.add_argument("--include", default="", help="comma-separated extra packages")
    s.add_argument("--arch", help="architecture (default: this machine's)")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    s.set_defaults(handler=cmd_bootstrap)


# ---------------------------------------------------------------- formatting helpers

def _store() -> Any:
    from pycompose.engine.api.images import ImageStore

    return ImageStore()


# ---------------------------------------------------------------- handlers

def cmd_import(args: argparse.Namespace) -> int:
    from pycompose.engine.api import EngineError
    from pycompose.engine.api.images import import_tarball

    store = _store()
    created_by = "pycompose image import " + (args.file if args.file != "-" else "-")
    if args.file == "-":
        im = import_tarball(store, sys.stdin.buffer, source="-", tag=args.ref,
                            changes=args.change, message=args.message, created_by=created_by)
    else:
        try:
            f = open(args.file, "rb")  # noqa: SIM115 - closed below
        except OSError as e:
            raise EngineError(f"cannot open {args.file}: {e.strerror}")
        with f:
            im = import_tarball(store, f, source=args.file, tag=args.ref, changes=args.change,
                                message=args.message, created_by=created_by)
    print(im.id)
    return 0


def cmd_load(args: argparse.Namespace) -> int:
    from pycompose.engine.api import EngineError
    from pycompose.engine.api.images import load

    store = _store()
    if args.input == "-":
        if sys.stdin.isatty():
            raise EngineError("requested load from stdin, but stdin is empty (use -i FILE)")
        loaded = load(store, sys.stdin.buffer, source="stdin")
    else:
        try:
            f = open(args.input, "rb")  # noqa: SIM115 - closed below
        except OSError as e:
            raise EngineError(f"cannot open {args.input}: {e.strerror}")
        with f:
            loaded = load(store, f, source=args.input)
    if not args.quiet:
        for im, tags in loaded:
            from pycompose.engine.api.images import parse_reference as parse

            for t in tags:
                print(f"Loaded image: {parse(t).familiar()}")
            if not tags:
                print(f"Loaded image ID: {im.id}")
    return 0


def cmd_save(args: argparse.Namespace) -> int:
    from pycompose.engine.api import EngineError
    from pycompose.engine.api.images import save

    store = _store()
    if args.output:
        save(store, args.images, args.output)
    else:
        if sys.stdout.isatty():
            raise EngineError("cowardly refusing to save to a terminal. "
                              "Use the -o flag or redirect")
        sys.stdout.flush()
        save(store, args.images, sys.stdout.buffer)
    return 0


def _rows(store: Any, args: argparse.Namespace) -> list[dict[str, Any]]:
    import fnmatch

    from pycompose.engine.api.images import familiar_name
    from pycompose.engine.api.images import parse_reference as parse

    want = None
    if args.repository:
        r = parse(args.repository, default_tag=":" in args.repository.rsplit("/", 1)[-1])
        want = (r.name, r.tag)
    dangling = None
    patterns: list[str] = []
    for f in args.filter:
        k, _, v = f.partition("=")
        if k == "dangling":
            dangling = v.lower() in ("true", "1")
        elif k == "reference":
            patterns.append(v)
        else:
            from pycompose.engine.api import InvalidArgument

            raise InvalidArgument(f"invalid filter {k!r} (dangling, reference)")
    rows = []
    for im in store.images():
        tags = im.repo_tags or [None]
        if dangling is not None and (not im.repo_tags) != dangling:
            continue
        for t in tags:
            if t and "@" in t:  # pulled by digest: a name without a tag, as docker shows it
                name = t.split("@", 1)[0]
                if want and name != want[0]:
                    continue
                repo, tag = familiar_name(name), "<none>"
                if patterns and not any(fnmatch.fnmatchcase(repo, p) for p in patterns):
                    continue
            elif t:
                name, _, tag = t.rpartition(":")
                if want and (name != want[0] or (want[1] and tag != want[1])):
                    continue
                repo = familiar_name(name)
                if patterns and not any(fnmatch.fnmatchcase(repo, p) or
                                        fnmatch.fnmatchcase(f"{repo}:{tag}", p)
                                        for p in patterns):
                    continue
            else:
                if patterns:
                    continue
                if want:
                    continue
                repo, tag = "<none>", "<none>"
            rows.append({"Repository": repo, "Tag": tag, "ID": im.id, "im": im,
                         "Digest": im.manifest_digest, "CreatedAt": im.created,
                         "CreatedSince": human_ago(im.created)})
    return rows


def cmd_ls(args: argparse.Namespace) -> int:
    store = _store()
    rows = _rows(store, args)
    sizes: dict[str, int] = {}
    for r in rows:
        if r["ID"] not in sizes:
            sizes[r["ID"]] = r["im"].size
        r["Size"] = human_size(sizes[r["ID"]])
    if args.quiet:
        seen: list[str] = []
        for r in rows:
            i = r["ID"] if args.no_trunc else r["im"].short_id
            if i not in seen:
                seen.append(i)
        print("\n".join(seen)) if seen else None
        return 0
    if args.format == "json":
        for r in rows:
            out = {k: v for k, v in r.items() if k != "im"}
            out["ID"] = r["ID"] if args.no_trunc else r["im"].short_id
            print(json.dumps(out))
        return 0
    head = ["REPOSITORY", "TAG"] + (["DIGEST"] if args.digests else []) + \
        ["IMAGE ID", "CREATED", "SIZE"]
    body = [[r["Repository"], r["Tag"]] + ([r["Digest"]] if args.digests else []) +
            [r["ID"] if args.no_trunc else r["im"].short_id, r["CreatedSince"], r["Size"]]
            for r in rows]
    print(table([head, *body]))
    return 0


def inspect_doc(store: Any, im: Any) -> dict[str, Any]:
    from pycompose.engine.api.images import parse_reference as parse

    cfg = im.oci_config
    lowers = im.lowerdirs(ready=False)
    return {
        "Id": im.id,
        "RepoTags": [parse(t).familiar() for t in im.repo_tags if "@" not in t],
        "RepoDigests": [parse(t).familiar() for t in im.repo_tags if "@" in t],
        "Parent": "",
        "Comment": (im.history[-1].get("comment", "") if im.history else ""),
        "Created": im.created,
        "Author": cfg.get("author", ""),
        "Config": im.config,
        "Architecture": cfg.get("architecture", ""),
        "Os": cfg.get("os", ""),
        "Size": im.size,
        "GraphDriver": {"Name": "overlay", "Data": {"LowerDir": ":".join(lowers)}},
        "RootFS": {"Type": "layers", "Layers": im.diff_ids},
        "Metadata": {"ManifestDigest": im.manifest_digest},
    }


def cmd_inspect(args: argparse.Namespace) -> int:
    store = _store()
    docs = [inspect_doc(store, store.resolve(r)) for r in args.images]
    if args.format and args.format != "json":
        for d in docs:
            from .render import render_template

            print(render_template(args.format, d))
    else:
        print(json.dumps(docs, indent=4))
    return 0


def cmd_tag(args: argparse.Namespace) -> int:
    _store().tag(args.source, args.target)
    return 0


def cmd_rm(args: argparse.Namespace) -> int:
    from pycompose.engine.api.images import remove

    store = _store()
    failed = 0
    from pycompose.errors import PycomposeError

    for ref in args.images:
        try:
            for line in remove(store, ref, force=args.force):
                print(line)
        except PycomposeError as e:
            print(f"error: {e}", file=sys.stderr)
            failed = 1
    from pycompose.engine.api.images import gc

    gc(store)
    return failed


def _prune_plan_lines(drop: list[Any], kept: list[tuple[Any, list[str]]]) -> list[str]:
    """What prune would drop, and the untagged images versions keep (for rollback)."""
    from pycompose.engine.api.images import parse_reference as parse

    out = []
    if drop:
        out.append(f"Would remove {len(drop)} image{'s' if len(drop) != 1 else ''}:")
        for im in drop:
            names = ", ".join(parse(t).familiar() for t in im.repo_tags) or "<none>"
            out.append(f"  {im.short_id}  {names}  {human_size(im.size)}")
    else:
        out.append("Nothing to remove.")
    if kept:
        out.append(f"Kept for rollback ({len(kept)}: earlier versions of these tags point "
                   "at them; --old-versions removes them too):")
        for im, tags in kept:
            out.append(f"  {im.short_id}  versions of "
                       f"{', '.join(parse(t).familiar() for t in tags)}  {human_size(im.size)}")
    return out


def cmd_prune(args: argparse.Namespace) -> int:
    from pycompose.engine.api.images import prune, prune_plan

    store = _store()
    drop, kept = prune_plan(store, all_unused=args.all, old_versions=args.old_versions)
    if args.dry_run:
        print("\n".join(_prune_plan_lines(drop, kept)))
        return 0
    if not args.force and sys.stdin.isatty():
        what = "all images without at least one container associated to them" if args.all \
            else "all dangling images"
        print("\n".join(_prune_plan_lines(drop, kept)))
        ans = input(f"WARNING! This will remove {what}.\n"
                    "Are you sure you want to continue? [y/N] ")
        if ans.strip().lower() not in ("y", "yes"):
            return 0
    lines, reclaimed = prune(store, all_unused=args.all, old_versions=args.old_versions)
    if lines:
        print("Deleted Images:")
        print("\n".join(lines))
        print()
    if kept:
        print(f"Kept {len(kept)} untagged image{'s' if len(kept) != 1 else ''} that earlier "
              "versions of tags point at (pycompose image versions NAME; --dry-run lists "
              "them, --old-versions removes them)")
    print(f"Total reclaimed space: {human_size(reclaimed)}")
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    from pycompose.engine.api.images import history_rows

    store = _store()
    im = store.resolve(args.image)
    rows = history_rows(store, im)
    if args.quiet:
        for r in rows:
            print(r["ID"] if args.no_trunc or r["ID"] == "<missing>" else r["ID"][7:19])
        return 0
    if args.format == "json":
        for r in rows:
            print(json.dumps({**r, "CreatedSince": human_ago(r["CreatedAt"])}))
        return 0
    body = []
    authors = any(r["Author"] for r in rows)
    for r in rows:
        created_by = r["CreatedBy"]
        comment = r["Comment"]
        if not args.no_trunc and len(created_by) > 45:
            created_by = created_by[:44] + "…"
        body.append([
            r["ID"] if args.no_trunc or r["ID"] == "<missing>" else r["ID"][7:19],
            human_ago(r["CreatedAt"]) if args.human else r["CreatedAt"],
            created_by,
            human_size(r["Size"]) if args.human else str(r["Size"]),
            comment] + ([r["Author"] or "-"] if authors else []))
    print(table([["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"]
                 + (["AUTHOR"] if authors else []), *body]))
    return 0


def cmd_bootstrap(args: argparse.Namespace) -> int:
    from pycompose.engine.api.images import bootstrap

    def progress(msg: str) -> None:
        if not args.quiet:
            print(msg, file=sys.stderr, flush=True)

    im = bootstrap(_store(), args.ref, suite=args.suite, mirror=args.mirror,
                   variant=args.variant, include=[p for p in args.include.split(",") if p],
                   arch=args.arch, progress=progress)
    print(im.id)
    return 0
