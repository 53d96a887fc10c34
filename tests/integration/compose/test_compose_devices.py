"""compose's ``devices:`` (short and long syntax) and ``device_cgroup_rules:`` reach the
container as ``container run --device`` / ``--device-cgroup-rule`` give them."""

from __future__ import annotations

import json
import os

import pytest
from pctest.cli import run
from pctest.stack import Stack

STACK = """
services:
  vpn:
    image: busybox
    command: [sleep, "300"]
    stop_signal: SIGKILL
    devices:
      - /dev/net/tun
      - /dev/fuse:/dev/myfuse:r
      - source: /dev/kvm
        target: /dev/vm
        permissions: rw
    device_cgroup_rules: ["c 10:237 rwm"]
"""


def test_devices_both_syntaxes_and_cgroup_rules(stack: Stack) -> None:
    for path in ("/dev/net/tun", "/dev/fuse", "/dev/kvm", "/dev/loop-control"):
        if not os.path.exists(path):
            pytest.skip(f"this machine has no {path}")
    stack.write(STACK)
    r = stack("up", "-d")
    assert r.returncode == 0, r.stderr
    assert "device_cgroup_rules" not in r.stderr  # no "not supported yet" warning
    script = ("stat -c '%n %t:%T' /dev/net/tun /dev/myfuse /dev/vm; "
              "(exec 3<>/dev/net/tun) && echo tun; (exec 3</dev/myfuse) && echo fuse-r; "
              "(exec 3>/dev/myfuse) || echo fuse-w-denied; (exec 3<>/dev/vm) && echo vm; "
              "mknod /tmp/lc c 10 237 && (exec 3<>/tmp/lc) && echo rule")
    r = stack.exec("vpn", "sh", "-c", script)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["/dev/net/tun a:c8", "/dev/myfuse a:e5", "/dev/vm a:e8",
                                     "tun", "fuse-r", "fuse-w-denied", "vm", "rule"]
    out = run(["container", "inspect", f"{stack.name}-vpn-1"])
    assert out.returncode == 0, out.stderr
    host = json.loads(out.stdout)[0]["HostConfig"]
    assert host["Devices"] == [
        {"PathOnHost": "/dev/net/tun", "PathInContainer": "/dev/net/tun",
         "CgroupPermissions": "rwm"},
        {"PathOnHost": "/dev/fuse", "PathInContainer": "/dev/myfuse", "CgroupPermissions": "r"},
        {"PathOnHost": "/dev/kvm", "PathInContainer": "/dev/vm", "CgroupPermissions": "rw"}]
    assert host["DeviceCgroupRules"] == ["c 10:237 rwm"]
    stack.ok("down")


def test_a_missing_device_fails_up_naming_it(stack: Stack) -> None:
    stack.write("services:\n  a:\n    image: busybox\n    command: ['true']\n"
                "    devices: [/dev/nosuch-device]\n")
    r = stack("up", "-d")
    assert r.returncode != 0
    assert ('error gathering device information while adding custom device '
            '"/dev/nosuch-device": no such file or directory') in r.stderr
    assert "Traceback" not in r.stderr
