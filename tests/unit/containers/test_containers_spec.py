"""docker's rules for turning a typed create request and an image config into a container."""

from __future__ import annotations

import signal

import pytest

from pycompose.engine.api import Healthcheck, Mount
from pycompose.engine.errors import EngineError, InvalidArgument
from pycompose.engine.supervisor import spec as S
from pycompose.engine.supervisor.records import capabilities, security_options


def test_args_after_the_image_replace_cmd_and_keep_entrypoint() -> None:
    assert S.command_line(["/ep"], ["a"], None, ["b", "c"]) == (["/ep"], ["b", "c"])
    assert S.command_line(["/ep"], ["a"], None, []) == (["/ep"], ["a"])


def test_entrypoint_override_drops_the_image_cmd() -> None:
    assert S.command_line(["/ep"], ["a"], "/other", []) == (["/other"], [])
    assert S.command_line(["/ep"], ["a"], "", ["sh"]) == ([], ["sh"])


def test_no_command_at_all_is_an_invalid_argument() -> None:
    with pytest.raises(InvalidArgument, match="No command specified"):
        S.command_line(None, None, None, [])


def test_env_merge_user_wins_and_path_is_added() -> None:
    env = S.merge_env(["A=1", "B=2"], ["B=3", "C"])
    assert env == ["A=1", "B=3", "C=", f"PATH={S.DEFAULT_PATH}"]
    assert S.merge_env(["PATH=/x"], []) == ["PATH=/x"]


def test_image_volumes_become_anonymous_unless_mounted() -> None:
    ms = S.all_mounts([Mount("volume", "/data", "vol")], {"/data": {}, "/logs/": {}})
    assert [(m.source, m.target) for m in ms] == [("vol", "/data"), ("", "/logs")]
    with pytest.raises(EngineError, match="Duplicate mount point"):
        S.all_mounts([Mount("bind", "/x", "/a"), Mount("volume", "/x", "bb")], None)


def test_a_mount_on_the_root_itself_is_refused() -> None:
    with pytest.raises(InvalidArgument, match='destination "/"'):
        S.all_mounts([Mount("bind", "/", "/host")], None)
    for target in ("/tmp/..", "//", "/./", "/a/../.."):  # docker cleans it first
        with pytest.raises(InvalidArgument, match='destination "/"'):
            S.all_mounts([Mount("tmpfs", target)], None)
    assert [m.target for m in S.all_mounts([Mount("tmpfs", "/a/./b/../c")], None)] == ["/a/c"]
    with pytest.raises(InvalidArgument, match="Duplicate mount point: /a"):
        S.all_mounts([Mount("tmpfs", "/a"), Mount("tmpfs", "/b/../a")], None)


def test_signals() -> None:
    assert S.parse_signal("SIGUSR1") == signal.SIGUSR1
    assert S.parse_signal("hup") == signal.SIGHUP
    assert S.parse_signal("9") == 9
    assert S.parse_signal(None) == signal.SIGTERM
    with pytest.raises(EngineError):
        S.parse_signal("SIGNOPE")


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


def test_healthcheck_over_the_images() -> None:
    hc = S.healthcheck({"Test": ["CMD", "true"], "Retries": 5},
                       Healthcheck(test=["CMD-SHELL", "nc -z 127.0.0.1 80"], interval=2 * 10**9))
    assert hc == {"Test": ["CMD-SHELL", "nc -z 127.0.0.1 80"], "Retries": 5,
                  "Interval": 2 * 10**9}
    assert S.healthcheck({"Test": ["CMD", "x"]}, Healthcheck(disable=True)) == {"Test": ["NONE"]}
    assert S.healthcheck(None, None) is None


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
    from pycompose.engine.supervisor.records import userns_maps

    assert userns_maps("", [], []) == {"UidMap": [], "GidMap": []}
    remap = userns_maps("remap", [], [])
    assert remap["UidMap"][0].startswith("0:") and remap["GidMap"]
    assert userns_maps("", ["0:1000:1"], []) == {"UidMap": ["0:1000:1"], "GidMap": ["0:1000:1"]}
    with pytest.raises(EngineError, match="invalid id map"):
        userns_maps("", ["0:x:1"], [])
    with pytest.raises(EngineError, match="--userns"):
        userns_maps("private", [], [])


def test_an_entrypoint_list_is_the_exact_argv() -> None:
    assert S.command_line(["/ep"], ["a"], ["/bin/sh", "-c"], ["x"]) == (["/bin/sh", "-c"], ["x"])
    assert S.command_line(["/ep"], ["a"], [], ["x"]) == ([], ["x"])
