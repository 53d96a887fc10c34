"""docker's rules for turning run options and an image config into a container."""

from __future__ import annotations

import signal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pycompose.engine.errors import EngineError
from pycompose.engine.supervisor import spec as S
from pycompose.engine.supervisor.build import capabilities, security_options


def test_args_after_the_image_replace_cmd_and_keep_entrypoint() -> None:
    assert S.command_line(["/ep"], ["a"], None, ["b", "c"]) == (["/ep"], ["b", "c"])
    assert S.command_line(["/ep"], ["a"], None, []) == (["/ep"], ["a"])


def test_entrypoint_override_drops_the_image_cmd() -> None:
    assert S.command_line(["/ep"], ["a"], "/other", []) == (["/other"], [])
    assert S.command_line(["/ep"], ["a"], "", ["sh"]) == ([], ["sh"])


def test_no_command_at_all_is_exit_125() -> None:
    with pytest.raises(EngineError) as e:
        S.command_line(None, None, None, [])
    assert e.value.exit_code == 125


def test_env_merge_user_wins_and_path_is_added() -> None:
    env = S.merge_env(["A=1", "B=2"], ["B=3", "C"])
    assert env == ["A=1", "B=3", "C=", f"PATH={S.DEFAULT_PATH}"]
    assert S.merge_env(["PATH=/x"], []) == ["PATH=/x"]


def test_env_file_skips_comments_and_rejects_spaces_in_keys() -> None:
    assert S.parse_env_file("# c\n\nA=1\n  B=x y\n") == ["A=1", "B=x y"]
    with pytest.raises(EngineError, match="f:1"):
        S.parse_env_file("BAD KEY=1", "f")


def test_volume_shapes() -> None:
    assert S.parse_volume("/data").type == "volume"
    assert S.parse_volume("/data").source == ""
    v = S.parse_volume("vol:/data:ro")
    assert (v.type, v.source, v.target, v.readonly) == ("volume", "vol", "/data", True)
    b = S.parse_volume("/host/x:/x")
    assert (b.type, b.source, b.readonly) == ("bind", "/host/x", False)
    assert b.options == ["create-host-path"]
    with pytest.raises(EngineError):
        S.parse_volume("vol:relative")
    with pytest.raises(EngineError):
        S.parse_volume("vol:/x:bogus")


def test_mount_and_tmpfs_shapes() -> None:
    m = S.parse_mount("type=bind,source=/a,target=/b,readonly")
    assert (m.type, m.source, m.target, m.readonly) == ("bind", "/a", "/b", True)
    t = S.parse_mount("type=tmpfs,target=/t,tmpfs-size=1m")
    assert t.options == [f"size={1024 * 1024}"]
    assert S.parse_tmpfs("/run:size=64m,mode=1777").options == ["size=64m", "mode=1777"]
    with pytest.raises(EngineError, match="target is required"):
        S.parse_mount("type=bind,source=/a")


def test_image_volumes_become_anonymous_unless_mounted() -> None:
    ms = S.all_mounts(["vol:/data"], [], [], {"/data": {}, "/logs/": {}})
    assert [(m.source, m.target) for m in ms] == [("vol", "/data"), ("", "/logs")]
    with pytest.raises(EngineError, match="Duplicate mount point"):
        S.all_mounts(["/a:/x", "bb:/x"], [], [], None)


@pytest.mark.parametrize(("text", "want"), [
    ("512", 512), ("1k", 1024), ("64m", 64 << 20), ("1g", 1 << 30), ("1.5g", 3 << 29),
    ("10mb", 10 << 20)])
def test_sizes(text: str, want: int) -> None:
    assert S.parse_bytes(text) == want


@given(st.integers(min_value=0, max_value=1 << 40))
def test_plain_byte_counts_round_trip(n: int) -> None:
    assert S.parse_bytes(str(n)) == n


def test_signals_restart_ulimits_ports() -> None:
    assert S.parse_signal("SIGUSR1") == signal.SIGUSR1
    assert S.parse_signal("hup") == signal.SIGHUP
    assert S.parse_signal("9") == 9
    assert S.parse_signal(None) == signal.SIGTERM
    with pytest.raises(EngineError):
        S.parse_signal("SIGNOPE")
    assert S.parse_restart("on-failure:3") == {"Name": "on-failure", "MaximumRetryCount": 3}
    with pytest.raises(EngineError):
        S.parse_restart("always:3")
    assert S.parse_ulimit("nofile=1024:2048") == {"Name": "nofile", "Soft": 1024, "Hard": 2048}
    with pytest.raises(EngineError):
        S.parse_ulimit("nofile=10:5")
    assert S.parse_ports(["127.0.0.1:8080:80", "53/udp"]) == {
        "80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}],
        "53/udp": [{"HostIp": "", "HostPort": ""}]}


