"""``POST /containers/create``'s JSON as the face's CreateRequest: what docker's clients
send (every field, mostly zero) becomes types once; what the engine cannot honour is
refused by name."""

from __future__ import annotations

from typing import Any

import pytest

from pycompose.dockerapi.create import console_size, create_request, port_bindings
from pycompose.dockerapi.jsondoc import Doc
from pycompose.engine.api import InvalidArgument, Mount, PortBinding


def body(**over: Any) -> dict[str, Any]:
    """A create body as the docker CLI sends it for ``docker run busybox true``."""
    doc: dict[str, Any] = {
        "Hostname": "", "Domainname": "", "User": "", "AttachStdin": False,
        "AttachStdout": True, "AttachStderr": True, "Tty": False, "OpenStdin": False,
        "StdinOnce": False, "Env": [], "Cmd": ["true"], "Image": "busybox",
        "Volumes": {}, "WorkingDir": "", "Entrypoint": None, "OnBuild": None,
        "Labels": {},
        "HostConfig": {"Binds": None, "ContainerIDFile": "", "LogConfig": {"Type": "",
                                                                         "Config": {}},
                       "NetworkMode": "default", "PortBindings": {},
                       "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
                       "AutoRemove": False, "VolumeDriver": "", "VolumesFrom": None,
                       "ConsoleSize": [40, 120], "CapAdd": None, "CapDrop": None,
                       "CgroupnsMode": "", "Dns": [], "DnsOptions": [], "DnsSearch": [],
                       "ExtraHosts": None, "GroupAdd": None, "IpcMode": "", "Cgroup": "",
                       "Links": None, "OomScoreAdj": 0, "PidMode": "", "Privileged": False,
                       "PublishAllPorts": False, "ReadonlyRootfs": False,
                       "SecurityOpt": None, "UTSMode": "", "UsernsMode": "", "ShmSize": 0,
                       "Isolation": "", "CpuShares": 0, "Memory": 0, "NanoCpus": 0,
                       "CgroupParent": "", "BlkioWeight": 0, "BlkioWeightDevice": [],
                       "BlkioDeviceReadBps": [], "CpuPeriod": 0, "CpuQuota": 0,
                       "CpuRealtimePeriod": 0, "CpuRealtimeRuntime": 0, "CpusetCpus": "",
                       "CpusetMems": "", "Devices": [], "DeviceCgroupRules": None,
                       "DeviceRequests": None, "MemoryReservation": 0, "MemorySwap": 0,
                       "MemorySwappiness": None, "OomKillDisable": None,
                       "PidsLimit": None, "Ulimits": [], "CpuCount": 0, "CpuPercent": 0,
                       "IOMaximumIOps": 0, "IOMaximumBandwidth": 0, "MaskedPaths": None,
                       "ReadonlyPaths": None},
        "NetworkingConfig": {"EndpointsConfig": {}},
    }
    for key, value in over.items():
        if key == "host":
            doc["HostConfig"].update(value)
        else:
            doc[key] = value
    return doc


def test_the_docker_clis_plain_run() -> None:
    req = create_request(body(), "web")
    assert (req.image, req.name, req.command, req.entrypoint) == ("busybox", "web",
                                                                   ["true"], None)
    assert req.network == "" and req.endpoints == [] and req.mounts == []
    assert req.attach and not req.tty and not req.auto_remove
    assert req.resources.shm_size == 64 << 20 and req.resources.pids_limit is None
    assert console_size(body()) == (40, 120)


