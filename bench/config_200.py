#!/usr/bin/env python3
"""``pycompose config`` of a 200-service project: the real CLI, in a subprocess.

Issue 2 asks for under half a second. The file is what a large real project looks
like: every service with an image or build, ports, volumes, environment, an env_file,
depends_on, healthcheck, deploy limits, labels, networks. Besides the wall time of the
whole command it prints where the time goes inside one process: imports, building
the pydantic models (``defer_build`` moves that to the first validation), loading,
validating, rendering.

Run: .venv/bin/python bench/config_200.py [--runs N] [--services N]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VENV_BIN = Path(sys.executable).parent
PYCOMPOSE = str(VENV_BIN / "pycompose")


def compose_text(n: int) -> str:
    out = ["name: bench", "x-common: &common", "  restart: unless-stopped",
           "  labels: [com.example.bench=1]", "services:"]
    for i in range(n):
        dep = f"\n    depends_on:\n      s{i - 1}:\n        condition: service_started" \
            if i else ""
        image = f"    image: registry.example/app{i}:1.{i}" if i % 3 else \
            f"    build:\n      context: ./app{i}\n      args: [N={i}]"
        out.append(f"""  s{i}:
    <<: *common
{image}
    command: ["run", "--port", "{8000 + i}"]
    ports: ["{10000 + i}:{8000 + i}", "127.0.0.1:{20000 + i}:9000/udp"]
    volumes: ["./data/s{i}:/data", "shared:/shared:ro", "/cache"]
    environment:
      SERVICE: s{i}
      PORT: "{8000 + i}"
      LIST_HOME: ${{HOME:-/root}}
    env_file: [common.env]
    healthcheck:
      test: ["CMD", "true"]
      interval: 30s
      timeout: 5s
      retries: 3
    deploy:
      resources:
        limits: {{cpus: "0.5", memory: 256m}}
    networks: [front, back]{dep}""")
    out += ["networks:", "  front:", "  back:", "volumes:", "  shared:"]
    return "\n".join(out) + "\n"


def in_process_breakdown(folder: Path) -> None:
    """One run inside this process, timed step by step (imports first: cold)."""
    t0 = time.perf_counter()
    import pydantic  # noqa: F401
    import yaml  # noqa: F401
    t1 = time.perf_counter()
    from pycompose.compose import render
    from pycompose.compose.loader import LoadOptions, load
    from pycompose.compose.model import validate
    t2 = time.perf_counter()
    raw = load(LoadOptions(cwd=str(folder), environ={"HOME": "/root"}))
    t3 = time.perf_counter()
    project = validate(raw)
    t4 = time.perf_counter()
    render.to_yaml(render.project_dict(project))
    t5 = time.perf_counter()
    raw = load(LoadOptions(cwd=str(folder), environ={"HOME": "/root"}))
    t6 = time.perf_counter()
    validate(raw)
    t7 = time.perf_counter()
    print(f"  import pydantic + yaml         {1000 * (t1 - t0):7.1f} ms")
    print(f"  import pycompose.compose.*     {1000 * (t2 - t1):7.1f} ms")
    print(f"  load (YAML, interpolate, merge){1000 * (t3 - t2):7.1f} ms")
    print(f"  validate, first (builds models){1000 * (t4 - t3):6.1f} ms")
    print(f"  validate, second (warm)        {1000 * (t7 - t6):7.1f} ms")
    print(f"  render YAML                    {1000 * (t5 - t4):7.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--services", type=int, default=200)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "compose.yaml").write_text(compose_text(args.services))
        (folder / "common.env").write_text("COMMON=1\nQUOTED=\"a b\"\n")
        cmd = [PYCOMPOSE, "config"]
        check = subprocess.run(cmd, cwd=folder, capture_output=True, text=True, check=False)
        if check.returncode != 0:
            sys.exit(f"pycompose config failed: {check.stderr}")
        print(f"{args.services} services: {len(check.stdout.splitlines())} lines of output")
        for label, argv in (("config", cmd), ("config --format json", [*cmd, "--format",
                                                                      "json"]),
                            ("config -q", [*cmd, "-q"]),
                            ("--version (floor of the CLI)", [PYCOMPOSE, "--version"])):
            samples, cpu = [], []
            for _ in range(args.runs):
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                t0 = time.perf_counter()
                subprocess.run(argv, cwd=folder, stdout=subprocess.DEVNULL, check=True)
                samples.append(time.perf_counter() - t0)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
            # CPU time (user+sys) is what the command costs on an idle machine; the
            # wall time also shows what other load on the machine adds.
            print(f"pycompose {label:<28} wall median {1000 * statistics.median(samples):4.0f}"
                  f" min {1000 * min(samples):4.0f} ms | cpu median "
                  f"{1000 * statistics.median(cpu):4.0f} ms  ({args.runs} runs)")
        print("in one process:")
        in_process_breakdown(folder)


if __name__ == "__main__":
    main()
