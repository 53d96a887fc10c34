"""``kube generate``: every manifest validates against the Kubernetes OpenAPI schemas
(kubernetes-validate, strict: no field the API does not know), each compose key that is
translated lands in its manifest field (one case per key of keys.TRANSLATED), and each
key that is not is a warning naming the service and the key."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from pycompose.compose.loader import LoadOptions, load
from pycompose.compose.model import Project, Service, validate
from pycompose.kube import codec
from pycompose.kube.errors import KubeError
from pycompose.kube.generate import Generated, GenerateOptions, generate
from pycompose.kube.keys import NOT_RUNTIME, TRANSLATED, UNTRANSLATED

K8S_VERSION = kubernetes_validate.latest_version()
Doc = dict[str, Any]


def project_of(tmp_path: Path, text: str, files: dict[str, str] | None = None) -> Project:
    (tmp_path / "compose.yaml").write_text(text)
    for name, content in (files or {}).items():
        (tmp_path / name).write_text(content)
    return validate(load(LoadOptions(cwd=str(tmp_path), environ={"PW": "from-env"},
                                     project_name="shop")))


def gen(tmp_path: Path, text: str, files: dict[str, str] | None = None,
        **opts: Any) -> Generated:
    result = generate(project_of(tmp_path, text, files), GenerateOptions(**opts))
    for doc in result.documents():
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    return result


def find(result: Generated, kind: str, name: str) -> Doc:
    for doc in result.documents():
        if doc["kind"] == kind and doc["metadata"]["name"] == name:
            return doc
    raise AssertionError(f"no {kind}/{name} in {[o.ref() for o in result.objects]}")


def workload(result: Generated, name: str = "web") -> Doc:
    for doc in result.documents():
        if doc["kind"] in ("Deployment", "StatefulSet", "Job", "DaemonSet") and \
                doc["metadata"]["name"] == name:
            return doc
    raise AssertionError(f"no workload {name}")


def pod(result: Generated, name: str = "web") -> Doc:
    spec: Doc = workload(result, name)["spec"]["template"]
    return spec


def ctr(result: Generated, name: str = "web") -> Doc:
    c: Doc = pod(result, name)["spec"]["containers"][0]
    return c


def warned(result: Generated) -> list[str]:
    return [str(w) for w in result.warnings]


# --- a whole stack ------------------------------------------------------------------------

STACK = """
services:
  web:
    image: nginx:1.27
    ports: ["8080:80"]
    depends_on:
      db: {condition: service_healthy}
      migrate: {condition: service_completed_successfully}
    env_file: app.env
    environment: {MODE: prod}
    deploy: {replicas: 2}
    configs: [site]
    secrets: [pw, token]
  db:
    image: postgres:16
    volumes: [data:/var/lib/postgresql/data]
    expose: ["5432"]
    healthcheck: {test: pg_isready, interval: 5s}
    networks: [back, default]
  migrate:
    image: shop/migrate
    command: [migrate, up]
    networks: [back]
  agent:
    image: agent
    deploy: {mode: global}
volumes: {data: {}}
networks: {back: {}}
configs: {site: {content: "<h1>hi</h1>"}}
secrets:
  pw: {file: ./pw.txt}
  token: {environment: PW}
