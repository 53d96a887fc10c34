"""The docker CLI's flag syntaxes become the engine's typed requests, once, at the edge."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pycompose.cli import flags as F
from pycompose.engine.api import (
    CreateRequest,
    Endpoint,
    Healthcheck,
    InvalidArgument,
    Mount,
    PortBinding,
    RestartPolicy,
    Ulimit,
)


def run_args(*argv: str) -> argparse.Namespace:
    from pycompose.cli.parsing import build_command_parser

    args = build_command_parser("container").parse_args(["run", *argv])
    return args


def test_volume_shapes() -> None:
    assert F.volume("/data") == Mount("volume", "/data")
    assert F.volume("vol:/data:ro") == Mount("volume", "/data", "vol", read_only=True)
    assert F.volume("/host/x:/x") == Mount("bind", "/x", "/host/x", create_host_path=True)
    assert F.volume("./rel:/x").source == str(Path("rel").absolute())
    assert F.volume("vol:/x:nocopy").no_copy
    with pytest.raises(InvalidArgument):
        F.volume("vol:relative")
    with pytest.raises(InvalidArgument, match="unknown option"):
        F.volume("vol:/x:bogus")


def test_mount_and_tmpfs_shapes() -> None:
    assert F.mount("type=bind,source=/a,target=/b,readonly") == \
        Mount("bind", "/b", "/a", read_only=True)
    assert F.mount("type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=1777") == \
        Mount("tmpfs", "/t", tmpfs_size=1 << 20, tmpfs_mode=0o1777)
    assert F.tmpfs("/run:size=64m,mode=1777") == \
        Mount("tmpfs", "/run", tmpfs_size=64 << 20, tmpfs_mode=0o1777)
    with pytest.raises(InvalidArgument, match="target is required"):
        F.mount("type=bind,source=/a")
    with pytest.raises(InvalidArgument, match="absolute path"):
        F.mount("type=bind,source=rel,target=/x")


@pytest.mark.parametrize(("text", "want"), [
    ("512", 512), ("1k", 1024), ("64m", 64 << 20), ("1g", 1 << 30), ("1.5g", 3 << 29),
    ("10mb", 10 << 20)])
def test_sizes(text: str, want: int) -> None:
    assert F.size(text, "--memory") == want


@given(st.integers(min_value=0, max_value=1 << 40))
def test_plain_byte_counts_round_trip(n: int) -> None:
    assert F.size(str(n), "--memory") == n


def test_a_bad_size_names_the_flag() -> None:
    with pytest.raises(InvalidArgument, match="--shm-size"):
        F.size("lots", "--shm-size")


def test_restart_ulimits_ports() -> None:
    assert F.restart("on-failure:3") == RestartPolicy("on-failure", 3)
    assert F.restart(None) == RestartPolicy()
    with pytest.raises(InvalidArgument):
        F.restart("always:3")
    assert F.ulimit("nofile=1024:2048") == Ulimit("nofile", 1024, 2048)
    with pytest.raises(InvalidArgument):
        F.ulimit("nofile=10:5")
    assert F.publish("127.0.0.1:8080:80") == [PortBinding("127.0.0.1", 8080, 80, "tcp")]
    assert F.publish("53/udp") == [PortBinding("", None, 53, "udp")]


@pytest.mark.parametrize("spec", ["99999:80", "8080:0", "80:70000/udp", "0-70000:80"])
def test_publish_ports_out_of_range_are_refused(spec: str) -> None:
    with pytest.raises(InvalidArgument, match=r"invalid -p .*is not in 1\.\.65535"):
        F.publish(spec)


def test_durations_and_healthcheck_flags() -> None:
    assert F.duration("1m30s", "--health-interval") == 90 * 10**9
    assert F.duration("500ms", "--health-interval") == 5 * 10**8
    with pytest.raises(InvalidArgument, match="--health-interval"):
        F.create_request(run_args("--health-interval", "soon", "busybox"))
    req = F.create_request(run_args("--health-cmd", "nc -z 127.0.0.1 80",
                                    "--health-interval", "2s", "busybox"))
    assert req.healthcheck == Healthcheck(test=["CMD-SHELL", "nc -z 127.0.0.1 80"],
                                          interval=2 * 10**9)
    assert F.create_request(run_args("--no-healthcheck", "busybox")).healthcheck == \
        Healthcheck(disable=True)
    assert F.create_request(run_args("busybox")).healthcheck is None


def test_env_file_skips_comments_and_rejects_spaces_in_keys(tmp_path: Path) -> None:
    f = tmp_path / "env"
    f.write_text("# c\n\nA=1\n  B=x y\n")
    assert F.env_file(str(f)) == ["A=1", "B=x y"]
    f.write_text("BAD KEY=1")
    with pytest.raises(InvalidArgument, match="env:1"):
        F.env_file(str(f))
    with pytest.raises(InvalidArgument, match="--env-file"):
        F.env_file(str(tmp_path / "missing"))


def test_a_whole_run_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FROM_CALLER", "yes")
    req = F.create_request(run_args(
        "-d", "--name", "web", "-e", "A=1", "-e", "FROM_CALLER", "-e", "UNSET_HERE",
        "-p", "8080:80", "-v", "data:/data", "--tmpfs", "/run", "-m", "64m", "--cpus",
        "0.5", "--restart", "always", "--ulimit", "nofile=64", "-l", "k=v",
        "--entrypoint", "", "busybox", "sh", "-c", "true"))
    assert req == CreateRequest(
        image="busybox", name="web", command=["sh", "-c", "true"], entrypoint=[],
        env=["A=1", "FROM_CALLER=yes"], labels={"k": "v"},
        ports=[PortBinding("", 8080, 80, "tcp")],
        mounts=[Mount("volume", "/data", "data"), Mount("tmpfs", "/run")],
        restart=RestartPolicy("always"), ulimits=[Ulimit("nofile", 64, 64)],
        resources=req.resources)
    assert (req.resources.memory, req.resources.nano_cpus) == (64 << 20, 500_000_000)


def test_ip_and_aliases_need_a_user_network() -> None:
    with pytest.raises(InvalidArgument, match="user-defined network"):
        F.create_request(run_args("--ip", "10.0.0.5", "busybox"))
    req = F.create_request(run_args("--network", "front", "--ip", "10.0.0.5",
                                    "--network-alias", "www", "busybox"))
    assert req.endpoints == [Endpoint("front", ["www"], "10.0.0.5")]


def test_rm_and_restart_conflict() -> None:
    with pytest.raises(InvalidArgument, match="Conflicting options"):
        F.create_request(run_args("--rm", "--restart", "always", "busybox"))
