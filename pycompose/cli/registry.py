"""``pycompose image pull|push``, ``login``, ``logout``, and the implicit pull of
``container run``/``create``: the CLI face of engine.registry.

Output follows docker's: pull progress per layer, then ``Digest:``, ``Status:`` and the
full reference (``-q``: the reference alone); push progress, then ``TAG: digest: ...
size: N`` -- and one line more than docker: how many layers the registry already had
and how many bytes went up. Every failure is one line and exit status 1, as docker's
pull and push.
"""

from __future__ import annotations

import argparse
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TextIO

    from pycompose.engine.api.registry import PulledImage


def register_image_verbs(sub: argparse._SubParsersAction) -> None:
    """``image pull`` and ``image push``, added to the image group's sub-commands."""
    s = sub.add_parser("pull", help="Download an image from a registry")
    s.add_argument("ref", metavar="NAME[:TAG|@DIGEST]")
    s.add_argument("-a", "--all-tags", action="store_true",
                   help="download every tagged image of the repository")
    s.add_argument("--platform", metavar="OS/ARCH[/VARIANT]",
                   help="pull this platform's image (default: this machine's)")
    s.add_argument("-q", "--quiet", action="store_true", help="suppress verbose output")
    s.add_argument("--disable-content-trust", action="store_true",
                   help="accepted for docker compatibility (no content trust here)")
    s.set_defaults(handler=cmd_pull)

    s = sub.add_parser("push", help="Upload an image to a registry (only what it lacks)")
    s.add_argument("ref", metavar="NAME[:TAG]")
    s.add_argument("-a", "--all-tags", action="store_true",
                   help="push every local tag of the repository")
    s.add_argument("-q", "--quiet", action="store_true", help="suppress verbose output")
    s.add_argument("--disable-content-trust", action="store_true",
                   help="accepted for docker compatibility (no content trust here)")
    s.set_defaults(handler=cmd_push)


def register(p: argparse.ArgumentParser, command: str) -> None:
    """The top-level ``login`` and ``logout``."""
    p.add_argument("server", nargs="?", default="", metavar="SERVER",
                   help="registry (default: Docker Hub)")
    if command == "login":
        p.add_argument("-u", "--username", default="", help="user name")
        p.add_argument("-p", "--password", default="",
                       help="password (insecure: prefer --password-stdin)")
        p.add_argument("--password-stdin", action="store_true",
                       help="read the password from standard input")
        p.set_defaults(handler=cmd_login)
    else:
        p.set_defaults(handler=cmd_logout)


# ---------------------------------------------------------------- pull

def _refuse(message: str) -> Exception:
    from pycompose.engine.api import InvalidArgument

    return InvalidArgument(message)


def pull_image(ref: str, *, platform: str | None = None, all_tags: bool = False,
               quiet: bool = False, out: TextIO | None = None,
               unpack: bool = False) -> list[PulledImage]:
    """Pull with progress on ``out`` (stdout); the pulled images. ``unpack``: the
    layers too, now (the image runs next), rather than on first use."""
    from pycompose.cli.progress import ProgressView
    from pycompose.engine.api.registry import Platform, PullRequest, pull_image

    out = out or sys.stdout
    plat = Platform.parse(platform) if platform else None
    view = ProgressView(out, quiet=quiet)
    if not quiet and not all_tags and "@" not in ref and \
            ":" not in ref.rsplit("/", 1)[-1]:
        print("Using default tag: latest", file=out)
    result = pull_image(PullRequest(ref, plat, all_tags, unpack), progress=view)
    view.flush()
    if not quiet:
        from pycompose.engine.api.images import parse_reference as parse

        for im in result.images:
            status = "Downloaded newer image" if im.updated else "Image is up to date"
            print(f"Status: {status} for {parse(im.reference).familiar()}", file=out)
    return list(result.images)


def cmd_pull(args: argparse.Namespace) -> int:
    images = pull_image(args.ref, platform=args.platform, all_tags=args.all_tags,
                        quiet=args.quiet)
    for im in images:
        print(im.reference)
    return 0


# ---------------------------------------------------------------- push

def cmd_push(args: argparse.Namespace) -> int:
    from pycompose.cli.progress import ProgressView
    from pycompose.engine.api.registry import PushRequest, push_image
    from pycompose.util.humanize import human_size

    view = ProgressView(sys.stdout, quiet=args.quiet)
    result = push_image(PushRequest(args.ref, args.all_tags), progress=view)
    view.flush()
    for im in result.images:
        if args.quiet:
            print(im.reference)
            continue
        there = im.layers_existing + im.layers_mounted
        parts = [f"{im.layers_uploaded} of {im.layers} layers sent "
                 f"({human_size(im.bytes_sent)}), {there} already in the registry"]
        if im.layers_mounted:
            parts.append(f"{im.layers_mounted} mounted from other repositories")
        print("; ".join(parts))
    return 0


# ---------------------------------------------------------------- login, logout

def _read_secret(prompt: str) -> str:
    import getpass

    return getpass.getpass(prompt)


def cmd_login(args: argparse.Namespace) -> int:
    from pycompose.engine.api.registry import LoginRequest, login

    user, password = args.username, args.password
    if args.password_stdin:
        if password:
            raise _refuse("--password and --password-stdin are mutually exclusive")
        if not user:
            raise _refuse("Must provide --username with --password-stdin")
        password = sys.stdin.read().rstrip("\r\n")
    elif password:
        print("WARNING! Using --password via the CLI is insecure. Use --password-stdin.",
              file=sys.stderr)
    if not user or not password:
        if not os.isatty(0):
            raise _refuse("Cannot perform an interactive login from a non TTY device")
        if not user:
            user = input("Username: ").strip()
        if not password:
            password = _read_secret("Password: ")
    if not user:
        raise _refuse("Username cannot be empty")
    result = login(LoginRequest(args.server, user, password))
    if result.stored_in.endswith("config.json"):
        print(f"WARNING! Your password will be stored unencrypted in {result.stored_in}.",
              file=sys.stderr)
    print("Login Succeeded")
    return 0


def cmd_logout(args: argparse.Namespace) -> int:
    from pycompose.engine.api.registry import logout

    key, found = logout(args.server)
    if found:
        print(f"Removing login credentials for {key}")
    else:
        print(f"Not logged in to {key}")
    return 0


# ---------------------------------------------------------------- run's implicit pull

def ensure_image(ref: str, policy: str, out: TextIO | None = None) -> None:
    """``container run/create --pull POLICY``: ``always`` pulls; ``missing`` pulls when
    the store lacks ``ref``; ``never`` does nothing (the engine says it is missing).
    Checked here, in the client, before the request goes to the supervisor."""
    if policy == "never":
        return
    out = out or sys.stderr
    if policy == "missing":
        from pycompose.engine.api.registry import maybe_present

        if maybe_present(ref):
            return
        from pycompose.engine.api import NotFound
        from pycompose.engine.api.images import ImageStore

        try:
            ImageStore().resolve(ref)
            return
        except NotFound:
            pass
        from pycompose.engine.api.images import parse_reference as parse

        name = parse(ref).familiar()  # a bad name is refused here, before any pull
        print(f"Unable to find image '{name}' locally", file=out)
    pull_image(ref, out=out, unpack=True)

