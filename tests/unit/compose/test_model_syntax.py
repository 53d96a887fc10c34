"""The short syntaxes, parsed into long forms exactly as docker compose reads them."""

from __future__ import annotations

from typing import Any

import pytest

from pycompose.compose.model import syntax
from pycompose.compose.model.syntax import SyntaxProblem


def port(target: int, published: str | None = None, protocol: str = "tcp",
         host_ip: str | None = None) -> dict[str, Any]:
    e: dict[str, Any] = {"mode": "ingress", "target": target, "protocol": protocol}
    if host_ip:
        e["host_ip"] = host_ip
    if published:
        e["published"] = published
    return e


@pytest.mark.parametrize(("text", "expected"), [
    ("80", [port(80)]),
    ("8080:80", [port(80, "8080")]),
    ("8080:80/udp", [port(80, "8080", "udp")]),
    ("127.0.0.1:8080:80", [port(80, "8080", host_ip="127.0.0.1")]),
    ("127.0.0.1::80", [port(80, host_ip="127.0.0.1")]),
    ("[::1]:8080:80", [port(80, "8080", host_ip="::1")]),
    ("::1:8080:80", [port(80, "8080", host_ip="::1")]),
    ("3000-3001", [port(3000), port(3001)]),
    ("9090-9091:8080-8081", [port(8080, "9090"), port(8081, "9091")]),
    ("9000-9010:80", [port(80, "9000-9010")]),
    ("6060:6060/SCTP", [port(6060, "6060", "sctp")]),
])
def test_port_short_syntax(text: str, expected: list[dict[str, Any]]) -> None:
    assert syntax.parse_port(text) == expected


def test_port_as_a_yaml_number() -> None:
    assert syntax.parse_port(22) == [port(22)]


@pytest.mark.parametrize(("text", "message"), [
    ("99999:80", "published port 99999 is out of range"),
    ("80:70000", "container port 70000 is out of range"),
    ("80:80/icmp", "invalid protocol 'icmp'"),
    ("8000-8002:80-81", "different lengths"),
    ("abc:80", "expected a published port number or range, got 'abc'"),
    ("81-80", "the end is before the start"),
    ("8080:", "missing the container port"),
])
def test_bad_ports(text: str, message: str) -> None:
    with pytest.raises(SyntaxProblem, match=message):
        syntax.parse_port(text)


@pytest.mark.parametrize(("text", "expected"), [
    ("/data", {"type": "volume", "target": "/data", "volume": {}}),
    ("db:/var/lib/db", {"type": "volume", "source": "db", "target": "/var/lib/db",
                        "volume": {}}),
    ("db:/data:ro,nocopy", {"type": "volume", "source": "db", "target": "/data",
                            "read_only": True, "volume": {"nocopy": True}}),
    ("/host:/data", {"type": "bind", "source": "/host", "target": "/data",
                     "bind": {"create_host_path": True}}),
    ("./rel:/data:ro,z", {"type": "bind", "source": "./rel", "target": "/data",
                          "read_only": True,
                          "bind": {"create_host_path": True, "selinux": "z"}}),
    ("~/x:/x:rshared", {"type": "bind", "source": "~/x", "target": "/x",
                        "bind": {"create_host_path": True, "propagation": "rshared"}}),
    ("/h:/c:rw", {"type": "bind", "source": "/h", "target": "/c",
                  "bind": {"create_host_path": True}}),
    # options docker compose does not know are ignored, as compose-go ignores them
    ("/h:/c:bogus", {"type": "bind", "source": "/h", "target": "/c",
                     "bind": {"create_host_path": True}}),
    ("data:/c:cached,ro", {"type": "volume", "source": "data", "target": "/c",
                           "read_only": True, "volume": {}}),
])
def test_volume_short_syntax(text: str, expected: dict[str, Any]) -> None:
    assert syntax.parse_volume(text) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("a:b:c:d", "at most two ':'"),
    (":/c", "the source is empty"),
    ("/h:/c:nocopy", "'nocopy' applies to volumes"),
])
def test_bad_volumes(text: str, message: str) -> None:
    with pytest.raises(SyntaxProblem, match=message):
        syntax.parse_volume(text)


