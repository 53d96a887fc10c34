"""``pycompose network ...`` as a user runs it."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

from pctest.cli import run


def test_network_commands(no_leaks: Path, make_ctr: Callable[[], str]) -> None:
    r = run(["network", "create", "--subnet", "10.89.0.0/24", "--label", "team=a", "front"])
    assert r.returncode == 0, r.stderr
    net_id = r.stdout.strip()
    assert len(net_id) == 64
    assert run(["network", "create", "--internal", "back"]).returncode == 0
    r = run(["network", "create", "--subnet", "10.89.0.128/25", "clash"])
    assert r.returncode == 1
    assert r.stderr.strip() == ("error: network clash: subnet 10.89.0.128/25 overlaps "
                                "network front (10.89.0.0/24)")
    r = run(["network", "create", "front"])
    assert r.returncode == 1 and "already exists" in r.stderr
    lines = run(["network", "ls"]).stdout.splitlines()
    assert lines[0].split() == ["NETWORK", "ID", "NAME", "DRIVER", "SCOPE"]
    assert [line.split()[1] for line in lines[1:]] == ["back", "front"]
    r = run(["network", "ls", "--filter", "label=team=a", "--format", "{{.Name}}\t{{.ID}}"])
    assert r.stdout == f"front\t{net_id[:12]}\n"

    ctr = make_ctr()
    r = run(["network", "connect", "--alias", "api", "--ip", "10.89.0.50", "front", "c1",
             "--netns", f"/run/netns/{ctr}"])
    assert r.returncode == 0, r.stderr
    assert "10.89.0.50/24" in subprocess.run(["ip", "-n", ctr, "-o", "addr"],
                                             capture_output=True, text=True).stdout
    info = json.loads(run(["network", "inspect", "front"]).stdout)[0]
    assert info["Id"] == net_id and info["Labels"] == {"team": "a"}
    assert info["IPAM"]["Config"] == [{"Subnet": "10.89.0.0/24", "Gateway": "10.89.0.1"}]
    assert info["Containers"]["c1"]["IPv4Address"] == "10.89.0.50/24"

    r = run(["network", "rm", "front"])
    assert r.returncode == 1 and "network front has active endpoints (c1)" in r.stderr
    assert run(["network", "disconnect", "front", "c1"]).returncode == 0
    r = run(["network", "prune", "-f"])
    assert r.stdout.split() == ["Deleted", "Networks:", "back", "front"]
    r = run(["network", "inspect", "front"])
    assert r.returncode == 1 and "network front not found" in r.stderr
    assert "Traceback" not in r.stderr
