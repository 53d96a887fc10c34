"""Requests docker's daemon refuses get docker's status and a ``{"message"}`` body, and
the service goes on serving."""

from __future__ import annotations

import json
import socket
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import Service


def _message(body: bytes) -> str:
    return str(json.loads(body)["message"])


def _still_serving(api: Service) -> None:
    assert api.request("GET", "/_ping")[0] == 200
    status, _, body = api.request("POST", "/containers/create",
                                  {"Image": "busybox", "Cmd": ["true"]})
    assert status == 201, body
    assert api.request("DELETE", f"/containers/{json.loads(body)['Id']}")[0] == 204


def test_malformed_and_mistyped_json(api: Service) -> None:
    status, headers, body = api.request("POST", "/v1.47/containers/create", "{not json")
    assert status == 400 and headers["content-type"] == "application/json"
    assert _message(body).startswith("invalid JSON")
    status, _, body = api.request("POST", "/containers/create",
                                  {"Image": "busybox", "HostConfig": {"Memory": "lots"}})
    assert status == 400 and "HostConfig.Memory" in _message(body)
    status, _, body = api.request("POST", "/containers/create", {"Cmd": ["true"]})
    assert status == 400 and "Image" in _message(body)
    status, _, body = api.request("POST", "/containers/create", b"")
    assert status == 400
    _still_serving(api)


def test_unknown_fields_are_ignored_and_unsupported_ones_named(api: Service) -> None:
    status, _, body = api.request("POST", "/containers/create?name=ignored",
                                  {"Image": "busybox", "Cmd": ["true"], "NoSuchField": 1,
                                   "HostConfig": {"AlsoUnknown": {"x": 1}}})
    assert status == 201, body  # as Go's decoder: unknown keys are ignored
    assert api.request("DELETE", "/containers/ignored")[0] == 204
    status, _, body = api.request("POST", "/containers/create", {
        "Image": "busybox", "HostConfig": {"DeviceRequests": [{"Count": -1}]}})
    assert status == 400 and "HostConfig.DeviceRequests is not supported" in _message(body)
    status, _, body = api.request("POST", "/containers/create", {
        "Image": "busybox", "Cmd": ["true"],
        "HostConfig": {"Devices": [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/n",
                                    "CgroupPermissions": "rw"}],
                       "DeviceCgroupRules": ["c 10:* rwm"]}})
    assert status == 201, body  # devices are passed in: inspect shows them as sent
    cid = json.loads(body)["Id"]
    status, _, body = api.request("GET", f"/containers/{cid}/json")
    host = json.loads(body)["HostConfig"]
    assert host["Devices"] == [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/n",
                                "CgroupPermissions": "rw"}]
    assert host["DeviceCgroupRules"] == ["c 10:* rwm"]
    assert api.request("DELETE", f"/containers/{cid}")[0] == 204
    status, _, body = api.request("POST", "/containers/create", {
        "Image": "busybox", "Cmd": ["true"], "HostConfig": {"Devices": [], "BlkioWeight": 0,
                                                            "CpuQuota": 0}})
    assert status == 201, body  # zero values, as every docker client sends them
    assert api.request("DELETE", f"/containers/{json.loads(body)['Id']}")[0] == 204
    _still_serving(api)


def test_states_a_request_does_not_fit(api: Service) -> None:
    status, _, body = api.request("POST", "/containers/create?name=st",
                                  {"Image": "busybox", "Cmd": ["sleep", "30"]})
    assert status == 201
    assert api.request("POST", "/containers/st/start")[0] == 204
    assert api.request("POST", "/containers/st/start")[0] == 304  # a second start
    status, _, body = api.request("DELETE", "/containers/st")
    assert status == 409 and "stop the container" in _message(body)
    status, _, body = api.request("POST", "/containers/create?name=st",
                                  {"Image": "busybox", "Cmd": ["true"]})
    assert status == 409 and "already in use" in _message(body)
    assert api.request("POST", "/containers/st/pause")[0] == 204
    status, _, body = api.request("POST", "/containers/st/attach?stream=1&stdout=1")
    assert status == 409 and "paused" in _message(body)
    status, _, body = api.request("POST", "/containers/st/exec", {"Cmd": ["true"]})
    assert status == 409 and "paused" in _message(body)
    assert api.request("POST", "/containers/st/unpause")[0] == 204
    assert api.request("POST", "/containers/st/stop?t=0")[0] == 204
    assert api.request("POST", "/containers/st/stop")[0] == 304  # already stopped
    status, _, body = api.request("POST", "/containers/st/kill")
    assert status == 409 and "is not running" in _message(body)
    status, _, body = api.request("POST", "/containers/st/exec", {"Cmd": ["true"]})
    assert status == 409 and "is not running" in _message(body)
    status, _, body = api.request("POST", "/containers/st/wait?condition=sometime")
    assert status == 400 and "invalid condition" in _message(body)
    assert api.request("DELETE", "/containers/st")[0] == 204
    _still_serving(api)


def test_missing_objects_unknown_routes_and_versions(api: Service) -> None:
    status, _, body = api.request("GET", "/containers/nosuch/json")
    assert (status, _message(body)) == (404, "No such container: nosuch")
    status, _, body = api.request("GET", "/images/nosuch:1/json")
    assert status == 404 and "No such image" in _message(body)
    status, _, body = api.request("GET", "/volumes/nosuch")
    assert status == 404
    status, _, body = api.request("GET", "/networks/nosuch")
    assert status == 404
    status, _, body = api.request("GET", "/exec/nosuch/json")
    assert status == 404 and "No such exec instance" in _message(body)
    assert api.request("GET", "/no/such/route") == (404, api.request(
        "GET", "/no/such/route")[1], b'{"message": "page not found"}\n')
    status, _, body = api.request("GET", "/v1.99/version")
    assert status == 400 and "too new" in _message(body)
    status, _, body = api.request("GET", "/v1.12/version")
    assert status == 400 and "too old" in _message(body)
    status, _, body = api.request("GET", '/containers/json?filters={"nosuch":["x"]}')
    assert status == 400 and "invalid filter" in _message(body)
    status, _, body = api.request("GET", "/containers/json?filters={bad")
    assert status == 400
    _still_serving(api)


def test_garbage_on_the_socket_and_a_client_that_hangs_up(api: Service) -> None:
    s = socket.socket(socket.AF_UNIX)
    s.connect(str(api.sock))
    s.sendall(b"\x00\x01 this is not HTTP\r\n\r\n")
    reply = s.recv(4096)
    s.close()
    assert reply.startswith(b"HTTP/1.1 400")
    s = socket.socket(socket.AF_UNIX)  # a wait whose client goes away
    s.connect(str(api.sock))
    status, _, _ = api.request("POST", "/containers/create?name=w",
                               {"Image": "busybox", "Cmd": ["sleep", "30"]})
    assert status == 201
    s.sendall(b"POST /containers/w/wait?condition=next-exit HTTP/1.1\r\nHost: x\r\n\r\n")
    assert s.recv(4096).startswith(b"HTTP/1.1 200")
    s.close()
    s = socket.socket(socket.AF_UNIX)  # half a request, then gone
    s.connect(str(api.sock))
    s.sendall(b"POST /containers/create HTTP/1.1\r\nContent-Length: 100\r\n\r\n{")
    s.close()
    assert api.request("DELETE", "/containers/w")[0] == 204
    _still_serving(api)
