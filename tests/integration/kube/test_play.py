"""``kube play`` on the real engine: the containers of a pod talk over localhost and
share IPC, init containers finish first (in order), a Deployment's replicas answer
behind their Service's name, probes are healthchecks; ``--down`` removes all of it."""

from __future__ import annotations

import json
import re
import socket
import time
from typing import TYPE_CHECKING

from pctest.cli import run

if TYPE_CHECKING:
    from conftest import Play

POD = """
apiVersion: v1
kind: Pod
metadata:
  name: duo
  labels: {app: duo}
spec:
  initContainers:
  - name: first
    image: busybox
    command: [sh, -c, "echo first >> /work/log"]
    volumeMounts: [{name: work, mountPath: /work}]
  - name: second
    image: busybox
    command: [sh, -c, "sleep 1; echo second >> /work/log"]
    volumeMounts: [{name: work, mountPath: /work}]
  containers:
  - name: server
    image: busybox
    command: [sh, -c, "while true; do echo hello-over-localhost | nc -l -p 7000; done"]
    tcpSocket: null
    readinessProbe:
      tcpSocket: {port: 7000}
      periodSeconds: 1
  - name: client
    image: busybox
    command: [sh, -c, "cat /work/log; sleep 300"]
    env:
    - {name: GREETING, valueFrom: {configMapKeyRef: {name: settings, key: greeting}}}
    - {name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    - {name: MESSAGE, value: "$(GREETING) from $(POD), $(LATER) as written"}
    - {name: LATER, value: later}
    volumeMounts:
    - {name: work, mountPath: /work}
    - {name: settings, mountPath: /etc/settings}
    - {name: token, mountPath: /run/token, subPath: token}
  volumes:
  - {name: work, emptyDir: {}}
  - {name: settings, configMap: {name: settings}}
  - {name: token, secret: {secretName: token, defaultMode: 0400}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {greeting: hi, level: debug}
---
apiVersion: v1
kind: Secret
metadata: {name: token}
stringData: {token: s3cret}
"""


def test_pod_containers_share_localhost_and_ipc_after_init_containers(play: Play) -> None:
    path = play.write(POD)
    r = play.ok("play", str(path))
    assert r.stdout.split() == ["duo"]
    assert "tcpSocket is not played" in r.stderr  # the stray key is named, not dropped
    names = set(play.container("ls", "-a", "--format", "{{.Names}}").stdout.split())
    assert names == {"duo-infra", "duo-first", "duo-second", "duo-server", "duo-client"}
    # init containers ran in order, both before the app containers
    assert play.exec("duo-client", "cat /work/log").split() == ["first", "second"]
    assert play.container("logs", "duo-client").stdout.split() == ["first", "second"]
    assert play.inspect("duo-first", "{{.State.ExitCode}}") == "0"
    # localhost is the pod's: the client reaches the server's port on 127.0.0.1
    deadline = time.monotonic() + 10
    while True:
        out = play.container("exec", "duo-client", "nc", "-w", "2", "127.0.0.1",
                             "7000").stdout.strip()
        if out == "hello-over-localhost" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert out == "hello-over-localhost"
    # one IPC namespace, one host name (the pod's)
    ipc = {play.exec(c, "readlink /proc/self/ns/ipc").strip()
           for c in ("duo-server", "duo-client")}
    assert len(ipc) == 1
    assert play.exec("duo-client", "hostname").strip() == "duo"
    # environment from a ConfigMap, the pod's name, $(VAR) references; files mounted
    assert play.exec("duo-client", "echo $MESSAGE").strip() == \
        "hi from duo, $(LATER) as written"  # the kubelet's rule: earlier names only
    assert play.exec("duo-client", "ls /etc/settings").split() == ["greeting", "level"]
    assert play.exec("duo-client", "cat /run/token; echo; stat -c %a /run/token").split() == [
        "s3cret", "400"]
    # the tcpSocket readiness probe is the server's healthcheck
    play.wait_health("duo-server")
    down = play.ok("play", "--down", "-t", "1", str(path))
    assert "Container duo-client" in down.stderr
    assert play.container("ls", "-aq").stdout.split() == []
    assert run(["volume", "ls", "-q"]).stdout.split() == []  # the emptyDir went with it
    assert not (play.root / "kube" / play.name).exists()


DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: echo}
spec:
  replicas: 3
  selector: {matchLabels: {app: echo}}
  template:
    metadata: {labels: {app: echo}}
    spec:
      containers:
      - name: srv
        image: busybox
        command: [sh, -c, "while true; do hostname | nc -l -p 7000; done"]
        ports: [{containerPort: 7000, name: talk}]
