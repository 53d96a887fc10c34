"""The compose commands beyond up/down, through the real CLI on a real stack: run,
ps's JSON and templates, ls, version, images, top, pause/unpause, stats, cp both ways,
commit, export, events, wait, scale, start --wait, restart --no-deps, up's attach
flags, hooks, --dry-run, and bad input (one message, a non-zero exit, no traceback)."""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
import time
from pathlib import Path

from pctest.cli import PYCOMPOSE, run
from pctest.stack import Stack

PAIR = """
services:
  web:
    image: busybox
    command: ["sh", "-c", "echo web-says-hi; exec httpd -f -p 8080 -h /var/www"]
    stop_signal: SIGKILL
    depends_on:
      db: {condition: service_healthy}
    post_start:
      - command: ["sh", "-c", "echo from-hook > /tmp/hook"]
    pre_stop:
      - command: ["sh", "-c", "echo bye > /srv/bye"]
    volumes: ["./out:/srv"]
  db:
    image: busybox
    command: [sleep, "300"]
    stop_signal: SIGKILL
    healthcheck: {test: [CMD, "true"], interval: 30s}
"""


def no_traceback(r: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr


def test_run_one_off_names_labels_and_exit_codes(stack: Stack) -> None:
    stack.write(PAIR)
    r = stack("run", "--rm", "db", "sh", "-c", "echo out; exit 7")
    assert r.returncode == 7, r.stderr
    assert "out" in r.stdout
    # a one-off without --rm stays, named PROJECT-SERVICE-run-ID and labelled oneoff
    r = stack("run", "-T", "-e", "X=42", "-l", "k=v", "db", "sh", "-c", "echo $X")
    assert r.returncode == 0 and r.stdout.strip() == "42", r.stderr
    ids = run(["container", "ls", "-aq", "--no-trunc", "--filter",
               f"label=com.docker.compose.project={stack.name}"]).stdout.split()
    assert len(ids) == 1
    rec = json.loads(run(["container", "inspect", ids[0]]).stdout)[0]
    name = rec["Name"].lstrip("/")
    assert name.startswith(f"{stack.name}-db-run-") and len(name.rsplit("-", 1)[1]) == 12
    labels = rec["Config"]["Labels"]
    assert labels["com.docker.compose.oneoff"] == "True" and labels["k"] == "v"
    assert labels["com.docker.compose.slug"].startswith(name.rsplit("-", 1)[1])
    # one-offs are not the service's containers
    assert stack.ps("-a") == []
    # the dependency is brought up first, -d prints the name
    r = stack("run", "-d", "web", "sleep", "30")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().startswith(f"{stack.name}-web-run-")
    assert {row["Service"] for row in stack.ps()} == {"db"}
    # a missing command is 127, as docker's
    r = stack("run", "--rm", "db", "no-such-command")
    assert r.returncode == 127, r.stderr


def test_ps_json_is_ndjson_with_docker_compose_keys_and_templates(stack: Stack) -> None:
    stack.write("services:\n  a:\n    image: busybox\n    command: [sleep, '300']\n"
                "    stop_signal: SIGKILL\n    ports: ['127.0.0.1::8080']\n")
    stack.ok("up", "-d")
    rows = stack.ps()
    assert len(rows) == 1
    row = rows[0]
    for key in ("Command", "CreatedAt", "ExitCode", "Health", "ID", "Image", "Labels",
                "LocalVolumes", "Mounts", "Name", "Names", "Networks", "Ports", "Project",
                "Publishers", "RunningFor", "Service", "Size", "State", "Status"):
        assert key in row, key
    assert row["Project"] == stack.name and row["State"] == "running"
    pub = row["Publishers"][0]
    assert pub["TargetPort"] == 8080 and pub["URL"] == "127.0.0.1" and pub["PublishedPort"]
    assert stack.ok("ps", "--format", "{{.Name}}\\t{{.State}}").strip() == \
        f"{stack.name}-a-1\trunning"
    table = stack.ok("ps", "--format", "table {{.Service}}\\t{{.State}}").splitlines()
    assert table[0].split() == ["SERVICE", "STATE"] and table[1].split() == ["a", "running"]
    assert json.loads(stack.ok("ps", "--format", "{{json .Publishers}}"))[0]["TargetPort"] \
        == 8080
    assert stack.ok("ps", "--status", "exited", "-q") == ""
    assert stack.ok("ps", "--filter", "status=running", "-q").strip().startswith(row["ID"])
    # Labels is docker compose's comma-joined text: Go's range refuses it, and so do we
    r = stack("ps", "--format", "{{range .Labels}}x{{end}}")
    assert r.returncode != 0 and "range can't iterate over" in r.stderr
    r = stack("ps", "--format", '{{define "x"}}{{end}}')
    assert r.returncode != 0 and "not supported" in r.stderr
    assert stack.ok("ps", "--format", "{{if .Publishers}}{{.Service}}{{end}}") == "a\n"
    no_traceback(r)


def test_ls_version_images_top_volumes(stack: Stack) -> None:
    stack.write("services:\n  a:\n    image: busybox\n    command: [sleep, '300']\n"
                "    stop_signal: SIGKILL\n    volumes: [data:/data]\nvolumes: {data: {}}\n")
    stack.ok("up", "-d")
    projects = json.loads(stack.ok("ls", "--format", "json"))
    mine = [p for p in projects if p["Name"] == stack.name]
    assert mine and mine[0]["Status"] == "running(1)"
    assert mine[0]["ConfigFiles"] == str(stack.folder / "compose.yaml")
    assert stack.name in stack.ok("ls", "-q").split()
    assert stack.ok("version", "--short").strip() == json.loads(
        stack.ok("version", "--format", "json"))["version"].lstrip("v")
    images = json.loads(stack.ok("images", "--format", "json"))
    assert images[0]["ContainerName"] == f"{stack.name}-a-1"
    assert images[0]["Repository"] == "busybox" and images[0]["Tag"] == "latest"
    top = stack.ok("top").splitlines()
    assert top[0] == f"{stack.name}-a-1" and "sleep 300" in top[2]
    assert stack.ok("volumes", "-q").split() == [f"{stack.name}_data"]


def test_pause_unpause_stats(stack: Stack) -> None:
    stack.write("services:\n  a:\n    image: busybox\n"
                "    command: [sh, -c, 'while true; do date > /tmp/t; sleep 0.1; done']\n"
                "    stop_signal: SIGKILL\n")
    stack.ok("up", "-d")
    stack.ok("pause", "a")
    assert stack.ps()[0]["State"] == "paused"
    assert "(Paused)" in stack.ps()[0]["Status"]
    r = stack("pause", "a")  # already paused: nothing to do, not an error
    assert r.returncode == 0, r.stderr
    stack.ok("unpause", "a")
    assert stack.ps()[0]["State"] == "running"
    assert stack.exec("a", "cat", "/tmp/t").returncode == 0
    sample = json.loads(stack.ok("stats", "--no-stream", "--format", "json").splitlines()[0])
    assert sample["Name"] == f"{stack.name}-a-1"
    assert int(sample["PIDs"]) >= 1 and sample["MemUsage"].count("/") == 1
    # stop of a paused container works (it is thawed first)
    stack.ok("pause", "a")
    stack.ok("stop", "a")
    assert stack.ps("-a")[0]["State"] == "exited"


def test_cp_both_ways_commit_export(stack: Stack, tmp_path: Path) -> None:
    stack.write("services:\n  a:\n    image: busybox\n    command: [sleep, '300']\n"
                "    stop_signal: SIGKILL\n")
    stack.ok("up", "-d")
    src = tmp_path / "in.txt"
    src.write_text("into the container\n")
    stack.ok("cp", str(src), "a:/tmp/in.txt")
    assert stack.exec("a", "cat", "/tmp/in.txt").stdout == "into the container\n"
    stack.exec("a", "sh", "-c", "echo out of it > /tmp/out.txt")
    stack.ok("cp", "a:/tmp/out.txt", str(tmp_path / "out.txt"))
    assert (tmp_path / "out.txt").read_text() == "out of it\n"
    r = stack("cp", "nosuch:/x", str(tmp_path))
    assert r.returncode != 0 and "nosuch" in r.stderr
    no_traceback(r)
    image_id = stack.ok("commit", "a", f"{stack.name}-snap:1").strip()
    assert image_id.startswith("sha256:")
    r = run(["container", "run", "--rm", f"{stack.name}-snap:1", "cat", "/tmp/in.txt"])
    assert r.stdout == "into the container\n", r.stderr
    run(["image", "rm", f"{stack.name}-snap:1"])
    stack.ok("export", "-o", str(tmp_path / "a.tar"), "a")
    with tarfile.open(tmp_path / "a.tar") as tar:
        names = tar.getnames()
    assert "tmp/in.txt" in names and "bin/busybox" in names


def test_events_json_sees_a_container_start(stack: Stack) -> None:
    stack.write("services:\n  a:\n    image: busybox\n    command: [sleep, '300']\n"
                "    stop_signal: SIGKILL\n")
    stack.ok("up", "--no-start")
    ev = subprocess.Popen([PYCOMPOSE, "-p", stack.name, "events", "--json"],
                          cwd=stack.folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True)
    try:
        time.sleep(1.5)  # subscribed (the stream has no "ready" line, as docker's)
        stack.ok("start", "a")
        assert ev.stdout is not None
        line = ev.stdout.readline()
        obj = json.loads(line)
        assert obj["action"] == "start" and obj["type"] == "container"
        assert obj["service"] == "a" and obj["attributes"]["name"] == f"{stack.name}-a-1"
    finally:
        ev.terminate()
        ev.wait(10)


def test_wait_and_down_project(stack: Stack) -> None:
    stack.write("services:\n  a:\n    image: busybox\n    command: [sh, -c, 'sleep 1; exit 5']\n"
                "  b:\n    image: busybox\n    command: [sleep, '300']\n"
                "    stop_signal: SIGKILL\n")
    stack.ok("up", "-d")
    r = stack("wait", "a")
    assert r.returncode == 5 and r.stdout.strip() == "5", r.stderr
    stack.ok("start", "a")
    r = stack("wait", "--down-project")
    assert r.returncode == 5, r.stderr
    assert stack.ps("-a") == []


def test_scale_start_wait_restart_no_deps(stack: Stack) -> None:
    stack.write("""
services:
  db:
    image: busybox
    command: [sleep, "300"]
    stop_signal: SIGKILL
    healthcheck: {test: [CMD, "true"], interval: 30s}
  web:
    image: busybox
    command: [sleep, "300"]
    stop_signal: SIGKILL
    depends_on: [db]
""")
    stack.ok("up", "-d")
    stack.ok("scale", "web=3")
    assert sorted(r["Name"] for r in stack.ps() if r["Service"] == "web") == \
        [f"{stack.name}-web-{i}" for i in (1, 2, 3)]
    stack.ok("stop")
    out = stack("start", "--wait", "db")
    assert out.returncode == 0, out.stderr
    assert stack.ps()[0]["Health"] == "healthy"
    stack.ok("start")
    r = stack("restart", "--no-deps", "db")
    assert r.returncode == 0, r.stderr
    assert "web" not in r.stderr  # its dependants were left alone
    r = stack("restart", "db")
    assert f"{stack.name}-web-1" in r.stderr  # without --no-deps they restart too


def test_up_exit_code_from_and_abort_on_exit(stack: Stack) -> None:
    stack.write("services:\n  a:\n    image: busybox\n    command: [sh, -c, 'echo from-a; "
                "sleep 1; exit 3']\n  b:\n    image: busybox\n    command: [sh, -c, 'echo from-b;"
                " sleep 60']\n    stop_signal: SIGKILL\n")
    r = stack("up", "--exit-code-from", "a", timeout=120)
    assert r.returncode == 3, r.stderr
    assert "a-1  | from-a" in r.stdout and "from-b" in r.stdout
    r = stack("up", "--abort-on-container-exit", "--no-attach", "b", timeout=120)
    assert r.returncode == 3, r.stderr
    assert "from-b" not in r.stdout and "from-a" in r.stdout
    r = stack("up", "--exit-code-from", "nosuch")
    assert r.returncode != 0 and "no such service: nosuch" in r.stderr
    r = stack("up", "-d", "--abort-on-container-exit")
    assert r.returncode != 0 and "--detach" in r.stderr


def test_hooks_post_start_and_pre_stop(stack: Stack) -> None:
    (stack.folder / "out").mkdir()
    stack.write(PAIR)
    stack.ok("up", "-d")
    assert stack.exec("web", "cat", "/tmp/hook").stdout == "from-hook\n"
    stack.ok("stop", "web")
    assert (stack.folder / "out" / "bye").read_text() == "bye\n"


def test_dry_run_changes_nothing_and_progress_json(stack: Stack) -> None:
    stack.write("services:\n  a:\n    image: busybox\n    command: [sleep, '300']\n"
                "    stop_signal: SIGKILL\n")
    r = stack("--dry-run", "up", "-d")
    assert r.returncode == 0 and "DRY-RUN MODE" in r.stderr, r.stderr
    assert stack.ps("-a") == []
    r = stack("--progress", "json", "up", "-d")
    assert r.returncode == 0, r.stderr
    events = [json.loads(line) for line in r.stderr.splitlines() if line.startswith("{")]
    assert {"id": f"Container {stack.name}-a-1", "text": "Started"} in events
    r = stack("--dry-run", "down")
    assert "DRY-RUN MODE -  Container" in r.stderr
    assert len(stack.ps()) == 1
    r = stack("--progress", "plain", "down")
    assert f" Container {stack.name}-a-1  Removed" in r.stderr


def test_exec_flags_and_bad_input(stack: Stack) -> None:
    stack.write("services:\n  a:\n    image: busybox\n    command: [sleep, '300']\n"
                "    stop_signal: SIGKILL\n")
    stack.ok("up", "-d")
    # docker's hidden -i/-t are accepted; --no-tty and --no-TTY are both spelled
    r = stack("exec", "-i", "--no-tty", "a", "echo", "ok")
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr
    caps = "grep CapEff /proc/self/status"
    plain = stack("exec", "-T", "a", "sh", "-c", caps)
    r = stack("exec", "--no-TTY", "--privileged", "a", "sh", "-c", caps)
    assert r.returncode == 0 and plain.returncode == 0, r.stderr
    assert int(r.stdout.split()[1], 16) > int(plain.stdout.split()[1], 16)
    for args in (["exec", "nosuch", "true"], ["run", "nosuch"], ["logs", "nosuch"],
                 ["pause", "nosuch"], ["top", "nosuch"], ["images", "nosuch"],
                 ["scale", "nosuch=2"], ["scale", "a=x"], ["cp", "/x", "/y"],
                 ["events", "nosuch"], ["wait", "nosuch"], ["commit", "nosuch"],
                 ["export", "nosuch"], ["attach", "nosuch"], ["stats", "nosuch"]):
        r = stack(*args)
        assert r.returncode != 0, args
        no_traceback(r)
        assert r.stderr.strip(), args
    stack.ok("stop")
    r = stack("exec", "a", "true")
    assert r.returncode != 0 and "not running" in r.stderr


def test_commands_go_through_the_warm_worker(stack: Stack) -> None:
    stack.write("services:\n  a:\n    image: busybox\n    command: [sleep, '300']\n"
                "    stop_signal: SIGKILL\n")
    stack.ok("config", "-q")  # the first one starts the worker
    sock = stack.root / "compose.sock"
    deadline = time.monotonic() + 30
    while not sock.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sock.exists()
    assert os.stat(sock).st_mode & 0o777 == 0o600
    # env, cwd, exit codes and output arrive as a process of its own would have them
    r = stack("run", "--rm", "-e", "V", "a", "sh", "-c", "echo $V; exit 9",
              env={"V": "from-env"})
    assert r.returncode == 9 and r.stdout.strip() == "from-env", r.stderr
    log = (stack.root / "compose-worker.log").read_text()
    assert "serving" in log
    # an unknown service still gets one line, through the worker
    r = stack("ps", "nosuch")
    assert r.returncode == 1 and r.stderr.strip() == "error: no such service: nosuch"


def test_down_removes_each_container_once_it_stopped_dependants_first(stack: Stack) -> None:
    """docker compose's order: a container is removed as soon as it has stopped, and a
    dependency is stopped only once its dependants are gone (all the stops first, then
    all the removals, made 30 removals wait for the slowest stop)."""
    stack.write("services:\n"
                "  web:\n    image: busybox\n    command: [sleep, '300']\n"
                "    stop_signal: SIGKILL\n    depends_on: [db]\n"
                "  db:\n    image: busybox\n    command: [sleep, '300']\n"
                "    stop_signal: SIGKILL\n")
    stack.ok("up", "-d")
    r = stack("--progress", "plain", "down")
    assert r.returncode == 0, r.stderr
    lines = [line.strip() for line in r.stderr.splitlines()]
    web, db = f"Container {stack.name}-web-1", f"Container {stack.name}-db-1"
    assert [line for line in lines if line.startswith(web)] == [
        f"{web}  Stopping", f"{web}  Stopped", f"{web}  Removing", f"{web}  Removed"]
    assert lines.index(f"{web}  Removed") < lines.index(f"{db}  Stopping")
    assert lines.index(f"{db}  Removed") < lines.index(f"Network {stack.name}_default  Removed")
