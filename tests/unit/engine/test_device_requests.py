"""``--device`` and ``--device-cgroup-rule`` as typed requests (the engine face's parsers,
shared by the CLI, compose and the Docker API), and what the supervisor makes of a
record's HostConfig: the host nodes gathered, the runtime's nodes and cgroup rules."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pycompose.engine.api import (
    DeviceCgroupRule,
    DeviceMapping,
    InvalidArgument,
    NotFound,
    device_mapping,
    parse_device,
    parse_device_cgroup_rule,
)
from pycompose.engine.runtime.devices import DEFAULT_ALLOW_RULES, bpf_program
from pycompose.engine.supervisor import devices as D


@pytest.mark.parametrize(("text", "want"), [
    ("/dev/fuse", DeviceMapping("/dev/fuse", "/dev/fuse", "rwm")),
    ("/dev/fuse:/dev/myfuse", DeviceMapping("/dev/fuse", "/dev/myfuse", "rwm")),
    ("/dev/fuse:/dev/myfuse:r", DeviceMapping("/dev/fuse", "/dev/myfuse", "r")),
    ("/dev/fuse:rw", DeviceMapping("/dev/fuse", "/dev/fuse", "rw")),
    ("/dev/fuse:mwr", DeviceMapping("/dev/fuse", "/dev/fuse", "mwr")),
    ("/dev/snd:/dev/snd/", DeviceMapping("/dev/snd", "/dev/snd", "rwm")),
    ("/dev/fuse::r", DeviceMapping("/dev/fuse", "/dev/fuse", "r")),
])
def test_device_shapes(text: str, want: DeviceMapping) -> None:
    assert parse_device(text) == want


@pytest.mark.parametrize(("text", "why"), [
    ("/dev/fuse:dev/fuse", "dev/fuse is not an absolute path"),
    ("/dev/fuse:/dev/x:rwx", "bad mode specified: rwx"),
    ("/dev/fuse:/dev/x:rr", "bad mode specified: rr"),
    ("/dev/fuse:/dev/x:", "bad mode specified: "),
    ("a:/b:r:d", "bad format"),
    (":/dev/x", "bad format"),
    ("/dev/fuse:x", "x is not an absolute path"),
])
def test_bad_devices_are_dockers_errors(text: str, why: str) -> None:
    with pytest.raises(InvalidArgument) as e:
        parse_device(text)
    assert str(e.value).startswith(f'invalid argument "{text}" for "--device" flag: {why}')


def test_a_mapping_from_parts_names_its_key() -> None:
    assert device_mapping("/dev/zero", "", "r", "services.web.devices") == \
        DeviceMapping("/dev/zero", "/dev/zero", "r")
    with pytest.raises(InvalidArgument, match=r"invalid services.web.devices '/dev/zero': "
                                              r"bad mode specified: x"):
        device_mapping("/dev/zero", "/z", "x", "services.web.devices")


@pytest.mark.parametrize(("text", "want"), [
    ("c 10:200 rwm", DeviceCgroupRule("c", 10, 200, "rwm")),
    ("b *:* m", DeviceCgroupRule("b", None, None, "m")),
    ("a 1:* r", DeviceCgroupRule("a", 1, None, "r")),
    ("c *:5 wr", DeviceCgroupRule("c", None, 5, "wr")),
])
def test_cgroup_rule_shapes(text: str, want: DeviceCgroupRule) -> None:
    assert parse_device_cgroup_rule(text) == want
    assert want.text() == text


@pytest.mark.parametrize("text", ["c 10:200", "x 1:2 rwm", "c a:1 rw", "c 1:2 rwx",
                                  "c 1:2 rwmr", "c  1:2 rw", "c 1:2:3 r", "c -1:2 r",
                                  "c ١:2 r", ""])
def test_bad_cgroup_rules(text: str) -> None:
    with pytest.raises(InvalidArgument, match=f"invalid device cgroup format '{text}'"):
        parse_device_cgroup_rule(text)


numbers = st.none() | st.integers(0, 4095)


@given(st.sampled_from("abc"), numbers, numbers,
       st.text(st.sampled_from("rwm"), min_size=1, max_size=3))
def test_a_rule_reads_back_as_written(kind: str, major: int | None, minor: int | None,
                                      access: str) -> None:
    rule = DeviceCgroupRule(kind, major, minor, access)
    assert parse_device_cgroup_rule(rule.text()) == rule


def test_gather_a_node_follows_a_symlink_and_keeps_the_hosts_numbers(tmp_path: Path
                                                                      ) -> None:
    (tmp_path / "null").symlink_to("/dev/null")
    (node,) = D.gather(DeviceMapping(str(tmp_path / "null"), "/dev/mynull", "rw"))
    st = os.stat("/dev/null")
    assert (node.path, node.host_path, node.kind, node.major, node.minor) == \
        ("/dev/mynull", "/dev/null", "c", 1, 3)
    assert (node.mode, node.uid, node.gid, node.permissions) == \
        (st.st_mode & 0o7777, st.st_uid, st.st_gid, "rw")


def test_gather_errors_are_dockers(tmp_path: Path) -> None:
    with pytest.raises(NotFound) as e:
        D.gather(DeviceMapping("/dev/nosuch-x", "/dev/x"))
    assert str(e.value) == ('error gathering device information while adding custom '
                            'device "/dev/nosuch-x": no such file or directory')
    (tmp_path / "file").write_text("")
    with pytest.raises(InvalidArgument, match="not a device node"):
        D.gather(DeviceMapping(str(tmp_path / "file"), "/dev/x"))
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "link").symlink_to("/dev/null")  # not followed inside a dir
    with pytest.raises(InvalidArgument, match="a directory with no device nodes"):
        D.gather(DeviceMapping(str(tmp_path / "empty"), "/dev/x"))


def test_inspect_fields_round_trip() -> None:
    devices = [DeviceMapping("/dev/fuse", "/dev/myfuse", "r")]
    rules = [DeviceCgroupRule("c", 10, None, "rwm")]
    host = D.host_config(devices, rules)
    assert host == {"Devices": [{"PathOnHost": "/dev/fuse", "PathInContainer": "/dev/myfuse",
                                 "CgroupPermissions": "r"}],
                    "DeviceCgroupRules": ["c 10:* rwm"]}
    assert D.mappings_of(host) == devices and D.rules_of(host) == rules
    assert D.host_config([], []) == {"Devices": [], "DeviceCgroupRules": None}


def test_runtime_devices_default_then_each_node_then_the_extra_rules() -> None:
    assert D.runtime_devices({"Devices": [], "DeviceCgroupRules": None}, False) == ([], None)
    host = D.host_config([DeviceMapping("/dev/null", "/dev/n", "r")],
                         [DeviceCgroupRule("b", 7, None, "rw")])
    nodes, rules = D.runtime_devices(host, False)
    assert [(n.path, n.kind, n.major, n.minor, n.source) for n in nodes] == \
        [("/dev/n", "c", 1, 3, "/dev/null")]
    assert rules is not None
    lines = [("allow " if r.allow else "deny ") + r.v1() for r in rules]
    assert lines == ["deny a *:* rwm", *[f"allow {r}" for r in DEFAULT_ALLOW_RULES],
                     "allow c 1:3 r", "allow b 7:* rw"]
    assert bpf_program([r.v1() for r in rules if r.allow])  # v2 takes the same rules
    nodes, rules = D.runtime_devices(host, True)  # privileged: everything allowed
    assert len(nodes) == 1 and rules is None
