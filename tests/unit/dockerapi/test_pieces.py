"""The API service's pure parts: filters, versions, detach keys, stream frames, the
records' shapes, docker's state words."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pycompose.dockerapi import versions
from pycompose.dockerapi.filters import Filters
from pycompose.dockerapi.http import ApiError, Body, Request
from pycompose.dockerapi.relay import detach_keys
from pycompose.dockerapi.shapes import inspect_doc, list_entry
from pycompose.dockerapi.streams import frame
from pycompose.engine.api import ContainerRecord, InvalidArgument
from pycompose.util.humanize import human_duration, state_text


def _req(query: dict[str, list[str]]) -> Request:
    return Request("GET", "/x", "1.47", query, {}, Body(None))  # type: ignore[arg-type]


def test_filters_both_shapes_and_their_logic() -> None:
    f = Filters.of(_req({"filters": [json.dumps({"label": ["a=1", "b"],
                                                 "status": {"running": True}})]}),
                   ["label", "status"])
    assert f.get("status") == ["running"]
    assert f.labels_match({"a": "1", "b": "x"}) and not f.labels_match({"a": "2", "b": ""})
    assert f.any_match("status", "running") and not f.any_match("status", "exited")
    assert f.any_match("name", "anything")  # no such filter: everything matches
    with pytest.raises(ApiError, match="invalid filter 'nosuch'"):
        Filters.of(_req({"filters": ['{"nosuch": ["x"]}']}), ["label"])
    with pytest.raises(ApiError, match="invalid JSON"):
        Filters.of(_req({"filters": ["{bad"]}), ["label"])


def test_versions_are_negotiated_by_the_prefix() -> None:
    assert versions.split_prefix("/v1.41/containers/json") == ("1.41", "/containers/json")
    assert versions.split_prefix("/containers/json") == (versions.API_VERSION,
                                                         "/containers/json")
    assert versions.split_prefix("/v1.47") == ("1.47", "/")
    with pytest.raises(ApiError, match="too new"):
        versions.split_prefix("/v1.99/info")
    with pytest.raises(ApiError, match="too old"):
        versions.split_prefix("/v1.20/info")
    assert versions.at_least("1.42", "1.42") and not versions.at_least("1.41", "1.42")


def test_detach_keys_and_frames() -> None:
    assert detach_keys("") == b"\x10\x11"
    assert detach_keys("ctrl-a,x") == b"\x01x"
    assert detach_keys("ctrl-@,ctrl-[") == b"\x00\x1b"
    with pytest.raises(InvalidArgument, match="Invalid detach keys"):
        detach_keys("ctrl-ab")
    assert frame(1, b"hi\n") == b"\x01\x00\x00\x00\x00\x00\x00\x03hi\n"
    assert frame(2, b"") == b"\x02\x00\x00\x00\x00\x00\x00\x00"


def test_dockers_words_for_states() -> None:
    now = 1_700_000_100.0
    assert human_duration(0.5) == "Less than a second"
    assert human_duration(90) == "About a minute"
    assert human_duration(7200) == "2 hours"
    started = "2023-11-14T22:13:20.000000000Z"  # 1_700_000_000
    assert state_text({"Status": "running", "StartedAt": started}, now) == \
        "Up About a minute"
    assert state_text({"Status": "running", "StartedAt": started,
                       "Health": {"Status": "healthy"}}, now) == "Up About a minute (healthy)"
    assert state_text({"Status": "paused", "StartedAt": started}, now) == \
        "Up About a minute (Paused)"
    assert state_text({"Status": "exited", "ExitCode": 3, "FinishedAt": started}, now) == \
        "Exited (3) About a minute ago"
    assert state_text({"Status": "created"}, now) == "Created"


def _record(**state: Any) -> ContainerRecord:
    raw = {
        "Id": "ab" * 32, "Name": "/web", "Created": "2023-11-14T22:13:20.000000000Z",
        "Image": "sha256:" + "cd" * 32, "Path": "httpd", "Args": ["-f"],
        "Config": {"Image": "busybox", "Labels": {"a": "b"}, "ExposedPorts": {"80/tcp": {},
                                                                            "81/tcp": {}},
                   "Hostname": ""},
        "HostConfig": {"NetworkMode": "bridge", "Mounts": ["type=volume,source=v,"
                                                           "target=/data,readonly"],
                       "UidMap": []},
        "Mounts": [{"Type": "volume", "Name": "v", "Source": "/x", "Destination": "/data",
                    "Driver": "local", "Mode": "", "RW": False, "Propagation": "",
                    "Anonymous": False}],
        "MountRequests": [], "Scope": None,
        "NetworkSettings": {"Ports": {"80/tcp": [{"HostIp": "127.0.0.1",
                                                  "HostPort": "8080"}]},
                            "Networks": {"bridge": {"IPAddress": "172.18.0.2"}}},
        "State": {"Status": "running", "Running": True, "Pid": 42, "StartTime": 7,
                  "StartedAt": "2023-11-14T22:13:20.000000000Z", **state},
    }
    return ContainerRecord(raw)


def test_inspect_is_dockers_shape() -> None:
    doc = inspect_doc(_record(), ["e1"])
    assert "MountRequests" not in doc and "Scope" not in doc
    assert "StartTime" not in doc["State"] and "UidMap" not in doc["HostConfig"]
    assert doc["HostConfig"]["Mounts"] == [{"Type": "volume", "Source": "v",
                                            "Target": "/data", "ReadOnly": True}]
    assert doc["Config"]["Hostname"] == "abababababab"
    ports = doc["NetworkSettings"]["Ports"]
    assert ports == {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}], "81/tcp": None}
    assert doc["NetworkSettings"]["Networks"]["bridge"]["IPAddress"] == "172.18.0.2"
    assert doc["ExecIDs"] == ["e1"]
    stopped = inspect_doc(_record(Status="exited", Running=False))
    assert stopped["NetworkSettings"]["Ports"] == {}
    assert stopped["NetworkSettings"]["Networks"]["bridge"]["IPAddress"] == ""


def test_a_list_entry() -> None:
    e = list_entry(_record())
    assert e["Names"] == ["/web"] and e["Command"] == "httpd -f" and e["State"] == "running"
    assert e["Created"] == 1_700_000_000
    assert {"IP": "127.0.0.1", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"} in \
        e["Ports"]
    assert {"PrivatePort": 81, "Type": "tcp"} in e["Ports"]
    assert e["Status"].startswith("Up ")
    assert e["Mounts"][0]["Name"] == "v"


def test_an_images_inspect_follows_the_clients_version() -> None:
    from types import SimpleNamespace

    from pycompose.dockerapi.images import inspect_doc as image_doc

    im = SimpleNamespace(
        id="sha256:" + "a" * 64, repo_tags=["docker.io/library/busybox:latest"],
        manifest_digest="", history=[], created="2026-12-01T00:00:00Z", size=123,
        oci_config={"architecture": "amd64", "os": "linux"},
        config={"Cmd": ["sh"], "Volumes": {"/data": {}}}, diff_ids=["sha256:" + "b" * 64],
        lowerdirs=lambda **kw: ["/l1"])
    new = image_doc(im, "1.47")
    assert new["RepoTags"] == ["busybox:latest"] and new["Config"]["Cmd"] == ["sh"]
    assert not {"Container", "ContainerConfig", "VirtualSize"} & set(new)
    at_144 = image_doc(im, "1.44")
    assert at_144["ContainerConfig"]["Volumes"] == {"/data": {}}
    assert at_144["Container"] == "" and "VirtualSize" not in at_144
    assert image_doc(im, "1.43")["VirtualSize"] == 123
    # docker-compose v1 asks at the newest version and reads ContainerConfig anyway
    assert "ContainerConfig" in image_doc(im, "1.47", container_config=True)