@pytest.mark.parametrize(("text", "seconds"), [
    ("30s", 30.0), ("1m30s", 90.0), ("500ms", 0.5), ("1h", 3600.0), ("1.5s", 1.5),
    ("2h45m", 9900.0), ("10us", 1e-5), (15, 15.0), ("0", 0.0),
])
def test_durations(text: Any, seconds: float) -> None:
    assert syntax.parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["10", "abc", "10 s", "s", "-5s", True, "1m30"])
def test_bad_durations(text: Any) -> None:
    with pytest.raises(SyntaxProblem, match="expected a duration"):
        syntax.parse_duration(text)


@pytest.mark.parametrize(("seconds", "text"), [
    (30, "30s"), (90, "1m30s"), (3600, "1h0m0s"), (0.5, "500ms"), (1.5, "1.5s"), (0, "0s"),
])
def test_durations_print_as_go_does(seconds: float, text: str) -> None:
    assert syntax.format_duration(seconds) == text


@pytest.mark.parametrize(("text", "size"), [
    ("512m", 512 << 20), ("1g", 1 << 30), ("1GB", 1 << 30), ("2GiB", 2 << 30), (1024, 1024),
    ("100k", 100 << 10), ("1.5g", int(1.5 * (1 << 30))), ("123", 123),
])
def test_sizes(text: Any, size: int) -> None:
    assert syntax.parse_bytes(text) == size


def test_bad_size() -> None:
    with pytest.raises(SyntaxProblem, match="expected a size"):
        syntax.parse_bytes("lots")


def test_list_or_dict() -> None:
    assert syntax.list_or_dict(["A=1", "B", "C=x=y", "D="]) == {
        "A": "1", "B": None, "C": "x=y", "D": ""}
    assert syntax.list_or_dict({"A": 1, "B": True, "C": None, "D": 1.5}) == {
        "A": "1", "B": "true", "C": None, "D": "1.5"}
    with pytest.raises(SyntaxProblem, match="expected a string, number or boolean"):
        syntax.list_or_dict({"A": {"nested": 1}})
    with pytest.raises(SyntaxProblem, match="expected a mapping or a list"):
        syntax.list_or_dict("A=1")


def test_command_is_split_like_a_shell_without_one() -> None:
    assert syntax.command("sh -c 'echo \"a b\"'") == ["sh", "-c", 'echo "a b"']
    assert syntax.command(["echo", 1]) == ["echo", "1"]
    assert syntax.command("") == []
    with pytest.raises(SyntaxProblem, match="cannot split"):
        syntax.command("echo 'unclosed")


def test_extra_hosts_in_every_form() -> None:
    assert syntax.extra_hosts(["a:1.2.3.4", "b=::1", "c=1.1.1.1,2.2.2.2"]) == {
        "a": ["1.2.3.4"], "b": ["::1"], "c": ["1.1.1.1", "2.2.2.2"]}
    assert syntax.extra_hosts({"a": "1.2.3.4", "b": ["::1", "10.0.0.1"]}) == {
        "a": ["1.2.3.4"], "b": ["::1", "10.0.0.1"]}
    with pytest.raises(SyntaxProblem, match="expected 'host=ip'"):
        syntax.extra_hosts(["nohost"])


@pytest.mark.parametrize(("text", "expected"), [
    ("/dev/sda", {"source": "/dev/sda", "target": "/dev/sda", "permissions": "rwm"}),
    ("/dev/sda:/dev/xvda", {"source": "/dev/sda", "target": "/dev/xvda", "permissions": "rwm"}),
    ("/dev/sda:/dev/xvda:r", {"source": "/dev/sda", "target": "/dev/xvda",
                              "permissions": "r"}),
    ("/dev/sda:rw", {"source": "/dev/sda", "target": "/dev/sda", "permissions": "rw"}),
])
def test_devices(text: str, expected: dict[str, str]) -> None:
    assert syntax.parse_device(text) == expected


@pytest.mark.parametrize("policy", ["no", "always", "on-failure", "on-failure:3",
                                    "unless-stopped"])
def test_restart_policies(policy: str) -> None:
    assert syntax.check_restart(policy) == policy


def test_restart_false_is_no_and_nonsense_is_an_error() -> None:
    assert syntax.check_restart(False) == "no"
    with pytest.raises(SyntaxProblem, match="invalid restart policy 'sometimes'"):
        syntax.check_restart("sometimes")
