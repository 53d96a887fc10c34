"""The CLI's side of builds: progress renderers (only the CLI prints), the flags'
parsing, and telling ``build PATH`` (docker) from ``build SERVICE`` (compose)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from pycompose.cli import build as CB
from pycompose.engine.api.build import events as E
from pycompose.engine.errors import InvalidArgument

EVENTS: list[E.Event] = [
    E.StepStarted(1, "[1/3] FROM busybox"), E.StepCached(1),
    E.StepStarted(2, "[2/3] RUN echo hi"), E.StepOutput(2, b"hi\npart", 0.25),
    E.StepOutput(2, b"ial\n", 0.3), E.StepDone(2, 0.5),
    E.StepStarted(3, "[3/3] RUN false"), E.StepOutput(3, b"oops", 0.1),
    E.StepFailed(3, "Dockerfile:3: exit code: 1"),
    E.Note("a warning", warning=True), E.Finished("sha256:" + "a" * 64, ("x",), 1.0),
]


def test_plain_progress_is_docker_plain() -> None:
    out = io.StringIO()
    r = CB.PlainProgress(out)
    for ev in EVENTS:
        r(ev)
    lines = [ln for ln in out.getvalue().splitlines() if ln]
    assert lines == ["#1 [1/3] FROM busybox", "#1 CACHED", "#2 [2/3] RUN echo hi",
                     "#2 0.250 hi", "#2 0.300 partial", "#2 DONE 0.5s", "#3 [3/3] RUN false",
                     "#3 oops", "#3 ERROR: Dockerfile:3: exit code: 1",
                     "WARNING: a warning"]


def test_tty_progress_draws_and_ends_with_a_summary() -> None:
    out = io.StringIO()
    r = CB.TtyProgress(out)  # type: ignore[arg-type]
    for ev in EVENTS:
        r(ev)
    text = out.getvalue()
    assert "=> [1/3] FROM busybox  CACHED" in text and "=> [2/3] RUN echo hi  0.5s" in text
    assert "\x1b[" in text and "FINISHED" in text and " > oops" in text


def test_quiet_renders_nothing() -> None:
    r = CB.renderer("quiet", False, io.StringIO())
    for ev in EVENTS:
        r(ev)


def test_rawjson_is_one_object_a_line() -> None:
    import json

    out = io.StringIO()
    r = CB.renderer("rawjson", False, out)
    for ev in EVENTS[:4]:
        r(ev)
    rows = [json.loads(ln) for ln in out.getvalue().splitlines()]
    assert rows[0]["type"] == "StepStarted" and rows[3]["data"] == "hi\npart"


def test_build_args_and_secrets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FROM_ENV", "e")
    monkeypatch.delenv("UNSET_ONE", raising=False)
    assert CB.parse_build_args(["A=1", "B=", "FROM_ENV", "UNSET_ONE"]) == \
        {"A": "1", "B": "", "FROM_ENV": "e"}
    f = tmp_path / "tok"
    f.write_text("t")
    assert CB.parse_secret(f"id=tok,src={f}").path == str(f)
    monkeypatch.setenv("TOKEN", "v")
    assert CB.parse_secret("id=tok,env=TOKEN").read() == b"v"
    with pytest.raises(InvalidArgument, match="no such file"):
        CB.parse_secret("id=x,src=/nonexistent/path")
    with pytest.raises(InvalidArgument, match="id= is required"):
        CB.parse_secret("src=x")


def test_docker_form_or_compose_form(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "web").mkdir()
    assert CB._is_docker_form(["."]) and CB._is_docker_form(["-"])
    assert CB._is_docker_form(["-t", "x", "."]) and CB._is_docker_form(["./web"])
    assert CB._is_docker_form(["web"])  # a folder, and no compose project here
    assert not CB._is_docker_form([]) and not CB._is_docker_form(["--no-cache"])
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    build: ./web\n")
    assert not CB._is_docker_form(["web"])  # a service of the project wins
    assert not CB._is_docker_form(["web", "api"])
    assert os.getcwd() == str(tmp_path)
