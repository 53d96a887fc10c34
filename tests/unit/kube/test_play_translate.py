"""``kube play``'s translation, without an engine: Kubernetes documents in, the compose
project (validated as any compose file is) out, with the names, dependencies, volumes,
environment and healthchecks that make a pod behave as one."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from pycompose.kube import pause
from pycompose.kube import play as P
from pycompose.kube.errors import KubeError


def played(tmp_path: Path, text: str) -> P.Played:
    docs = [d for d in yaml.safe_load_all(text) if d]
    return P.translate(docs, P.PlayOptions(file="app.yaml", project_name="demo",
                                           state_dir=tmp_path / "state",
                                           working_dir=tmp_path))


def svc(p: P.Played, name: str) -> dict[str, Any]:
    out: dict[str, Any] = p.compose["services"][name]
    return out


POD = """
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  restartPolicy: OnFailure
  initContainers:
  - {name: one, image: busybox, command: ["true"]}
  - {name: side, image: busybox, restartPolicy: Always}
  - {name: two, image: busybox}
  containers:
  - name: app
    image: busybox
    command: [/bin/app]
    args: ["--name=$(POD_NAME)", "$$(literal)"]
    ports: [{containerPort: 8080, name: http, hostPort: 9090}]
    env:
    - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    - {name: PASS, valueFrom: {secretKeyRef: {name: creds, key: password}}}
    - {name: MISSING, valueFrom: {configMapKeyRef: {name: nope, key: x, optional: true}}}
    envFrom:
    - {prefix: CFG_, configMapRef: {name: settings}}
    securityContext: {runAsUser: 1000, capabilities: {drop: [ALL]},
                      readOnlyRootFilesystem: true}
    resources: {limits: {memory: 256Mi, cpu: 500m}}
    readinessProbe: {httpGet: {path: /healthz, port: http}, periodSeconds: 5}
    startupProbe: {tcpSocket: {port: 8080}, periodSeconds: 2, failureThreshold: 10}
    volumeMounts:
    - {name: data, mountPath: /data}
    - {name: scratch, mountPath: /tmp/s}
    - {name: settings, mountPath: /etc/settings}
    - {name: creds, mountPath: /run/pw, subPath: password}
    - {name: host, mountPath: /host, readOnly: true}
  volumes:
  - {name: data, persistentVolumeClaim: {claimName: data}}
  - {name: scratch, emptyDir: {}}
  - {name: settings, configMap: {name: settings, items: [{key: level, path: conf/level}]}}
  - {name: creds, secret: {secretName: creds, defaultMode: 0400}}
  - {name: host, hostPath: {path: /srv/shared, type: DirectoryOrCreate}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {level: debug, color: blue}
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
data: {password: czNjcmV0}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
---
apiVersion: v1
kind: Service
metadata: {name: www}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports: [{port: 80, targetPort: http}]
"""


def test_a_pod_is_an_infra_service_and_its_containers(tmp_path: Path) -> None:
    p = played(tmp_path, POD)
    assert list(p.compose["services"]) == ["web-infra", "web-one", "web-side", "web-two",
                                           "web-app"]
    assert p.pods == ["web"]
    infra = svc(p, "web-infra")
    assert infra["image"] == pause.IMAGE and infra["entrypoint"] == ["/pause"]
    assert infra["networks"] == {"default": {"aliases": ["www"]}}
    assert infra["ports"] == ["127.0.0.1:80:8080/tcp", "127.0.0.1:9090:8080/tcp"]
    assert infra["hostname"] == "web"
    app = svc(p, "web-app")
    assert app["container_name"] == "web-app" and app["hostname"] == "web"
    assert app["network_mode"] == "service:web-infra" and app["ipc"] == "service:web-infra"
    # init containers in order, a sidecar (restartPolicy: Always) started, not awaited
    assert svc(p, "web-one")["depends_on"] == {"web-infra": {"condition": "service_started"}}
    assert svc(p, "web-side")["depends_on"]["web-one"] == {
        "condition": "service_completed_successfully"}
    assert svc(p, "web-two")["depends_on"]["web-side"] == {"condition": "service_started"}
    assert app["depends_on"]["web-two"] == {"condition": "service_completed_successfully"}
    assert svc(p, "web-one")["restart"] == "no" and svc(p, "web-side")["restart"] == "always"
    assert app["restart"] == "on-failure"
    # command/args with $(VAR) as the kubelet expands them
    assert app["entrypoint"] == ["/bin/app"]
    assert app["command"] == ["--name=web", "$(literal)"]
    assert app["environment"] == {"CFG_level": "debug", "CFG_color": "blue",
                                  "POD_NAME": "web", "PASS": "s3cret"}
    assert app["user"] == "1000" and app["cap_drop"] == ["ALL"] and app["read_only"]
    assert app["mem_limit"] == 256 << 20 and app["cpus"] == 0.5
    # probes: readiness is the check, the startup probe its start period
    assert app["healthcheck"] == {
        "test": ["CMD-SHELL", "curl -fsS -o /dev/null http://127.0.0.1:8080/healthz "
                              "2>/dev/null || wget -q -O /dev/null "
                              "http://127.0.0.1:8080/healthz"],
        "interval": "5s", "timeout": "1s", "retries": 3, "start_period": "20s",
        "start_interval": "2s"}
    state = tmp_path / "state" / "volumes" / "web"
    assert app["volumes"] == [
        {"type": "volume", "source": "data", "target": "/data", "read_only": False},
        {"type": "volume", "source": "web-scratch", "target": "/tmp/s", "read_only": False},
        {"type": "bind", "source": str(state / "settings"), "target": "/etc/settings",
         "read_only": True},
        {"type": "bind", "source": str(state / "creds" / "password"), "target": "/run/pw",
         "read_only": True},
        {"type": "bind", "source": "/srv/shared", "target": "/host", "read_only": True,
         "bind": {"create_host_path": True}}]
    assert p.pod_volumes == ["web-scratch"]
    assert set(p.compose["volumes"]) == {"data", "web-scratch"}
    files = {f.path: (f.data, f.mode) for f in p.files}
    assert files == {state / "settings" / "conf" / "level": (b"debug", 0o644),
                     state / "creds" / "password": (b"s3cret", 0o400)}
    # the project validated: compose's own model holds it
    assert p.project.services["web-app"].network_mode == "service:web-infra"
    assert p.project.name == "demo"


def test_replicas_are_pods_named_as_kubernetes_and_podman_do(tmp_path: Path) -> None:
    p = played(tmp_path, """
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  replicas: 3
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: srv, image: busybox}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  replicas: 2
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers:
      - {name: pg, image: postgres, volumeMounts: [{name: data, mountPath: /var/lib/pg}]}
  volumeClaimTemplates:
  - metadata: {name: data}
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
---
apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: run, image: busybox}]
---
apiVersion: v1
kind: Service
metadata: {name: api}
spec: {selector: {app: api}, ports: [{port: 80, targetPort: 8080}]}
""")
    assert p.pods == ["api-1", "api-2", "api-3", "db-0", "db-1", "migrate"]
    for i in (1, 2, 3):
        assert svc(p, f"api-{i}-infra")["networks"]["default"]["aliases"] == ["api"]
    assert svc(p, "db-1-pg")["volumes"][0]["source"] == "data-db-1"
    assert svc(p, "migrate-run")["restart"] == "no"
    assert any("Service api port 80 -> 8080: on pycompose connect to api:8080" in w
               for w in p.warnings)


def test_what_is_not_played_is_said(tmp_path: Path) -> None:
    p = played(tmp_path, """
