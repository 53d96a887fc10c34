"""``kube apply`` and ``kube down`` through the real CLI and the official kubernetes
client, against a Kubernetes API server double (pctest/apiserver.py): no API server can
be installed on these machines, so the double records the requests and answers as the
API does. What is checked is what a cluster would see: the documented server-side apply
PATCHes (``Content-Type: application/apply-patch+yaml``, ``fieldManager=pycompose``),
namespace first, the user's kubeconfig and ``--context``, ``--wait`` progress, and a
``down`` that deletes only what carries the project's labels."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from pctest.apiserver import ApiServer
from pctest.cli import run

STACK = """
name: shop
services:
  web:
    image: nginx:1.27
    ports: ["8080:80"]
    deploy: {replicas: 2}
  db:
    image: postgres:16
    volumes: [data:/var/lib/postgresql/data]
    expose: ["5432"]
  migrate:
    image: shop/migrate
  app:
    image: app
    depends_on: {migrate: {condition: service_completed_successfully}}
volumes: {data: {}}
"""


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[ApiServer, Path]]:
    server = ApiServer()
    url = server.start()
    (tmp_path / "compose.yaml").write_text(STACK)
    (tmp_path / "kubeconfig").write_text(server.kubeconfig(url))
    yield server, tmp_path
    server.stop()


def kube(folder: Path, *args: str) -> tuple[int, str, str]:
    r = run(["kube", *args], cwd=folder, timeout=60)
    return r.returncode, r.stdout, r.stderr


def test_apply_sends_server_side_apply_patches(api: tuple[ApiServer, Path]) -> None:
    server, folder = api
    code, _, err = kube(folder, "apply", "--kubeconfig", str(folder / "kubeconfig"))
    assert code == 0, err
    patches = [r for r in server.requests if r.method == "PATCH"]
    assert patches, server.requests
    for r in patches:
        assert r.content_type == "application/apply-patch+yaml"
        assert r.query == {"fieldManager": "pycompose"}
        assert r.authorization == "Bearer test-token"
    paths = [r.path for r in patches]
    assert paths[0] == "/api/v1/namespaces/shop"
    assert "/apis/apps/v1/namespaces/shop/deployments/web" in paths
    assert "/apis/apps/v1/namespaces/shop/statefulsets/db" in paths
    assert "/apis/batch/v1/namespaces/shop/jobs/migrate" in paths
    assert "/api/v1/namespaces/shop/persistentvolumeclaims/data" in paths
    assert "/apis/networking.k8s.io/v1/namespaces/shop/networkpolicies/network-default" \
        in paths
    web = server.objects["/apis/apps/v1/namespaces/shop/deployments/web"]
    assert web["spec"]["replicas"] == 2
    assert web["metadata"]["managedFields"] == [{"manager": "pycompose",
                                                 "operation": "Apply"}]
    assert " ✔ Deployment web" in err and "Applied" in err
    assert "services.app.depends_on.migrate" in err  # generate's warnings are shown
    # applying again is an update of the same objects, not a second copy
    count = len(server.objects)
    code, _, err = kube(folder, "apply", "--kubeconfig", str(folder / "kubeconfig"))
    assert code == 0, err
    assert len(server.objects) == count
    assert web is not server.objects["/apis/apps/v1/namespaces/shop/deployments/web"]
    assert server.objects["/apis/apps/v1/namespaces/shop/deployments/web"]["metadata"][
        "generation"] == 2


def test_apply_wait_shows_progress_until_ready(api: tuple[ApiServer, Path]) -> None:
    server, folder = api
    server.ready_after = 3
    code, _, err = kube(folder, "apply", "--kubeconfig", str(folder / "kubeconfig"),
                        "--wait", "--wait-timeout", "60")
    assert code == 0, err
    assert re.search(r"Deployment web +0/2 ready", err), err
    assert re.search(r"Deployment web +Ready", err)
    assert re.search(r"StatefulSet db +Ready", err)
    assert re.search(r"Job migrate +Completed", err)
    gets = [r.path for r in server.requests if r.method == "GET"]
    assert gets.count("/apis/apps/v1/namespaces/shop/deployments/web") >= 3


def test_context_picks_the_cluster(api: tuple[ApiServer, Path], tmp_path: Path) -> None:
    server, folder = api
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    config = folder / "two-contexts"
    config.write_text(server.kubeconfig(server_url(server), extra_context_url=dead))
    code, _, err = kube(folder, "apply", "--kubeconfig", str(config))
    assert code != 0
    assert "cannot reach the API server at " + dead in err and "Traceback" not in err
    code, _, err = kube(folder, "apply", "--kubeconfig", str(config), "--context", "double")
    assert code == 0, err
    code, _, err = kube(folder, "apply", "--kubeconfig", str(config), "--context", "nope")
    assert code != 0 and "cannot use the kubeconfig" in err and "nope" in err


def server_url(server: ApiServer) -> str:
    return f"http://127.0.0.1:{server.httpd.server_address[1]}"


def test_a_conflict_is_refused_unless_forced(api: tuple[ApiServer, Path]) -> None:
    server, folder = api
    server.owned_by["/apis/apps/v1/namespaces/shop/deployments/web"] = "kubectl"
    code, _, err = kube(folder, "apply", "--kubeconfig", str(folder / "kubeconfig"))
    assert code != 0
    assert "Deployment/web: the API server answered 409" in err
    assert "--force-conflicts" in err
    code, _, err = kube(folder, "apply", "--kubeconfig", str(folder / "kubeconfig"),
                        "--force-conflicts")
    assert code == 0, err
    forced = [r for r in server.requests if r.path.endswith("/deployments/web")][-1]
    assert forced.query == {"fieldManager": "pycompose", "force": "true"}


def test_down_deletes_only_what_carries_the_projects_labels(
        api: tuple[ApiServer, Path]) -> None:
    server, folder = api
    cfg = str(folder / "kubeconfig")
    assert kube(folder, "apply", "--kubeconfig", cfg)[0] == 0
    # what others put in the same namespace, with and without similar labels
    other = {"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": {"name": "theirs", "namespace": "shop",
                          "labels": {"app.kubernetes.io/instance": "other",
                                     "app.kubernetes.io/managed-by": "pycompose"}}}
    plain = {"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": {"name": "plain", "namespace": "shop"}}
    server.objects["/api/v1/namespaces/shop/configmaps/theirs"] = other
    server.objects["/api/v1/namespaces/shop/configmaps/plain"] = plain
    code, _, err = kube(folder, "down", "--kubeconfig", cfg)
    assert code == 0, err
    left = set(server.objects)
    assert left == {"/api/v1/namespaces/shop",
                    "/api/v1/namespaces/shop/persistentvolumeclaims/data",
                    "/api/v1/namespaces/shop/configmaps/theirs",
                    "/api/v1/namespaces/shop/configmaps/plain"}
    lists = [r for r in server.requests if r.method == "GET" and "labelSelector" in r.query]
    assert {r.query["labelSelector"] for r in lists} == {
        "app.kubernetes.io/instance=shop,app.kubernetes.io/managed-by=pycompose"}
    assert "Deployment web" in err and "Deleted" in err
    # -v: the claims, and the project's own namespace, go too
    code, _, err = kube(folder, "down", "--kubeconfig", cfg, "-v")
    assert code == 0, err
    assert set(server.objects) == {"/api/v1/namespaces/shop/configmaps/theirs",
                                   "/api/v1/namespaces/shop/configmaps/plain"}


def test_down_keeps_a_namespace_it_did_not_make(api: tuple[ApiServer, Path]) -> None:
    server, folder = api
    cfg = str(folder / "kubeconfig")
    server.objects["/api/v1/namespaces/team"] = {
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}}
    assert kube(folder, "apply", "--kubeconfig", cfg, "--namespace", "team")[0] == 0
    assert not any(r.path == "/api/v1/namespaces/team" and r.method == "PATCH"
                   for r in server.requests)
    assert kube(folder, "down", "--kubeconfig", cfg, "--namespace", "team", "-v")[0] == 0
    assert set(server.objects) == {"/api/v1/namespaces/team"}


def test_push_refuses_a_built_image_no_cluster_can_pull(api: tuple[ApiServer, Path]
                                                         ) -> None:
    server, folder = api
    (folder / "compose.yaml").write_text(STACK.replace(
        "  migrate:\n    image: shop/migrate\n",
        "  migrate:\n    image: shop/migrate\n  local:\n    build: .\n"))
    code, _, err = kube(folder, "apply", "--kubeconfig", str(folder / "kubeconfig"),
                        "--push")
    assert code != 0
    assert "kube apply --push: local build(s) an image with no image: name" in err
    assert not [r for r in server.requests if r.method == "PATCH"]
    # nothing built here: nothing to push, the apply goes on
    code, _, err = kube(folder, "apply", "--kubeconfig", str(folder / "kubeconfig"),
                        "--push", "web")
    assert code == 0, err