"""


def test_a_stack_becomes_valid_objects_of_the_right_kinds(tmp_path: Path) -> None:
    r = gen(tmp_path, STACK, {"app.env": "LEVEL=debug\n", "pw.txt": "s3cret"},
            expose="loadbalancer")
    kinds = {o.ref() for o in r.objects}
    assert {"Namespace/shop", "Deployment/web", "StatefulSet/db", "Job/migrate",
            "DaemonSet/agent", "Service/web", "Service/web-published", "Service/db",
            "PersistentVolumeClaim/data", "ConfigMap/site", "ConfigMap/web-app-env",
            "Secret/pw", "Secret/token", "NetworkPolicy/network-default",
            "NetworkPolicy/network-back", "NetworkPolicy/web-published"} <= kinds
    # the namespace comes first, so that a plain ``kubectl apply -f`` makes it first
    assert r.objects[0].KIND == "Namespace"
    # every object is in the project's namespace and carries the project's labels
    for doc in r.documents()[1:]:
        assert doc["metadata"]["namespace"] == "shop"
        assert doc["metadata"]["labels"]["app.kubernetes.io/instance"] == "shop"
        assert doc["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "pycompose"
    assert workload(r, "db")["spec"]["serviceName"] == "db"
    assert base64.b64decode(find(r, "Secret", "pw")["data"]["pw"]) == b"s3cret"
    assert base64.b64decode(find(r, "Secret", "token")["data"]["token"]) == b"from-env"
    lb = find(r, "Service", "web-published")["spec"]
    assert lb["type"] == "LoadBalancer"
    assert lb["ports"] == [{"port": 8080, "targetPort": 80, "protocol": "TCP",
                            "name": "tcp-8080"}]


def test_namespace_option_uses_an_existing_one(tmp_path: Path) -> None:
    r = gen(tmp_path, "services: {web: {image: a}}", namespace="team")
    assert all(o.KIND != "Namespace" for o in r.objects)
    assert workload(r)["metadata"]["namespace"] == "team"


def test_services_that_share_no_network_cannot_talk(tmp_path: Path) -> None:
    r = gen(tmp_path, """
services:
  front: {image: a, networks: [pub]}
  api: {image: a, networks: [pub, priv]}
  db: {image: a, networks: [priv]}
