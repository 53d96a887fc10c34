"""``pycompose image versions`` and ``image rollback``: a tag's history, and going back.

Every change of what a tag points to is recorded by the store (engine/images/
versions.py): a build, pull, tag, commit, load, import, rollback or removal, with when,
who and the command. ``image versions NAME[:TAG]`` lists them newest first (every tag
of the repository when no tag is given); ``image rollback NAME[:TAG]`` points the tag at
the version before the current one (``--to N`` or ``--to IMAGE-ID`` for another), and
is itself recorded, so a rollback can be rolled back.
"""

from __future__ import annotations

import argparse
import json


def register_image_verbs(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("versions", help="Show every version a tag has pointed to")
    s.add_argument("ref", metavar="NAME[:TAG]")
    s.add_argument("-q", "--quiet", action="store_true", help="only show image ids")
    s.add_argument("--no-trunc", action="store_true", help="don't truncate the output")
    s.add_argument("--format", help="'table' (default) or 'json'")
    s.set_defaults(handler=cmd_versions)

    s = sub.add_parser("rollback", help="Point a tag back at an earlier version")
    s.add_argument("ref", metavar="NAME[:TAG]")
    s.add_argument("--to", metavar="N|IMAGE-ID",
                   help="the version number (from image versions) or image id to go back "
                        "to (default: the version before the current one)")
    s.set_defaults(handler=cmd_rollback)


def _tags(store: object, ref: str) -> tuple[list[str], bool]:
    """The full tag names ``ref`` means, and whether it named a single tag."""
    from pycompose.engine.api.images import reference, versions

    tagged = ":" in ref.rsplit("/", 1)[-1] or "@" in ref
    r = reference.parse(ref)
    if tagged:
        return [str(r)], True
    return versions.tags_with_history(store, r.name) or [str(r)], False  # type: ignore[arg-type]


def cmd_versions(args: argparse.Namespace) -> int:
    from pycompose.cli.render import human_ago, table
    from pycompose.engine.api import NotFound
    from pycompose.engine.api.images import ImageStore, reference, versions

    store = ImageStore()
    names, single = _tags(store, args.ref)
    present = {im.id for im in store.images()}
    current: dict[str, str] = {}
    for im in store.images():
        for t in im.repo_tags:
            current[t] = im.id
    rows = []
    latest: dict[str, int] = {}
    for name in names:
        past = versions.history(store, name)
        if past:
            latest[name] = past[-1].number
        rows += [(name, v) for v in reversed(past)]
    if not rows:
        raise NotFound(f"no versions are recorded for {reference.parse(names[0]).familiar()}"
                       if single else f"no versions are recorded for any tag of "
                       f"{reference.parse(args.ref, default_tag=False).familiar_name}")

    def is_current(name: str, v: versions.Version) -> bool:
        return bool(v.image_id) and latest.get(name) == v.number \
            and current.get(name) == v.image_id

    if args.quiet:
        for _, v in rows:
            print(v.image_id if args.no_trunc else v.short_id or "<none>")
        return 0
    if args.format == "json":
        for name, v in rows:
            print(json.dumps({**versions.as_record(v), "Tag": reference.parse(name).familiar(),
                              "Current": is_current(name, v),
                              "InStore": v.image_id in present}))
        return 0
    head = ([] if single else ["TAG"]) + ["VERSION", "IMAGE ID", "CREATED", "BY", "ACTION",
                                          "COMMAND"]
    body = []
    for name, v in rows:
        number = f"{v.number} (current)" if is_current(name, v) else str(v.number)
        image = "<none>" if not v.image_id else (v.image_id if args.no_trunc else v.short_id)
        if v.image_id and v.image_id not in present:
            image += " (gone)"
        command = v.command
        if not args.no_trunc and len(command) > 48:
            command = command[:47] + "…"
        when = human_ago(v.time) if v.time else "before versions"
        body.append(([] if single else [reference.parse(name).familiar()])
                    + [number, image, when, v.who or "-", v.action, command or "-"])
    print(table([head, *body]))
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    from pycompose.engine.api.images import ImageStore, reference, versions

    store = ImageStore()
    name = str(reference.parse(args.ref))
    target, new = versions.rollback(store, name, args.to)
    print(f"{reference.parse(name).familiar()}: back at version {target.number} "
          f"({target.short_id}), recorded as version {new.number}")
    return 0
