"""The typed face of registry work: what a front end asks for (requests), what it gets
back (results) and what it hears on the way (progress events).

Front ends (the CLI, compose's pull, the Docker API service) build a request from their
own text once; nothing below re-parses flags. Progress events are plain records: only
the CLI renders them (a live bar per layer on a terminal, plain lines otherwise).
Standard library only, so that importing these types costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import InvalidArgument

#: Docker's names for the machine architectures that ``platform.machine()`` reports.
_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64",
         "armv7l": "arm", "armv6l": "arm", "i686": "386", "i386": "386",
         "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}


@dataclass(frozen=True)
class Platform:
    """An image platform, ``os/architecture[/variant]`` (``linux/arm64/v8``)."""

    os: str = "linux"
    architecture: str = "amd64"
    variant: str = ""

    @classmethod
    def parse(cls, text: str) -> Platform:
        """``linux/amd64``, ``linux/arm/v7``, ``arm64`` (the os defaults to linux);
        normalised as containerd's platforms package does (``aarch64`` is arm64,
        ``arm64/v8`` is plain arm64, bare ``arm`` is arm/v7)."""
        parts = [p.strip().lower() for p in text.split("/")]
        if not text.strip() or any(not p for p in parts) or len(parts) > 3:
            raise InvalidArgument(f"invalid platform {text!r}: use OS/ARCH[/VARIANT], "
                                  "for example linux/amd64 or linux/arm64/v8")
        if len(parts) == 1:
            parts = ["linux", *parts]
        os_, arch, *rest = parts
        variant = rest[0] if rest else ""
        return cls(os_, *_normal_arch(arch, variant))

    @classmethod
    def of(cls, os_: str, architecture: str, variant: str = "") -> Platform:
        """A platform as an index entry or image config spells it, normalised."""
        return cls(os_.lower(), *_normal_arch(architecture.lower(), variant.lower()))

    @classmethod
    def host(cls) -> Platform:
        """This machine's platform."""
        import platform

        arch, variant = _normal_arch(platform.machine().lower(), "")
        return cls("linux", arch, variant)

    def matches(self, os_: str, architecture: str, variant: str = "") -> bool:
        """Whether an index entry's platform is this one. A wanted variant must be there
        (arm/v6 is not arm/v7); an entry without a variant serves a request without one."""
        arch, var = _normal_arch(architecture.lower(), variant.lower())
        if os_.lower() != self.os or arch != self.architecture:
            return False
        return not self.variant or var == self.variant

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


def _normal_arch(arch: str, variant: str) -> tuple[str, str]:
    arch = _ARCH.get(arch, arch)
    if arch == "arm64" and variant == "v8":
        variant = ""
    if arch == "arm" and not variant:
        variant = "v7"
    if arch == "amd64" and variant == "v1":
        variant = ""
    return arch, variant


# ---------------------------------------------------------------- progress events

@dataclass(frozen=True)
class LayerProgress:
    """One layer's state changed, or more of it moved.

    ``layer`` is its short id (docker's twelve hex digits). ``status`` is docker's word:
    Waiting, Pulling fs layer, Downloading, Verifying Checksum, Download complete,
    Extracting, Retrying, Pull complete, Already exists; Preparing, Pushing, Pushed,
    Layer already exists, Mounted from REPO. ``current``/``total`` are bytes, while they
    mean something."""

    image: str
    layer: str
    status: str
    current: int = 0
    total: int = 0


@dataclass(frozen=True)
class ImageMessage:
    """A line about the whole image: ``latest: Pulling from library/busybox``,
    ``Digest: sha256:...``, a warning about the platform."""

    image: str
    message: str
    warning: bool = False


Event = LayerProgress | ImageMessage
Progress = Callable[[Event], None]


# ---------------------------------------------------------------- pull

@dataclass(frozen=True)
class PullRequest:
    """``image pull NAME[:TAG|@DIGEST]``: ``platform`` None is this machine's;
    ``all_tags`` pulls every tag of the repository (``-a``); ``unpack`` unpacks the
    layers before returning, for a caller that runs the image next (else they are
    unpacked when first used: images/unpacking.py)."""

    reference: str
    platform: Platform | None = None
    all_tags: bool = False
    unpack: bool = False


@dataclass(frozen=True)
class PulledImage:
    """One image that a pull left in the store.

    ``reference`` is the full name (``docker.io/library/busybox:latest``); ``digest``
    the digest the registry knows it by (an index's, for a multi-platform image);
    ``updated`` says whether the tag moved (docker's "Downloaded newer image")."""

    reference: str
    image_id: str
    digest: str
    manifest_digest: str
    updated: bool
    layers_fetched: int = 0
    layers_existing: int = 0
    bytes_fetched: int = 0
    source: str = ""  # the registry that served it (a mirror, or the name's own)


@dataclass(frozen=True)
class PullResult:
    images: list[PulledImage] = field(default_factory=list)


# ---------------------------------------------------------------- push

@dataclass(frozen=True)
class PushRequest:
    """``image push NAME[:TAG]`` (``all_tags``: every local tag of the repository).
    ``chunk_size``: blobs larger than this go up in PATCH chunks of this size, smaller
    ones in one PUT."""

    reference: str
    all_tags: bool = False
    chunk_size: int = 32 << 20


@dataclass(frozen=True)
class PushedImage:
    """One tag pushed: how many layers the registry already had (or mounted from
    another repository) and how many bytes went up, so a user sees the delta."""

    reference: str
    digest: str
    manifest_size: int
    layers: int
    layers_existing: int
    layers_mounted: int
    layers_uploaded: int
    bytes_sent: int  # layer bytes uploaded
    config_sent: int = 0  # bytes of the config blob, when it was uploaded


@dataclass(frozen=True)
class PushResult:
    images: list[PushedImage] = field(default_factory=list)


# ---------------------------------------------------------------- login

@dataclass(frozen=True)
class LoginRequest:
    """``login [SERVER]``: an empty ``server`` is Docker Hub."""

    server: str
    username: str
    password: str


@dataclass(frozen=True)
class LoginResult:
    server: str  # as stored in config.json ("https://index.docker.io/v1/" for Hub)
    stored_in: str  # the config file, or "docker-credential-NAME"
    identity_token: bool = False