apiVersion: v1
kind: Pod
metadata: {name: x, uid: abc}
spec:
  affinity: {}
  containers:
  - {name: c, image: busybox, lifecycle: {preStop: {exec: {command: [x]}}}}
status: {phase: Running}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: np}
spec: {podSelector: {}}
""")
    text = "\n".join(p.warnings)
    assert "app.yaml: Pod/x: spec.affinity is not played and is ignored" in text
    assert "app.yaml: Pod/x: spec.containers[0].lifecycle is not played" in text
    assert "Ingress/web (networking.k8s.io/v1) not played" in text
    assert "NetworkPolicy/np not played" in text
    assert "status" not in text and "uid" not in text


@pytest.mark.parametrize(("text", "message"), [
    ("kind: ConfigMap\napiVersion: v1\nmetadata: {name: c}\n", "nothing to play"),
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: "
     "[{name: c, image: i, env: [{name: A, valueFrom: {configMapKeyRef: "
     "{name: gone, key: k}}}]}]}\n", "ConfigMap 'gone' is not in the file"),
    ("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {k: '%%%'}\n---\n"
     "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: "
     "[{name: c, image: i}]}\n", "app.yaml: Secret/s: data.k: not base64"),
    ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: m}\ndata: {k: v}\n---\n"
     "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, "
     "image: i, volumeMounts: [{name: v, mountPath: /v}]}], volumes: [{name: v, configMap: "
     "{name: m, items: [{key: k, path: ../../etc/passwd}]}}]}\n",
     "must be a relative path without '..'"),
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, "
     "image: i, volumeMounts: [{name: nope, mountPath: /v}]}]}\n",
     "container c mounts 'nope', which is not among the pod's volumes"),
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: "
     "[{name: c, image: i, ports: [{containerPort: eighty}]}]}\n",
     "app.yaml: Pod/p: spec.containers[0].ports[0].containerPort: expected a whole number"),
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c}]}\n",
     "container c has no image"),
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, "
     "image: i}]}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: "
     "{containers: [{name: a, image: i}]}\n", "two pods would be named p"),
])
def test_errors_name_the_file_object_and_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(KubeError) as info:
        played(tmp_path, text)
    assert message in str(info.value)


def test_files_are_written_fresh_inside_the_state_dir(tmp_path: Path) -> None:
    p = played(tmp_path, POD)
    state = tmp_path / "state"
    target = p.files[0].path
    target.parent.mkdir(parents=True)
    (tmp_path / "elsewhere").write_text("keep")
    target.symlink_to(tmp_path / "elsewhere")  # a link planted where a file goes
    P.write_files(p, state)
    assert not target.is_symlink() and target.read_bytes() == b"debug"
    assert (tmp_path / "elsewhere").read_text() == "keep"
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    secret = state / "volumes" / "web" / "creds" / "password"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o400


def test_the_pause_program_is_a_small_static_elf() -> None:
    data = pause.elf("x86_64")
    assert data[:4] == b"\x7fELF" and len(data) < 300
    with pytest.raises(KubeError, match="no pause program for riscv64"):
        pause.elf("riscv64")
    assert pause.rootfs_tar("x86_64") == pause.rootfs_tar("x86_64")