networks: {pub: {}, priv: {}}
""")
    def nets(name: str) -> set[str]:
        labels = pod(r, name)["metadata"]["labels"]
        return {k.split("/")[1] for k in labels if k.startswith("network.pycompose.io/")}

    assert nets("front") == {"pub"} and nets("db") == {"priv"} and nets("api") == {"pub", "priv"}
    for net in ("pub", "priv"):
        spec = find(r, "NetworkPolicy", f"network-{net}")["spec"]
        member = {"matchLabels": {f"network.pycompose.io/{net}": "true"}}
        assert spec["podSelector"] == member
        assert spec["ingress"] == [{"from": [{"podSelector": member}]}]


def test_only_the_named_services(tmp_path: Path) -> None:
    r = gen(tmp_path, STACK, {"app.env": "A=1\n", "pw.txt": "x"}, services=["db"])
    assert {o.ref() for o in r.objects if o.KIND in ("Deployment", "StatefulSet", "Job")} \
        == {"StatefulSet/db"}
    with pytest.raises(KubeError, match="no such service: nope"):
        generate(project_of(tmp_path, STACK), GenerateOptions(services=["nope"]))


def test_names_kubernetes_refuses_are_changed_and_said(tmp_path: Path) -> None:
    r = gen(tmp_path, "services: {My_DB: {image: a, expose: ['5432']}}")
    assert workload(r, "my-db")
    assert find(r, "Service", "my-db")
    assert any("services.My_DB: the Service is named my-db" in w for w in warned(r))


def test_two_services_with_one_kubernetes_name_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(KubeError, match="would both be named a-b"):
        generate(project_of(tmp_path, "services: {a_b: {image: a}, a.b: {image: a}}"))


# --- every compose key ----------------------------------------------------------------------


def test_every_service_key_has_a_decision() -> None:
    fields = set(Service.model_fields) - {"extensions"}
    tables = [set(TRANSLATED), set(UNTRANSLATED), set(NOT_RUNTIME) - {"extensions"}]
    assert set().union(*tables) == fields
    assert sum(len(t) for t in tables) == len(fields), "a key is in two tables"


#: compose key -> (service YAML, what to read in the result, expected value)
Case = tuple[str, Callable[[Generated], Any], Any]
CASES: dict[str, Case] = {
    "annotations": ("annotations: {example.com/a: '1'}",
                    lambda r: pod(r)["metadata"]["annotations"], {"example.com/a": "1"}),
    "build": ("build: .", lambda r: (ctr(r)["image"], "services.web.build: the cluster "
                                     "cannot build: push the image busybox" in warned(r)[0]),
              ("busybox", True)),
    "cap_add": ("cap_add: [CAP_NET_ADMIN]",
                lambda r: ctr(r)["securityContext"]["capabilities"]["add"], ["NET_ADMIN"]),
    "cap_drop": ("cap_drop: [ALL]",
                 lambda r: ctr(r)["securityContext"]["capabilities"]["drop"], ["ALL"]),
    "command": ("command: echo $$(x) hi", lambda r: ctr(r)["args"], ["echo", "$$(x)", "hi"]),
    "configs": ("configs: [{source: site, target: /etc/site.conf, mode: 0444}]",
                lambda r: (ctr(r)["volumeMounts"], pod(r)["spec"]["volumes"],
                           find(r, "ConfigMap", "site")["data"]),
                ([{"name": "config-site", "mountPath": "/etc/site.conf", "readOnly": True,
                   "subPath": "site"}],
                 [{"name": "config-site", "configMap": {"name": "site", "defaultMode": 0o444}}],
                 {"site": "hello"})),
    "cpu_shares": ("cpu_shares: 512", lambda r: ctr(r)["resources"]["requests"],
                   {"cpu": "500m"}),
    "cpus": ("cpus: 1.5", lambda r: ctr(r)["resources"]["limits"], {"cpu": "1500m"}),
    "depends_on": ("depends_on: {db: {condition: service_healthy}}",
                   lambda r: [(c["name"], c["image"], "nc -w 2 db 5432" in c["command"][2])
                              for c in pod(r)["spec"]["initContainers"]],
                   [("wait-for-db", "busybox:1.37", True)]),
    "deploy": ("deploy: {replicas: 3, resources: {limits: {memory: 64m}, reservations: "
               "{cpus: '0.25'}}, placement: {constraints: ['node.labels.disk==ssd']}}",
               lambda r: (workload(r)["spec"]["replicas"], ctr(r)["resources"],
                          pod(r)["spec"]["nodeSelector"]),
               (3, {"limits": {"memory": "64Mi"}, "requests": {"cpu": "250m"}},
                {"disk": "ssd"})),
    "dns": ("dns: [10.0.0.2]", lambda r: pod(r)["spec"]["dnsConfig"],
            {"nameservers": ["10.0.0.2"]}),
    "dns_opt": ("dns_opt: ['ndots:2', use-vc]", lambda r: pod(r)["spec"]["dnsConfig"],
                {"options": [{"name": "ndots", "value": "2"}, {"name": "use-vc"}]}),
    "dns_search": ("dns_search: [corp]", lambda r: pod(r)["spec"]["dnsConfig"],
                   {"searches": ["corp"]}),
    "entrypoint": ("entrypoint: [/bin/app, --serve]", lambda r: ctr(r)["command"],
                   ["/bin/app", "--serve"]),
    "env_file": ("env_file: app.env",
                 lambda r: (ctr(r)["envFrom"], find(r, "ConfigMap", "web-app-env")["data"],
                            ctr(r).get("env")),
                 ([{"configMapRef": {"name": "web-app-env"}}], {"LEVEL": "debug"}, None)),
    "environment": ("environment: {A: '1', B: $$(HOME)}", lambda r: ctr(r)["env"],
                    [{"name": "A", "value": "1"}, {"name": "B", "value": "$$(HOME)"}]),
    "expose": ("expose: ['9000-9001/udp']",
               lambda r: (ctr(r)["ports"], find(r, "Service", "web")["spec"]["ports"]),
               ([{"containerPort": 9000, "protocol": "UDP"},
                 {"containerPort": 9001, "protocol": "UDP"}],
                [{"port": 9000, "targetPort": 9000, "protocol": "UDP", "name": "udp-9000"},
                 {"port": 9001, "targetPort": 9001, "protocol": "UDP", "name": "udp-9001"}])),
    "extra_hosts": ("extra_hosts: [a=10.0.0.1, b=10.0.0.1]",
                    lambda r: pod(r)["spec"]["hostAliases"],
                    [{"ip": "10.0.0.1", "hostnames": ["a", "b"]}]),
    "group_add": ("group_add: [100]",
                  lambda r: pod(r)["spec"]["securityContext"]["supplementalGroups"], [100]),
    "healthcheck": ("healthcheck: {test: [CMD, check], interval: 10s, timeout: 2500ms, "
                    "retries: 4, start_period: 30s, start_interval: 2s}",
                    lambda r: (ctr(r)["readinessProbe"], ctr(r)["livenessProbe"],
                               ctr(r)["startupProbe"]),
                    ({"exec": {"command": ["check"]}, "periodSeconds": 10,
                      "timeoutSeconds": 3, "failureThreshold": 4},
                     {"exec": {"command": ["check"]}, "periodSeconds": 10,
                      "timeoutSeconds": 3, "failureThreshold": 4},
                     {"exec": {"command": ["check"]}, "periodSeconds": 2,
                      "timeoutSeconds": 3, "failureThreshold": 19})),
    "hostname": ("hostname: box", lambda r: pod(r)["spec"]["hostname"], "box"),
    "image": ("", lambda r: ctr(r)["image"], "busybox"),
    "labels": ("labels: {com.example.team: shop}",
               lambda r: pod(r)["metadata"]["annotations"], {"com.example.team": "shop"}),
    "mem_limit": ("mem_limit: 1g", lambda r: ctr(r)["resources"]["limits"],
                  {"memory": "1Gi"}),
    "mem_reservation": ("mem_reservation: 100000", lambda r: ctr(r)["resources"]["requests"],
                        {"memory": "100000"}),
    "networks": ("networks: {default: {aliases: [www]}}\n    expose: ['80']",
                 lambda r: (pod(r)["metadata"]["labels"]["network.pycompose.io/default"],
                            find(r, "Service", "www")["spec"]["selector"]
                            ["app.kubernetes.io/name"]),
                 ("true", "web")),
    "platform": ("platform: linux/arm64/v8", lambda r: pod(r)["spec"]["nodeSelector"],
                 {"kubernetes.io/os": "linux", "kubernetes.io/arch": "arm64"}),
    "ports": ("ports: ['8080:80']",
              lambda r: (ctr(r)["ports"], find(r, "Service", "web")["spec"]["ports"],
                         find(r, "Service", "web-published")["spec"],
                         find(r, "NetworkPolicy", "web-published")["spec"]["ingress"]),
              ([{"containerPort": 80, "protocol": "TCP"}],
               [{"port": 80, "targetPort": 80, "protocol": "TCP", "name": "tcp-80"}],
               {"selector": {"app.kubernetes.io/name": "web",
                             "app.kubernetes.io/instance": "shop",
                             "app.kubernetes.io/managed-by": "pycompose"},
                "ports": [{"port": 8080, "targetPort": 80, "protocol": "TCP",
                           "name": "tcp-8080"}], "type": "NodePort"},
               [{"ports": [{"port": 80, "protocol": "TCP"}]}])),
    "pull_policy": ("pull_policy: always", lambda r: ctr(r)["imagePullPolicy"], "Always"),
    "read_only": ("read_only: true",
                  lambda r: ctr(r)["securityContext"]["readOnlyRootFilesystem"], True),
    "restart": ("restart: on-failure:2",
                lambda r: (workload(r, "web")["kind"], pod(r)["spec"]["restartPolicy"],
                           workload(r, "web")["spec"]["backoffLimit"]),
                ("Job", "OnFailure", 2)),
    "scale": ("scale: 4", lambda r: workload(r)["spec"]["replicas"], 4),
    "secrets": ("secrets: [pw]",
                lambda r: (ctr(r)["volumeMounts"], pod(r)["spec"]["volumes"]),
                ([{"name": "secret-pw", "mountPath": "/run/secrets/pw", "readOnly": True,
                   "subPath": "pw"}], [{"name": "secret-pw", "secret": {"secretName": "pw"}}])),
    "security_opt": ("security_opt: [no-new-privileges:true]",
                     lambda r: ctr(r)["securityContext"], {"allowPrivilegeEscalation": False}),
    "shm_size": ("shm_size: 256m",
                 lambda r: (ctr(r)["volumeMounts"], pod(r)["spec"]["volumes"]),
                 ([{"name": "dshm", "mountPath": "/dev/shm"}],
                  [{"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "256Mi"}}])),
    "stdin_open": ("stdin_open: true", lambda r: ctr(r)["stdin"], True),
    "stop_grace_period": ("stop_grace_period: 1m30s",
                          lambda r: pod(r)["spec"]["terminationGracePeriodSeconds"], 90),
    "sysctls": ("sysctls: {net.core.somaxconn: '1024'}",
                lambda r: pod(r)["spec"]["securityContext"]["sysctls"],
                [{"name": "net.core.somaxconn", "value": "1024"}]),
    "tmpfs": ("tmpfs: ['/run:size=64m']",
              lambda r: (ctr(r)["volumeMounts"], pod(r)["spec"]["volumes"]),
              ([{"name": "tmpfs-extra-0", "mountPath": "/run"}],
               [{"name": "tmpfs-extra-0",
                 "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}}])),
    "tty": ("tty: true", lambda r: ctr(r)["tty"], True),
    "user": ("user: '1000:2000'", lambda r: ctr(r)["securityContext"],
             {"runAsUser": 1000, "runAsGroup": 2000}),
    "volumes": ("volumes: [data:/data, /cache, {type: tmpfs, target: /t}]",
                lambda r: (workload(r)["kind"], ctr(r)["volumeMounts"],
                           pod(r)["spec"]["volumes"],
                           find(r, "PersistentVolumeClaim", "data")["spec"]),
                ("StatefulSet",
                 [{"name": "data", "mountPath": "/data"},
                  {"name": "anonymous-1", "mountPath": "/cache"},
                  {"name": "tmpfs-2", "mountPath": "/t"}],
                 [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}},
                  {"name": "anonymous-1", "emptyDir": {}},
                  {"name": "tmpfs-2", "emptyDir": {"medium": "Memory"}}],
                 {"accessModes": ["ReadWriteOnce"],
                  "resources": {"requests": {"storage": "1Gi"}}})),
    "working_dir": ("working_dir: /srv", lambda r: ctr(r)["workingDir"], "/srv"),
}

CASE_FILE = """
services:
  web:
    image: busybox
    {snippet}
  db:
    image: postgres
    expose: ["5432"]
    healthcheck: {{test: pg_isready}}
  other:
    image: a
    depends_on: {{web: {{condition: service_completed_successfully}}}}
