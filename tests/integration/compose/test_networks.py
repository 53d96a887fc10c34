"""Compose networks on the real kernel: declared, internal and external networks,
aliases and static addresses; down removes the project's own, never an external one."""

from __future__ import annotations

import json

from pctest.cli import run
from pctest.stack import Stack

STACK = """
services:
  api:
    image: busybox
    command: ["sh", "-c", "while true; do echo api | nc -l -p 7000; done"]
    stop_signal: SIGKILL
    networks:
      back:
        aliases: [api.internal]
        ipv4_address: 172.29.9.10
  client:
    image: busybox
    command: [sleep, "300"]
    stop_signal: SIGKILL
    networks: [back, shared]
networks:
  back:
    internal: true
    ipam:
      config: [{subnet: 172.29.9.0/24}]
  shared:
    external: true
    name: {shared}
"""


def test_internal_external_alias_static_ip(stack: Stack) -> None:
    shared = f"{stack.name}-shared"
    r = run(["network", "create", shared])
    assert r.returncode == 0, r.stderr
    try:
        stack.write(STACK.replace("{shared}", shared))
        stack.ok("up", "-d")
        ip = stack.inspect(f"{stack.name}-api-1",
                           "{{json .NetworkSettings.Networks}}")
        assert json.loads(ip)[f"{stack.name}_back"]["IPAddress"] == "172.29.9.10"
        out = stack.exec("client", "sh", "-c", "nc -w 3 api.internal 7000 </dev/null")
        assert out.returncode == 0 and out.stdout.strip() == "api", out.stderr
        stack.ok("down")
        names = run(["network", "ls", "--format", "{{.Name}}"]).stdout.split()
        assert shared in names                      # external: joined, never removed
        assert f"{stack.name}_back" not in names    # the project's own: removed
    finally:
        run(["network", "rm", shared])


def test_missing_external_network_is_a_clear_error(stack: Stack) -> None:
    stack.write("services:\n  a:\n    image: busybox\n    networks: [ext]\n"
                "networks:\n  ext:\n    external: true\n    name: nosuchnet\n")
    r = stack("up", "-d")
    assert r.returncode == 1
    assert "network nosuchnet declared as external, but could not be found" in r.stderr