def test_binds_mounts_tmpfs_and_anonymous_volumes() -> None:
    req = create_request(body(
        Volumes={"/anon": {}, "/data": {}},
        host={"Binds": ["/srv/site:/var/www:ro", "named:/data:nocopy"],
              "Mounts": [{"Type": "bind", "Source": "/etc/hosts", "Target": "/h",
                          "ReadOnly": True},
                         {"Type": "tmpfs", "Target": "/scratch",
                          "TmpfsOptions": {"SizeBytes": 1048576, "Mode": 0o1777}}],
              "Tmpfs": {"/run": "rw,size=64m,mode=755"}}))
    assert req.mounts == [
        Mount("bind", "/var/www", "/srv/site", True, create_host_path=True),
        Mount("volume", "/data", "named", False, no_copy=True),
        Mount("bind", "/h", "/etc/hosts", True),
        Mount("tmpfs", "/scratch", tmpfs_size=1048576, tmpfs_mode=0o1777),
        Mount("tmpfs", "/run", tmpfs_size=64 << 20, tmpfs_mode=0o755),
        Mount("volume", "/anon"),  # /data is the named volume's already
    ]


@pytest.mark.parametrize("bad", ["./relative:/x", "/a", "vol:rel", "/a:/b:rw,bogus",
                                 "bad name!:/x"])
def test_bad_binds_are_refused_naming_them(bad: str) -> None:
    with pytest.raises(InvalidArgument, match="invalid"):
        create_request(body(host={"Binds": [bad]}))


def test_ports_networks_and_aliases() -> None:
    req = create_request(body(
        ExposedPorts={"9000/tcp": {}},
        host={"NetworkMode": "appnet",
              "PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}],
                               "53/udp": [{"HostIp": "", "HostPort": ""}],
                               "7000-7001/tcp": [{"HostPort": "17000-17001"}]}},
        NetworkingConfig={"EndpointsConfig": {"appnet": {
            "Aliases": ["web"], "IPAMConfig": {"IPv4Address": "10.9.0.5"}}}}))
    assert req.ports == [PortBinding("127.0.0.1", 8080, 80), PortBinding("", None, 53, "udp"),
                         PortBinding("", 17000, 7000), PortBinding("", 17001, 7001)]
    assert req.expose == ["9000/tcp"]
    assert req.network == "appnet"
    assert [(e.network, e.aliases, e.ipv4_address) for e in req.endpoints] == \
        [("appnet", ["web"], "10.9.0.5")]
    with pytest.raises(InvalidArgument, match="user-defined networks"):
        create_request(body(NetworkingConfig={"EndpointsConfig": {"bridge": {
            "Aliases": ["x"]}}}))


def test_command_entrypoint_health_restart_and_resources() -> None:
    req = create_request(body(
        Cmd="echo hi", Entrypoint=[""], Env=["A=1"], User="app", WorkingDir="/tmp",
        Tty=True, OpenStdin=True, StopSignal="SIGINT", StopTimeout=3,
        Healthcheck={"Test": ["CMD-SHELL", "true"], "Interval": 2_000_000_000,
                     "Retries": 2},
        host={"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 4},
              "Memory": 64 << 20, "MemorySwap": -1, "NanoCpus": 500_000_000,
              "PidsLimit": 50, "Ulimits": [{"Name": "nofile", "Soft": 10, "Hard": 20}],
              "CapAdd": ["NET_ADMIN"], "SecurityOpt": ["no-new-privileges"],
              "Init": True, "AutoRemove": True, "Sysctls": {"net.ipv4.ip_forward": "1"},
              "LogConfig": {"Type": "local", "Config": {"max-size": "1m"}}}))
    assert req.command == ["echo hi"] and req.entrypoint == []  # "" clears it
    assert (req.env, req.user, req.workdir, req.tty, req.open_stdin) == \
        (["A=1"], "app", "/tmp", True, True)
    assert (req.stop_signal, req.stop_timeout) == ("SIGINT", 3)
    assert req.healthcheck is not None and req.healthcheck.test == ["CMD-SHELL", "true"]
    assert req.healthcheck.interval == 2_000_000_000 and req.healthcheck.retries == 2
    assert (req.restart.name, req.restart.maximum_retry_count) == ("on-failure", 4)
    r = req.resources
    assert (r.memory, r.memory_swap, r.nano_cpus, r.pids_limit) == (64 << 20, -1,
                                                                    500_000_000, 50)
    assert [(u.name, u.soft, u.hard) for u in req.ulimits] == [("nofile", 10, 20)]
    assert req.init and req.auto_remove and req.cap_add == ["NET_ADMIN"]
    assert (req.log_config.type, req.log_config.config) == ("local", {"max-size": "1m"})
    assert create_request(body(Healthcheck={"Test": ["NONE"]})).healthcheck.disable  # type: ignore[union-attr]


