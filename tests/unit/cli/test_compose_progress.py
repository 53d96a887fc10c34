"""The progress display: the library's events, drawn as docker compose draws them."""

from __future__ import annotations

import io
import json

import pytest

from pycompose.cli import compose_progress as P
from pycompose.compose.errors import ComposeError


def test_plain_lines() -> None:
    out = io.StringIO()
    p = P.PlainProgress(out)
    p("Container", "demo-web-1", "Started")
    p("Network", "demo_default", "oops", ok=False)
    p.warn("services.web.gpus is not supported yet and is ignored")
    assert out.getvalue().splitlines() == [
        " Container demo-web-1  Started", " Network demo_default  Error oops",
        "WARN: services.web.gpus is not supported yet and is ignored"]


def test_json_events() -> None:
    out = io.StringIO()
    p = P.JsonProgress(out)
    p("Container", "demo-web-1", "Started")
    p.warn("careful")
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines == [{"id": "Container demo-web-1", "text": "Started"},
                     {"level": "warning", "text": "careful"}]


def test_quiet_keeps_warnings_only() -> None:
    out = io.StringIO()
    p = P.QuietProgress(out)
    p("Container", "x", "Started")
    p.warn("w")
    assert out.getvalue() == "WARN: w\n"


def test_tty_block_redraws_with_a_count_and_marks() -> None:
    out = io.StringIO()
    p = P.TtyProgress(out)
    p("Container", "demo-db-1", "Creating")
    p("Container", "demo-db-1", "Started")
    p("Container", "demo-web-1", "Starting")
    p.close()
    text = out.getvalue()
    assert "[+] Running 1/2" in text and "demo-db-1" in text and "✔" in text


def test_auto_is_plain_off_a_terminal_and_bad_modes_are_refused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COMPOSE_PROGRESS", raising=False)
    assert P.choose("auto") == "plain"  # pytest's stderr is no terminal
    assert P.choose(None, "never") == "plain"
    monkeypatch.setenv("COMPOSE_PROGRESS", "json")
    assert P.choose(None) == "json"
    with pytest.raises(ComposeError):
        P.choose("fancy")