volumes: {{data: {{}}}}
configs: {{site: {{content: hello}}}}
secrets: {{pw: {{content: secret}}}}
"""


def test_the_table_has_a_case_per_translated_key() -> None:
    assert set(CASES) == set(TRANSLATED)


@pytest.mark.parametrize("key", sorted(CASES))
def test_translated_key(tmp_path: Path, key: str) -> None:
    snippet, read, expected = CASES[key]
    text = CASE_FILE.format(snippet=snippet)
    if key != "restart":  # only the restart case makes web a Job
        text = text.replace("    depends_on: {web: {condition: service_completed_successfully}}\n",
                            "")
    r = gen(tmp_path, text, {"app.env": "LEVEL=debug\n"}, expose="nodeport")
    assert read(r) == expected
    assert not any(w.service == "web" and w.key.split(".")[0].split("[")[0] == key
                   for w in r.warnings if key not in ("build", "ports")), warned(r)


# --- what cannot be translated ----------------------------------------------------------------

EVERY_UNTRANSLATED = """
services:
  web:
    image: busybox
    blkio_config: {weight: 300}
    cgroup: host
    cgroup_parent: p
    container_name: the-one
    cpu_count: 2
    cpu_percent: 50
    cpu_period: 100000
    cpu_quota: 50000
    cpu_rt_period: 1000
    cpu_rt_runtime: 900
    cpuset: 0-1
    credential_spec: {config: x}
    device_cgroup_rules: ["c 1:3 mr"]
    devices: [/dev/fuse]
    domainname: example.com
    external_links: [x:y]
    gpus: all
    init: true
    ipc: host
    isolation: default
    links: [other]
    logging: {driver: syslog}
    mac_address: 02:42:ac:11:00:02
    memswap_limit: 2g
    mem_swappiness: 10
    models: [m]
    oom_kill_disable: true
    oom_score_adj: -500
    pid: host
    pids_limit: 10
    pre_start: [{command: echo migrate}]
    post_start: [{command: echo started}]
    pre_stop: [{command: echo stopping}]
    privileged: true
    provider: {type: x}
    pull_refresh_after: 1h
    runtime: runsc
    stop_signal: SIGINT
    storage_opt: {size: 1G}
    ulimits: {nofile: 1024}
    use_api_socket: true
    userns_mode: host
    uts: host
    volumes_from: [other]
  other:
    image: busybox
  host:
    image: busybox
    network_mode: host
