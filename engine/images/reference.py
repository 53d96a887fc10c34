"""Image references, normalised as docker's: ``ubuntu:20.04`` is
``docker.io/library/ubuntu:20.04``.

Pure functions, no I/O. The grammar is the distribution project's reference grammar
(``reference/regexp.go``): a name is slash-separated lowercase components, optionally
after a domain (a first component with a dot or a colon, or ``localhost``); a tag
follows ``:``, a digest follows ``@``. A reference with neither gets the tag ``latest``
-- except when a digest is given, where docker keeps no tag.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import InvalidArgument

DEFAULT_DOMAIN = "docker.io"
LEGACY_DOMAIN = "index.docker.io"
OFFICIAL_PREFIX = "library/"
DEFAULT_TAG = "latest"

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
_PATH_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_DOMAIN_RE = re.compile(rf"^{_DOMAIN}$")
_TAG_RE = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST_RE = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,}$")
_HEX64_RE = re.compile(r"^[0-9a-f]{64}$")


class InvalidReference(InvalidArgument):
    """A string that is not a valid image reference."""


@dataclass(frozen=True)
class Reference:
    """A parsed, normalised image reference."""

    domain: str
    path: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """The repository: ``docker.io/library/busybox``."""
        return f"{self.domain}/{self.path}"

    def __str__(self) -> str:
        out = self.name
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out

    @property
    def familiar_name(self) -> str:
        """The repository as docker prints it: ``busybox``, ``me/app``, ``quay.io/x/y``."""
        return familiar_name(self.name)

    def familiar(self) -> str:
        out = self.familiar_name
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out


def familiar_name(name: str) -> str:
    """``docker.io/library/busybox`` -> ``busybox``; ``docker.io/me/app`` -> ``me/app``."""
    if name.startswith(DEFAULT_DOMAIN + "/"):
        name = name[len(DEFAULT_DOMAIN) + 1:]
        if name.startswith(OFFICIAL_PREFIX) and name.count("/") == 1:
            name = name[len(OFFICIAL_PREFIX):]
    return name


def _split_domain(name: str) -> tuple[str, str]:
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"
                or first != first.lower()):
        domain, path = first, rest
    else:
        domain, path = DEFAULT_DOMAIN, name
    if domain == LEGACY_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = OFFICIAL_PREFIX + path
    return domain, path


def parse(ref: str, *, default_tag: bool = True) -> Reference:
    """Parse and normalise ``ref``; raise InvalidReference naming it when it is bad.

    ``default_tag``: add ``latest`` when the reference has neither tag nor digest (what
    ``pull``/``run`` do); ``image tag`` and ``import`` use it too.
    """
    if not ref or ref != ref.strip():
        raise InvalidReference(f"invalid reference format: {ref!r}")
    if _HEX64_RE.match(ref):
        raise InvalidReference(
            f"invalid repository name ({ref}), cannot specify 64-byte hexadecimal strings")
    rest, _, digest = ref.partition("@")
    tag: str | None = None
    # A colon after the last slash is a tag; one before it is a domain's port.
    colon = rest.rfind(":")
    if colon > rest.rfind("/"):
        rest, tag = rest[:colon], rest[colon + 1:]
        if not _TAG_RE.match(tag):
            raise InvalidReference(f"invalid reference format: bad tag {tag!r} in {ref!r}")
    if digest and not _DIGEST_RE.match(digest):
        raise InvalidReference(f"invalid reference format: bad digest {digest!r} in {ref!r}")
    domain, path = _split_domain(rest)
    if not _DOMAIN_RE.match(domain):
        raise InvalidReference(f"invalid reference format: bad domain {domain!r} in {ref!r}")
    if not _PATH_RE.match(path):
        if path.lower() != path and _PATH_RE.match(path.lower()):
            raise InvalidReference(
                f"invalid reference format: repository name ({path}) must be lowercase")
        raise InvalidReference(f"invalid reference format: {ref!r}")
    if len(domain) + 1 + len(path) > 255:
        raise InvalidReference(f"invalid reference format: repository name too long: {ref!r}")
    if tag is None and not digest and default_tag:
        tag = DEFAULT_TAG
    return Reference(domain, path, tag, digest or None)


def normalize(ref: str) -> str:
    """The full normalised string: ``busybox`` -> ``docker.io/library/busybox:latest``."""
    return str(parse(ref))


def looks_like_id(s: str) -> bool:
    """An image id or a prefix of one (``sha256:abc...`` or at least 4 hex digits)."""
    h = s.removeprefix("sha256:")
    return 4 <= len(h) <= 64 and all(c in "0123456789abcdef" for c in h)
