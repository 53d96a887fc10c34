#!/usr/bin/env python3
"""CLI start-up: how long ``pycompose --version``/``--help``/``config --help`` take, next
to the bare interpreter (the floor), and what each imports.

Every ``container run`` and ``exec`` pays this cost before it does anything, so it is a
feature (issue 2): the commands that need no heavy library must not import one.

Run: .venv/bin/python bench/cli_startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

VENV_BIN = Path(sys.executable).parent
PYCOMPOSE = str(VENV_BIN / "pycompose")


def timed(cmd: list[str], runs: int) -> float:
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=30)
    runs = ap.parse_args().runs
    cases = {
        "python -c pass (floor)": [sys.executable, "-c", "pass"],
        "pycompose --version": [PYCOMPOSE, "--version"],
        "pycompose --help": [PYCOMPOSE, "--help"],
        "pycompose container --help": [PYCOMPOSE, "container", "--help"],
        "python -c 'import pydantic, trio, yaml, networkx'": [
            sys.executable, "-c", "import pydantic, trio, yaml, networkx"],
    }
    print(f"median of {runs} runs")
    print(f"{'command':55} {'ms':>8} {'x floor':>8}")
    results = {name: timed(cmd, runs) for name, cmd in cases.items()}
    floor = results["python -c pass (floor)"]
    for name, t in results.items():
        print(f"{name:55} {t * 1000:8.1f} {t / floor:8.2f}")


if __name__ == "__main__":
    main()
