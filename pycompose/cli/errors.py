"""The one table from an error's kind to the process exit status (docker's).

docker's CLI exits 125 when ``run``/``create`` fail in the engine, 126 when the command
cannot be executed and 127 when it is not found (``run`` and ``exec``), and 1 for every
other refusal (``rm`` of a running container, no such object, a compose error).
Library code never picks these: it raises a kind (``engine/errors.py``), and
:func:`exit_status` decides here, for the command that was run.
"""

from __future__ import annotations

#: command families whose engine errors are docker's 125/126/127
RUN_LIKE = {("container", "run"), ("container", "create")}
EXEC_LIKE = {("container", "exec"), ("exec", None), ("run", None)}


def family(command: str, verb: str | None) -> str:
    """``run`` (``container run|create``), ``exec`` (``container exec``, compose
    ``exec``/``run``) or ``plain``."""
    if (command, verb) in RUN_LIKE:
        return "run"
    if (command, verb) in EXEC_LIKE or (command, None) in EXEC_LIKE:
        return "exec"
    return "plain"


def exit_status(error: BaseException, fam: str) -> int:
    from pycompose.engine.api import CannotExecute, CommandNotFound, EngineError

    if isinstance(error, CommandNotFound) and fam in ("run", "exec"):
        return 127
    if isinstance(error, CannotExecute) and fam in ("run", "exec"):
        return 126
    if fam == "run" and isinstance(error, Exception):
        from pycompose.errors import PycomposeError

        if isinstance(error, (EngineError, PycomposeError)):
            return 125
    return 1
