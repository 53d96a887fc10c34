"""The OCI runtime CLI's edges: runc's one-line errors and status 1, never a
traceback, a reader that went away is not an error, unsupported flags refused."""

from __future__ import annotations

import argparse

import pytest

from pycompose.cli import runtime as cli
from pycompose.engine.errors import NotFound


def _args(**kw: object) -> argparse.Namespace:
    base = {"debug": False, "log": None, "log_format": "text", "systemd_cgroup": False}
    base.update(kw)
    return argparse.Namespace(**base)


def test_errors_are_one_line_and_status_1(capsys: pytest.CaptureFixture[str]) -> None:
    def missing(_: argparse.Namespace) -> int:
        raise NotFound("container 'x' does not exist")

    assert cli._wrap(missing)(_args()) == 1
    assert capsys.readouterr().err == "pycompose-runtime: container 'x' does not exist\n"


def test_a_bug_is_one_line_too(capsys: pytest.CaptureFixture[str],
                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYCOMPOSE_DEBUG", raising=False)

    def bug(_: argparse.Namespace) -> int:
        raise KeyError("oops")

    assert cli._wrap(bug)(_args()) == 1
    err = capsys.readouterr().err
    assert "internal error (a bug in pycompose): KeyError" in err and "Traceback" not in err


def test_a_closed_reader_is_not_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    def pipe(_: argparse.Namespace) -> int:
        raise BrokenPipeError

    assert cli._wrap(pipe)(_args()) == 141


def test_systemd_cgroup_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli._wrap(lambda _: 0)(_args(systemd_cgroup=True)) == 1
    assert "--systemd-cgroup" in capsys.readouterr().err


def test_signal_names() -> None:
    from pycompose.engine.runtime.ocirun import parse_signal

    assert parse_signal("TERM") == parse_signal("SIGTERM") == parse_signal("15") == 15
    assert parse_signal("kill") == 9
