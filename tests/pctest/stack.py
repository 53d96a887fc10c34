"""A compose project under test: its folder, name, and the CLI run in it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from pctest.cli import run


class Stack:
    def __init__(self, root: Path, folder: Path, name: str) -> None:
        self.root = root
        self.folder = folder
        self.name = name

    def write(self, text: str, file: str = "compose.yaml") -> None:
        (self.folder / file).write_text(text)

    def __call__(self, *args: str, timeout: float = 90,
                 env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return run(["-p", self.name, *args], cwd=self.folder, timeout=timeout, env=env)

    def ok(self, *args: str, timeout: float = 90) -> str:
        r = self(*args, timeout=timeout)
        assert r.returncode == 0, f"pycompose {' '.join(args)}:\n{r.stdout}\n{r.stderr}"
        return r.stdout

    def inspect(self, container: str, template: str) -> str:
        r = run(["container", "inspect", "-f", template, container])
        assert r.returncode == 0, r.stderr
        return r.stdout.strip()

    def ps(self, *flags: str) -> list[dict[str, Any]]:
        """``ps --format json``: docker compose's NDJSON, one object per container."""
        out = self.ok("ps", *flags, "--format", "json")
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def exec(self, service: str, *cmd: str) -> subprocess.CompletedProcess[str]:
        return self("exec", "-T", service, *cmd)