@pytest.mark.parametrize(("host", "words"), [
    ({"DeviceRequests": [{"Count": -1}]}, "HostConfig.DeviceRequests is not supported"),
    ({"Devices": [{"PathOnHost": "/dev/kvm", "PathInContainer": "kvm"}]},
     "HostConfig.Devices.0. '/dev/kvm': kvm is not an absolute path"),
    ({"Devices": [{"PathOnHost": "/dev/kvm", "CgroupPermissions": "rwx"}]},
     "bad mode specified: rwx"),
    ({"DeviceCgroupRules": ["c 10"]}, "invalid HostConfig.DeviceCgroupRules: invalid device "
                                      "cgroup format 'c 10'"),
    ({"CpuQuota": 50000}, "HostConfig.CpuQuota is not supported"),
    ({"PidMode": "host"}, "HostConfig.PidMode='host' is not supported"),
    ({"VolumesFrom": ["other"]}, "HostConfig.VolumesFrom is not supported"),
    ({"Memory": "lots"}, "HostConfig.Memory"),
    ({"Privileged": "yes"}, "HostConfig.Privileged"),
    ({"RestartPolicy": {"Name": "sometimes"}}, "unknown policy"),
    ({"RestartPolicy": {"Name": "always", "MaximumRetryCount": 3}}, "on-failure"),
    ({"MemorySwap": 1024, "Memory": 4096}, "memoryswap"),
])
def test_what_the_engine_cannot_honour_is_named(host: dict[str, Any], words: str) -> None:
    with pytest.raises(InvalidArgument, match=words.replace("(", r"\(")):
        create_request(body(host=host))


def test_devices_and_device_cgroup_rules() -> None:
    from pycompose.engine.api import DeviceCgroupRule, DeviceMapping

    req = create_request(body(host={
        "Devices": [{"PathOnHost": "/dev/fuse", "PathInContainer": "/dev/myfuse",
                     "CgroupPermissions": "r"}, {"PathOnHost": "/dev/kvm"}],
        "DeviceCgroupRules": ["c 10:* rwm"]}))
    assert req.devices == [DeviceMapping("/dev/fuse", "/dev/myfuse", "r"),
                           DeviceMapping("/dev/kvm", "/dev/kvm", "rwm")]
    assert req.device_cgroup_rules == [DeviceCgroupRule("c", 10, None, "rwm")]


def test_no_image_and_unknown_keys() -> None:
    with pytest.raises(InvalidArgument, match="Config.Image is required"):
        create_request(body(Image=""))
    req = create_request(body(Whatever=1, host={"AlsoNew": True}))  # Go ignores them
    assert req.image == "busybox"


@pytest.mark.parametrize(("bindings", "words"), [
    ({"99999/tcp": [{"HostPort": "70000"}]}, "not in 1..65535"),
    ({"80/sctp": [{"HostPort": "8080"}]}, "not tcp or udp"),
    ({"80/tcp": [{"HostIp": "not-an-ip", "HostPort": "8080"}]}, "is not an IP address"),
    ({"80-81/tcp": [{"HostPort": "x"}]}, "is not a port number"),
])
def test_a_bad_port_binding_is_a_400_naming_it(bindings: dict[str, Any], words: str) -> None:
    """They reached the container's start before (an internal error there: bind()'s
    OverflowError for 70000)."""
    with pytest.raises(InvalidArgument, match=words):
        port_bindings(Doc({"PortBindings": bindings}, "HostConfig"))
