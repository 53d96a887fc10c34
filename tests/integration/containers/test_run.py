"""``container run`` as a user sees it: output, exit codes, isolation, --rm, errors."""

from __future__ import annotations

import os
import subprocess
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import Engine


def test_the_seeds_hello_world(engine: Engine) -> None:
    r = engine("run", "busybox", "/bin/echo", "Hola mundo")
    assert (r.returncode, r.stdout) == (0, "Hola mundo\n")


def test_exit_codes_and_stderr_pass_through_and_rm_removes(engine: Engine) -> None:
    r = engine("run", "--rm", "--name", "rc", "busybox", "sh", "-c", "echo oops >&2; exit 3")
    assert r.returncode == 3
    assert r.stderr == "oops\n"
    assert engine.ok("ls", "-aq") == ""


def test_pid_1_inside_and_no_host_process_visible(engine: Engine) -> None:
    out = engine.ok("run", "--rm", "--hostname", "box", "busybox", "sh", "-c",
                    "echo $$; hostname; ls /proc | grep -c '^[0-9]'")
    pid, hostname, nprocs = out.split()
    assert pid == "1" and hostname == "box"
    assert int(nprocs) <= 3  # sh, ls, grep: the host's hundreds are invisible


def test_a_missing_executable_is_127_with_one_clear_line(engine: Engine) -> None:
    r = engine("run", "--rm", "busybox", "/no/such/binary")
    assert r.returncode == 127, r.stderr
    assert "/no/such/binary" in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert engine.ok("ls", "-aq") == ""  # --rm removed it, and no_leaks checks the rest


def test_unknown_image_and_bad_option_are_125(engine: Engine) -> None:
    r = engine("run", "--rm", "nosuchimage", "true")
    assert r.returncode == 125 and "nosuchimage" in r.stderr
    r = engine("run", "--rm", "--memory", "lots", "busybox", "true")
    assert r.returncode == 125 and "--memory" in r.stderr


def test_env_workdir_user_and_entrypoint(engine: Engine, tmp_path: object) -> None:
    out = engine.ok("run", "--rm", "-e", "A=1", "-w", "/tmp", "-u", "app",
                    "busybox", "sh", "-c", 'echo $A $(pwd) $(id -u) $HOME')
    assert out.split() == ["1", "/tmp", "1000", "/home/app"]
    out = engine.ok("run", "--rm", "--entrypoint", "/bin/echo", "busybox", "hi")
    assert out == "hi\n"