models: {m: {model: ai/x}}
"""


def test_every_untranslated_key_is_a_warning_naming_service_and_key(tmp_path: Path) -> None:
    r = gen(tmp_path, EVERY_UNTRANSLATED)
    said = {(w.service, w.key) for w in r.warnings}
    want = {("web", k) for k in UNTRANSLATED if k != "network_mode"} | {("host", "network_mode")}
    assert want <= said, sorted(want - said)
    text = warned(r)
    assert "services.web.privileged: not translated: Pod Security admission" in text[
        [w.key for w in r.warnings].index("privileged")]
    assert "securityContext" not in str(ctr(r))  # nothing privileged slipped through


def test_other_losses_are_warnings(tmp_path: Path) -> None:
    r = gen(tmp_path, """
services:
  web:
    image: busybox
    ports: ["127.0.0.1:8080:80"]
    volumes: [./site:/srv, data:/data]
    user: app
    restart: "no"
    depends_on: {job: {condition: service_completed_successfully}}
  api:
    image: busybox
    volumes: [data:/data]
  job:
    image: busybox
volumes: {data: {}}
""")
    text = "\n".join(warned(r))
    assert "services.web.volumes[0]: bind mount of the host path" in text
    assert "services.web.user: 'app' not translated: runAsUser" in text
    assert "services.web.restart: no not translated" in text
    assert "services.web.ports: host_ip 127.0.0.1 not translated" in text
    assert "services.web.ports: published ports answer inside the cluster only" in text
    assert "services.web.depends_on.job: service_completed_successfully not translated" in text
    assert "volumes.data: used by api, web: a ReadWriteOnce claim" in text
    assert workload(r, "job")["kind"] == "Job"


def test_objects_round_trip_through_the_typed_model(tmp_path: Path) -> None:
    """What generate writes, kube play reads back into the same records."""
    r = gen(tmp_path, STACK, {"app.env": "A=1\n", "pw.txt": "x"})
    for obj, doc in zip(r.objects, r.documents(), strict=True):
        unknown: list[str] = []
        assert codec.from_dict(type(obj), doc, unknown) == obj
        assert unknown == []
