"""config.json (the OCI runtime spec) into the runtime's ContainerSpec: what each key
becomes, and a refusal naming the key for what this runtime cannot do."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from pycompose.engine.errors import InvalidArgument
from pycompose.engine.runtime.oci import Bundle, default_config, parse_config, parse_process
from pycompose.engine.runtime.spec import ContainerSpec, DeviceRule


def _parse(tmp_path: Path, edit: Any = None) -> Bundle:
    (tmp_path / "rootfs").mkdir(exist_ok=True)
    cfg = copy.deepcopy(default_config())
    if edit is not None:
        edit(cfg)
    return parse_config(cfg, str(tmp_path), "c1", str(tmp_path / "state" / "c1" / "runtime"))


def test_default_config_translates(tmp_path: Path) -> None:
    b = _parse(tmp_path)
    s = b.spec
    assert s.rootfs == str(tmp_path / "rootfs") and s.readonly_rootfs
    assert s.process.args == ["sh"] and s.process.user == "0:0" and s.process.terminal
    assert s.namespaces == {"mnt": None, "pid": None, "net": None, "ipc": None, "uts": None,
                            "cgroup": None}
    assert not s.system_mounts and s.mounts[0].target == "/proc"
    assert s.capability_sets is not None and s.capability_sets.inheritable == []
    assert "CAP_KILL" in s.capability_sets.ambient
    assert [(r.name, r.soft, r.hard) for r in s.rlimits] == [("nofile", 1024, 1024)]
    assert s.no_new_privileges and s.seccomp == "unconfined"
    assert (s.cgroup_parent, s.cgroup_name) == ("pycompose-runtime", "c1")
    assert s.resources.device_rules is not None
    assert s.resources.device_rules[0] == DeviceRule(allow=False, kind="a", access="rwm")
    # the spec's default devices stay usable after the config's "deny all"
    assert DeviceRule(True, "c", 1, 3, "rwm") in s.resources.device_rules
    # the spec survives the trip to the launcher
    assert ContainerSpec.from_json(s.to_json()) == s


def test_namespaces_paths_and_missing_ones_are_the_hosts(tmp_path: Path) -> None:
    def edit(cfg: dict[str, Any]) -> None:
        cfg["linux"]["namespaces"] = [{"type": "mount"},
                                      {"type": "network", "path": "/proc/self/ns/net"}]

    assert _parse(tmp_path, edit).spec.namespaces == {"mnt": None, "net": "/proc/self/ns/net"}

    def bad(cfg: dict[str, Any]) -> None:
        cfg["linux"]["namespaces"] = [{"type": "time"}]

    def no_mount(cfg: dict[str, Any]) -> None:  # runc's way: the host's filesystem as it is
        cfg["linux"]["namespaces"] = [{"type": "pid"}]

    assert _parse(tmp_path, no_mount).spec.namespaces == {"pid": None, "mnt": "host"}

    with pytest.raises(InvalidArgument, match=r"linux\.namespaces\[0\]\.type: unknown"):
        _parse(tmp_path, bad)

    def no_map(cfg: dict[str, Any]) -> None:
        cfg["linux"]["namespaces"].append({"type": "user"})

    with pytest.raises(InvalidArgument, match="uidMappings"):
        _parse(tmp_path, no_map)


def test_cgroups_path(tmp_path: Path) -> None:
    def path(p: str) -> Any:
        def edit(cfg: dict[str, Any]) -> None:
            cfg["linux"]["cgroupsPath"] = p
        return edit

    s = _parse(tmp_path, path("/a/b/c")).spec
    assert (s.cgroup_parent, s.cgroup_name) == ("a/b", "c")
    s = _parse(tmp_path, path("/top")).spec
    assert (s.cgroup_parent, s.cgroup_name) == (".", "top")
    for refused in ("/", "/a/../..", "machine.slice:x:y"):
        with pytest.raises(InvalidArgument, match="linux.cgroupsPath"):
            _parse(tmp_path, path(refused))


def test_mounts_binds_and_relative_sources(tmp_path: Path) -> None:
    def edit(cfg: dict[str, Any]) -> None:
        cfg["mounts"] = [{"destination": "/data", "source": "data", "options": ["rbind", "ro"]},
                         {"destination": "/t", "type": "tmpfs", "source": "tmpfs",
                          "options": ["size=1k"]}]

    m = _parse(tmp_path, edit).spec.mounts
    assert (m[0].type, m[0].source, m[0].options) == ("bind", str(tmp_path / "data"),
                                                      ["rbind", "ro"])
    assert (m[1].type, m[1].target) == ("tmpfs", "/t")


def test_unknown_capabilities_are_left_out(tmp_path: Path) -> None:
    def edit(cfg: dict[str, Any]) -> None:
        cfg["process"]["capabilities"]["bounding"] = ["CAP_KILL", "CAP_TEST"]

    sets = _parse(tmp_path, edit).spec.capability_sets
    assert sets is not None and sets.bounding == ["CAP_KILL"]


def test_devices_resources_and_hooks(tmp_path: Path) -> None:
    def edit(cfg: dict[str, Any]) -> None:
        cfg["linux"]["devices"] = [{"path": "/dev/x", "type": "c", "major": 10, "minor": 200,
                                    "fileMode": 0o600, "uid": 1, "gid": 2}]
        cfg["linux"]["resources"].update({
            "memory": {"limit": 1 << 26, "swappiness": 10, "disableOOMKiller": True},
            "cpu": {"shares": 512, "quota": 20000, "period": 100000, "cpus": "0"},
            "pids": {"limit": 10},
        })
        cfg["process"]["oomScoreAdj"] = 100
        cfg["hooks"] = {"prestart": [{"path": "/bin/true", "args": ["true"], "timeout": 2}],
                        "poststop": [{"path": "/bin/false"}]}

    b = _parse(tmp_path, edit)
    r = b.spec.resources
    assert (r.memory, r.memory_swappiness, r.disable_oom_killer) == (1 << 26, 10, True)
    assert (r.cpu_shares, r.cpu_quota, r.cpu_period, r.cpuset_cpus) == (512, 20000, 100000, "0")
    assert (r.pids_limit, r.oom_score_adj) == (10, 100)
    assert r.device_rules is not None and r.device_rules[-1] == DeviceRule(True, "c", 10, 200)
    d = b.spec.devices[0]
    assert (d.path, d.kind, d.major, d.minor, d.file_mode, d.uid, d.gid) == (
        "/dev/x", "c", 10, 200, 0o600, 1, 2)
    assert [(h.path, h.timeout) for h in b.hooks.prestart] == [("/bin/true", 2)]
    assert b.hooks.poststop[0].path == "/bin/false" and not b.hooks.create_runtime


@pytest.mark.parametrize(("key", "value", "message"), [
    ("ociVersion", None, "ociVersion: is required"),
    ("process.args", [], "process.args: needs at least one"),
    ("process.cwd", "rel", "process.cwd: 'rel' must be an absolute path"),
    ("process.rlimits", [{"type": "NOFILE", "soft": 1, "hard": 1}], "RLIMIT_"),
    ("root.path", "missing", "root.path: .* is not a directory"),
    ("hooks", {"prestart": [{"path": "rel"}]}, r"hooks\.prestart\[0\]\.path"),
    ("linux.rootfsPropagation", "sideways", "linux.rootfsPropagation"),
    ("process.user", {"uid": "root"}, "process.user.uid: must be an integer"),
])
def test_refusals_name_the_key(tmp_path: Path, key: str, value: Any, message: str) -> None:
    def edit(cfg: dict[str, Any]) -> None:
        *parents, last = key.split(".")
        node = cfg
        for p in parents:
            node = node[p]
        node[last] = value

    with pytest.raises(InvalidArgument, match=message):
        _parse(tmp_path, edit)


def test_exec_process_json() -> None:
    proc, caps = parse_process({"args": ["ls"], "cwd": "/tmp", "user": {"uid": 5, "gid": 6},
                                "capabilities": {"bounding": ["CAP_CHOWN"]}})
    assert (proc.args, proc.cwd, proc.user) == (["ls"], "/tmp", "5:6")
    assert caps is not None and caps.bounding == ["CAP_CHOWN"] and caps.ambient == []
    assert parse_process({"args": ["ls"]})[1] is None