def test_names_are_unique_even_when_two_runs_race(engine: Engine) -> None:
    import subprocess

    from pctest.cli import PYCOMPOSE

    procs = [subprocess.Popen([PYCOMPOSE, "container", "run", "-d", "--name", "twin",
                               "busybox", "sleep", "30"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(3)]
    results = [(p.wait(30), p.stderr.read() if p.stderr else "") for p in procs]
    codes = sorted(c for c, _ in results)
    assert codes == [0, 125, 125], results
    assert all("already in use" in err for c, err in results if c)
    assert len(engine.ok("ls", "-q").split()) == 1


def test_ls_and_inspect_shapes(engine: Engine) -> None:
    import json

    cid = engine.ok("run", "-d", "--name", "shapes", "-l", "k=v", "busybox",
                    "sleep", "30").strip()
    rows = [json.loads(x) for x in engine.ok("ls", "--format", "json").splitlines()]
    assert rows[0]["Names"] == "shapes" and rows[0]["ID"] == cid[:12]
    assert rows[0]["State"] == "running" and rows[0]["Labels"] == "k=v"
    table = engine.ok("ls").splitlines()
    assert table[0].split()[:3] == ["CONTAINER", "ID", "IMAGE"]
    info = json.loads(engine.ok("inspect", "shapes"))[0]
    assert info["Id"] == cid and info["Name"] == "/shapes"
    assert info["Image"].startswith("sha256:") and info["State"]["Running"] is True
    assert info["Config"]["Cmd"] == ["sleep", "30"]



@pytest.mark.slow
def test_thirty_starts_at_once_all_start(engine: Engine) -> None:
    """30 start requests at once on one supervisor, each making its container's cgroup
    in a worker thread; their parent level is new each round (the last removal clears
    it), so every round races to make it (cgroup v1 cpuset: ENOSPC when unfilled)."""
    import threading

    from pycompose.engine.api import CreateRequest
    from pycompose.engine.api import Engine as Face

    face = Face(engine.root)
    for _ in range(3):
        ids = [face.create(CreateRequest(image="busybox", command=["true"]))
               for _ in range(30)]
        gate = threading.Barrier(len(ids))
        errors: list[str] = []

        def start(cid: str, gate: threading.Barrier, errors: list[str]) -> None:
            gate.wait()
            try:
                face.start(cid)
            except Exception as e:
                errors.append(str(e))

        threads = [threading.Thread(target=start, args=(c, gate, errors)) for c in ids]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        engine.ok("rm", "-f", *ids)
        assert not errors, errors[:3]


def test_run_with_its_stdio_closed(engine: Engine) -> None:
    """A caller that closed fd 0, 1 or 2 (``<&-``, ``>&-``): the closed one reads and
    writes as /dev/null. Left closed, the supervisor's socket took the number, and the
    container's output went into that connection (an internal error), or ``ls >&-``
    ended in a traceback."""
    from pctest.cli import PYCOMPOSE

    def sh(script: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["sh", "-c", script], capture_output=True, text=True,
                              timeout=60, env=dict(os.environ, PC=PYCOMPOSE))

    r = sh('"$PC" container run --rm busybox sh -c "echo out; echo err >&2; exit 3" >&-')
    assert (r.returncode, r.stderr) == (3, "err\n"), r.stderr
    r = sh('"$PC" container run --rm busybox sh -c "echo out; echo err >&2; exit 4" 2>&-')
    assert (r.returncode, r.stdout) == (4, "out\n"), r.stdout
    r = sh('"$PC" container run --rm -i busybox cat <&-')  # EOF at once, as from /dev/null
    assert (r.returncode, r.stdout, r.stderr) == (0, "", ""), r.stderr
    r = sh('"$PC" container ls >&-')
    assert (r.returncode, r.stderr) == (0, ""), r.stderr


def test_cpus_out_of_range_and_a_relative_workdir_are_refused(engine: Engine) -> None:
    """docker's own checks at create, exit 125 and nothing made."""
    n = len(os.sched_getaffinity(0))
    for cpus in ("0.001", str(n + 1)):
        r = engine("run", "--rm", "--cpus", cpus, "busybox", "true")
        assert (r.returncode, r.stderr) == (
            125, f"error: Range of CPUs is from 0.01 to {n}.00, as there are only {n} CPUs "
                 "available\n"), r.stderr
    r = engine("run", "--rm", "-w", "relative", "busybox", "pwd")
    assert (r.returncode, r.stderr) == (
        125, "error: the working directory 'relative' is invalid, it needs to be an "
             "absolute path\n"), r.stderr
    assert engine.ok("run", "--rm", "--cpus", str(n), "-w", "/tmp", "busybox", "pwd") == "/tmp\n"
    assert engine.ok("ls", "-aq") == ""


def test_a_detached_interactive_container_keeps_its_stdin_open(engine: Engine) -> None:
    """``run -d -i`` (compose's ``stdin_open``): no EOF on the container's stdin, as
    docker keeps it open: ``cat`` waits; without ``-i`` it reads /dev/null and ends."""
    cid = engine.ok("run", "-d", "-i", "--name", "held", "busybox", "cat").strip()
    engine.ok("run", "-d", "--name", "eof", "busybox", "cat")
    engine.wait_for("eof", "exited")
    r = engine("inspect", "-f", "{{.State.Status}}", cid)
    assert r.stdout.strip() == "running", r.stdout + r.stderr
    engine.ok("rm", "-f", "held", "eof")
