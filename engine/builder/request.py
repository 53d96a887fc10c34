"""What a front end asks the builder for (``image build``, compose's ``build:``), and
what it gets back. Parsed once at the edge (the CLI's flags, the Compose model)."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from pycompose.util.records import field, record


@record
class Secret:
    """``--secret id=ID,src=PATH`` or ``--secret id=ID,env=VAR`` (the value already read
    from the caller's environment by the front end)."""

    id: str
    path: str = ""
    value: bytes | None = None

    def read(self) -> bytes:
        if self.value is not None:
            return self.value
        with open(self.path, "rb") as f:
            return f.read()


@record
class BuildRequest:
    """One image to build.

    The context is a folder (``context``), a tar stream (``context_tar``, read once and
    unpacked privately) or neither (a Dockerfile alone). The Dockerfile is
    ``dockerfile_text`` when given (stdin, ``dockerfile_inline``), else the file
    ``dockerfile`` (default: ``Dockerfile`` in the context)."""

    context: Path | None = None
    context_tar: BinaryIO | None = None
    dockerfile: Path | None = None
    dockerfile_text: str | None = None
    tags: list[str] = field(default_factory=list)
    build_args: dict[str, str] = field(default_factory=dict)
    target: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    no_cache: bool = False
    pull: bool = False
    cache_from: list[str] = field(default_factory=list)
    secrets: list[Secret] = field(default_factory=list)
    network: str = "default"  # default | none | host
    extra_hosts: list[str] = field(default_factory=list)  # HOST:IP
    shm_size: int = 0  # bytes
    platform: str = ""
    additional_contexts: dict[str, Path] = field(default_factory=dict)
    #: who builds (``user@host``), for the image's author and history; "" = this process
    author: str = ""


@record
class BuildResult:
    image_id: str
    tags: list[str]
    warnings: list[str] = field(default_factory=list)
