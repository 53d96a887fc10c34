"""What a build tells its caller while it runs: typed progress events.

The builder never prints; it hands each event to the caller's ``emit`` callback (the
CLI renders them as docker's plain or terminal progress, compose prefixes them with the
service). ``vertex`` numbers the steps in the order they start, as BuildKit's ``#N``;
``name`` is what a user recognises: ``[build 2/5] RUN make``.
"""

from __future__ import annotations

from collections.abc import Callable

from pycompose.util.records import record


@record(frozen=True)
class StepStarted:
    vertex: int
    name: str
    stage: str = ""


@record(frozen=True)
class StepCached:
    vertex: int


@record(frozen=True)
class StepOutput:
    """Bytes a RUN step wrote (stdout and stderr together, as they came)."""

    vertex: int
    data: bytes
    seconds: float  # since the step started


@record(frozen=True)
class StepDone:
    vertex: int
    seconds: float


@record(frozen=True)
class StepFailed:
    vertex: int
    message: str


@record(frozen=True)
class Note:
    """A line about the build that is not a step: a warning, the exported image."""

    message: str
    vertex: int = 0
    warning: bool = False


@record(frozen=True)
class Finished:
    image_id: str
    tags: tuple[str, ...]
    seconds: float


Event = StepStarted | StepCached | StepOutput | StepDone | StepFailed | Note | Finished
Emit = Callable[[Event], None]
