"""Only the CLI picks exit codes, from the error's kind and the command (docker's)."""

from __future__ import annotations

import pytest

from pycompose.cli.errors import exit_status, family
from pycompose.compose.errors import ComposeError
from pycompose.engine import errors as E
from pycompose.netplug.errors import PortInUse


@pytest.mark.parametrize(("command", "verb", "fam"), [
    ("container", "run", "run"), ("container", "create", "run"),
    ("container", "exec", "exec"), ("exec", None, "exec"),
    ("container", "rm", "plain"), ("up", None, "plain"), ("image", "ls", "plain"),
])
def test_families(command: str, verb: str | None, fam: str) -> None:
    assert family(command, verb) == fam


@pytest.mark.parametrize(("error", "run", "exec_", "plain"), [
    (E.CommandNotFound("x: not found", step="exec"), 127, 127, 1),
    (E.CannotExecute("x: permission denied", step="exec"), 126, 126, 1),
    (E.SetupFailed("mount /a on /b: no such file", step="mount"), 125, 1, 1),
    (E.NotFound("Unable to find image 'x' locally"), 125, 1, 1),
    (E.Conflict("name in use"), 125, 1, 1),
    (E.InvalidArgument("invalid -p"), 125, 1, 1),
    (PortInUse("host port 8080 in use"), 125, 1, 1),
    (ComposeError("no such service: x"), 125, 1, 1),
])
def test_dockers_exit_codes(error: Exception, run: int, exec_: int, plain: int) -> None:
    assert (exit_status(error, "run"), exit_status(error, "exec"),
            exit_status(error, "plain")) == (run, exec_, plain)
