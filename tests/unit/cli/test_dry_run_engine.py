"""``--dry-run`` of start/stop/restart says what it would do and changes nothing: not
even the services' hooks run (post_start and pre_stop went to the real engine's exec:
``stop --dry-run`` ran ``pre_stop`` commands in the containers)."""

from __future__ import annotations

from pathlib import Path

import trio.testing
from pctest.fake_engine import FakeEngine

from pycompose.cli.stack import _DryEngine
from pycompose.compose import orchestrate as O
from pycompose.compose.loader import LoadOptions, load
from pycompose.compose.model import validate

HOOKS = """
services:
  a:
    image: x
    post_start: [{command: [touch, /started]}]
    pre_stop: [{command: [rm, -rf, /data]}]
"""


async def test_dry_run_runs_no_hook_and_changes_nothing(
        tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
    (tmp_path / "compose.yaml").write_text(HOOKS)
    p = validate(load(LoadOptions(cwd=str(tmp_path), environ={}, project_name="demo")))
    fake = FakeEngine(autojump_clock)
    await O.up(p, fake, O.UpOptions())
    assert fake.ops("exec"), "the fake engine saw the post_start hook of a real up"
    before = list(fake.calls)
    dry = _DryEngine(fake)
    await O.stop(p, dry, [])
    await O.start(p, dry, [])
    await O.restart(p, dry, [])
    changed = [c for c in fake.calls[len(before):] if c[0] not in ("inspect", "list")]
    assert changed == []
