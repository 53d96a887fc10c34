"""The CLI starts fast: --version and --help import no pydantic, trio, pyroute2, yaml."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ["pydantic", "trio", "pyroute2", "yaml", "networkx", "dns"]

PROBE = """
import sys
from pycompose.cli import main
try:
    main({argv!r})
except SystemExit:
    pass
heavy = sorted(m for m in sys.modules if m.split('.')[0] in {heavy!r})
print('HEAVY=' + ','.join(heavy))
"""


@pytest.mark.parametrize(
    "argv",
    [["--version"], ["--help"], ["container", "--help"], ["image", "--help"],
     ["volume", "--help"], ["network", "--help"], ["config", "--help"], ["up", "--help"],
     ["logs", "--help"]],
)
def test_light_commands_import_nothing_heavy(argv: list[str]) -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(argv=argv, heavy=set(HEAVY))],
        capture_output=True, text=True, check=True,
    ).stdout.strip().splitlines()[-1].removeprefix("HEAVY=")
    assert out == "", f"pycompose {' '.join(argv)} imported {out}"


def test_unknown_command_is_one_clear_line() -> None:
    from pctest.cli import run

    r = run(["frobnicate"])
    assert r.returncode == 2
    assert "'frobnicate' is not a pycompose command" in r.stderr
    assert "Traceback" not in r.stderr


def test_command_options_are_not_taken_as_global() -> None:
    from pycompose.cli import split_global

    g, rest = split_global(["-p", "proj", "-f", "a.yml", "container", "run", "-p", "80:80"])
    assert g == ["-p", "proj", "-f", "a.yml"]
    assert rest == ["container", "run", "-p", "80:80"]