---
apiVersion: v1
kind: Service
metadata: {name: echo-svc}
spec:
  selector: {app: echo}
  ports: [{port: 7000, targetPort: talk}]
---
apiVersion: v1
kind: Service
metadata: {name: front}
spec:
  type: LoadBalancer
  selector: {app: echo}
  ports: [{port: PORT, targetPort: 7000}]
---
apiVersion: v1
kind: Pod
metadata: {name: asker}
spec:
  containers:
  - name: ask
    image: busybox
    command: [sleep, "300"]
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_deployment_replicas_answer_behind_their_service_name(play: Play) -> None:
    port = free_port()
    path = play.write(DEPLOYMENT.replace("PORT", str(port)))
    r = play.ok("play", str(path))
    assert r.stdout.split() == ["echo-1", "echo-2", "echo-3", "asker"]
    ips = sorted(play.inspect(f"echo-{i}-infra", "{{.NetworkSettings.IPAddress}}")
                 for i in (1, 2, 3))
    # the Service's name resolves to every replica, on the play's one network
    out = play.exec("asker-ask", "nslookup echo-svc")
    assert sorted(re.findall(r"Address: (\d+\.\d+\.\d+\.\d+)", out)) == ips, out
    # and each answers as its own pod (host name NAME-N)
    seen: set[str] = set()
    deadline = time.monotonic() + 20
    while seen != {"echo-1", "echo-2", "echo-3"} and time.monotonic() < deadline:
        for ip in ips:
            got = play.container("exec", "asker-ask", "nc", "-w", "2", ip, "7000").stdout
            seen.add(got.strip())
        seen.discard("")
    assert seen == {"echo-1", "echo-2", "echo-3"}
    got = play.container("exec", "asker-ask", "nc", "-w", "2", "echo-svc", "7000").stdout
    assert got.strip() in seen
    # the LoadBalancer Service answers on the host, on loopback
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        assert c.recv(100).decode().strip() in seen
    # played again with one replica: the file is the truth, the other two pods go
    play.write(DEPLOYMENT.replace("PORT", str(port)).replace("replicas: 3", "replicas: 1"))
    r = play.ok("play", "-t", "1", str(path))
    assert r.stdout.split() == ["echo-1", "asker"]
    names = set(play.container("ls", "-a", "--format", "{{.Names}}").stdout.split())
    assert names == {"echo-1-infra", "echo-1-srv", "asker-infra", "asker-ask"}
    play.ok("play", "--down", "-t", "1", str(path))
    assert play.container("ls", "-aq").stdout.split() == []


def test_a_failing_init_container_stops_the_play_and_says_which(play: Play) -> None:
    path = play.write("""
apiVersion: v1
kind: Pod
metadata: {name: broken}
spec:
  initContainers:
  - {name: migrate, image: busybox, command: [sh, -c, "exit 3"]}
  containers:
  - {name: app, image: busybox, command: [sleep, "300"]}
""")
    r = play("play", str(path))
    assert r.returncode != 0
    assert "broken-migrate" in r.stderr and "didn't complete successfully: exit 3" in r.stderr
    assert "Traceback" not in r.stderr
    assert play.inspect("broken-migrate", "{{.State.ExitCode}}") == "3"
    # the pod's container never ran (compose may have created it, as docker compose
    # creates before it starts)
    running = set(play.container("ls", "--format", "{{.Names}}").stdout.split())
    assert "broken-app" not in running
    play.ok("play", "--down", "-t", "1", str(path))


def test_probes_are_healthchecks(play: Play) -> None:
    path = play.write("""
apiVersion: v1
kind: Pod
metadata: {name: probed}
spec:
  containers:
  - name: good
    image: busybox
    command: [sh, -c, "touch /tmp/ready; sleep 300"]
    readinessProbe: {exec: {command: [test, -f, /tmp/ready]}, periodSeconds: 1}
  - name: bad
    image: busybox
    command: [sleep, "300"]
    livenessProbe:
      exec: {command: [test, -f, /nope]}
      periodSeconds: 1
      failureThreshold: 2
""")
    play.ok("play", str(path))
    play.wait_health("probed-good", "healthy")
    play.wait_health("probed-bad", "unhealthy")
    hc = json.loads(play.inspect("probed-good", "{{json .Config.Healthcheck}}"))
    assert hc["Test"] == ["CMD", "test", "-f", "/tmp/ready"]
    play.ok("play", "--down", "-t", "1", str(path))