def test_capabilities_follow_dockers_add_drop_rules() -> None:
    default = capabilities([], [])
    assert len(default) == 14 and "CAP_NET_RAW" in default
    assert "CAP_NET_RAW" not in capabilities([], ["net_raw"])
    assert capabilities(["SYS_ADMIN"], ["ALL"]) == ["CAP_SYS_ADMIN"]
    assert "CAP_SYS_ADMIN" in capabilities(["ALL"], [])
    with pytest.raises(EngineError, match="unknown capability"):
        capabilities(["FLY"], [])


def test_security_options() -> None:
    assert security_options([]) == (False, "default")
    assert security_options(["no-new-privileges"]) == (True, "default")
    assert security_options(["no-new-privileges:true", "seccomp=unconfined"]) == \
        (True, "unconfined")
    with pytest.raises(EngineError, match="no such profile"):
        security_options(["seccomp=/nonexistent.json"])


def test_durations_and_healthcheck_flags() -> None:
    assert S.parse_duration("1m30s") == 90 * 10**9
    assert S.parse_duration("500ms") == 5 * 10**8
    with pytest.raises(EngineError, match="--health-interval"):
        S.healthcheck(None, {"health_interval": "soon"})
    hc = S.healthcheck({"Test": ["CMD", "true"], "Retries": 5},
                       {"health_cmd": "nc -z 127.0.0.1 80", "health_interval": "2s"})
    assert hc == {"Test": ["CMD-SHELL", "nc -z 127.0.0.1 80"], "Retries": 5,
                  "Interval": 2 * 10**9}
    assert S.healthcheck({"Test": ["CMD", "x"]}, {"no_healthcheck": True}) == {"Test": ["NONE"]}


def test_health_results_follow_dockers_rules() -> None:
    from pycompose.engine.supervisor.health import record_result, test_command

    assert test_command({"Test": ["CMD-SHELL", "a", "b"]}) == ["/bin/sh", "-c", "a b"]
    assert test_command({"Test": ["NONE"]}) is None
    rec: dict = {"State": {}}
    record_result(rec, 1, "no", "t", True, 2)  # in the start period: not counted
    assert rec["State"]["Health"]["Status"] == "starting"
    assert rec["State"]["Health"]["FailingStreak"] == 0
    record_result(rec, 0, "ok", "t", False, 2)
    assert rec["State"]["Health"]["Status"] == "healthy"
    record_result(rec, 1, "", "t", False, 2)
    assert rec["State"]["Health"]["Status"] == "healthy"
    record_result(rec, 1, "", "t", False, 2)
    assert rec["State"]["Health"]["Status"] == "unhealthy"
    for _ in range(10):
        record_result(rec, 1, "", "t", False, 2)
    assert len(rec["State"]["Health"]["Log"]) == 5


def test_userns_modes() -> None:
    from pycompose.engine.supervisor.build import userns_maps

    assert userns_maps("", [], []) == {"UidMap": [], "GidMap": []}
    remap = userns_maps("remap", [], [])
    assert remap["UidMap"][0].startswith("0:") and remap["GidMap"]
    assert userns_maps("", ["0:1000:1"], []) == {"UidMap": ["0:1000:1"], "GidMap": ["0:1000:1"]}
    with pytest.raises(EngineError, match="invalid id map"):
        userns_maps("", ["0:x:1"], [])
    with pytest.raises(EngineError, match="--userns"):
        userns_maps("private", [], [])


def test_compose_shapes_entrypoint_list_and_healthcheck_mapping() -> None:
    assert S.command_line(["/ep"], ["a"], ["/bin/sh", "-c"], ["x"]) == (["/bin/sh", "-c"], ["x"])
    assert S.command_line(["/ep"], ["a"], [], ["x"]) == ([], ["x"])
    hc = S.healthcheck(None, {"healthcheck": {"test": ["CMD", "true"], "interval": "1m30s",
                                              "timeout": 2.5, "retries": 4}})
    assert hc == {"Test": ["CMD", "true"], "Interval": 90 * 10**9, "Timeout": 25 * 10**8,
                  "Retries": 4}
    assert S.healthcheck({"Test": ["CMD", "x"]}, {"healthcheck": {"disable": True}}) == \
        {"Test": ["NONE"]}


@pytest.mark.parametrize("spec", ["99999:80", "8080:0", "80:70000/udp", "0-70000:80"])
def test_publish_ports_out_of_range_are_refused_at_create(spec: str) -> None:
    with pytest.raises(EngineError, match=r"invalid -p .*is not in 1\.\.65535") as e:
        S.parse_ports([spec])
    assert e.value.exit_code == 125
