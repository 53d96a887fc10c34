"""The builder: Dockerfiles into images, with a layer cache. No compose knowledge.

::

    from pycompose.engine.builder import BuildRequest, build
    result = build(BuildRequest(context=Path("."), tags=["app:latest"]), emit=print)
    result.image_id                       # "sha256:..."

``emit`` receives typed progress events (:mod:`.events`); only the caller prints.

Modules, in the order a build uses them: :mod:`.dockerfile` (the parser, with
:mod:`.syntax` and :mod:`.words`), :mod:`.context` and :mod:`.ignore` (what a build may
read), :mod:`.plan` (which stages, in what order), :mod:`.solve` (stages in parallel),
:mod:`.execute` and :mod:`.filesteps` (the steps that make layers, RUN through
:mod:`.steps`, the engine seam; :mod:`.prefetch` stages a COPY while the RUN before it
runs), :mod:`.cache` (keys and records), :mod:`.workspace` (scratch space and cleaning
up after killed builds).
"""

from __future__ import annotations

from .events import Emit, Event
from .request import BuildRequest, BuildResult, Secret

__all__ = ["BuildRequest", "BuildResult", "Emit", "Event", "Secret", "build"]


def build(request: BuildRequest, emit: Emit, *, root: object = None,
          containers: object = None) -> BuildResult:
    """Build ``request`` (blocking). ``root`` is the state root (default: the usual),
    ``containers`` the engine seam (default: the supervisor's client)."""
    from .run import run_build

    return run_build(request, emit, root=root, containers=containers)  # type: ignore[arg-type]
