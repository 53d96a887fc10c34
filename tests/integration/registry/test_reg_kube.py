"""``kube apply --push``: the images of the services built here go to their registry
(a real docker-registry on loopback) before the objects go to the cluster (the API
server double of pctest/apiserver.py: no Kubernetes API server runs here), and the
cluster is told to pull exactly what was pushed."""

from __future__ import annotations

from pathlib import Path

from pctest.apiserver import ApiServer
from pctest.cli import run
from pctest.registry import RegistryServer, ok


def test_apply_push_pushes_built_images_first(busybox: Path, registry: RegistryServer,
                                              tmp_path: Path) -> None:
    ref = f"{registry.host}/shop/app:1"
    ok(["image", "tag", "busybox", ref])  # what `pycompose build` would have made
    cache = f"{registry.host}/shop/cache:1"  # on the same registry, and not built here
    ok(["image", "tag", "busybox", cache])
    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / "Dockerfile").write_text("FROM busybox\n")
    (folder / "compose.yaml").write_text(f"""
name: shop
services:
  app: {{build: ., image: "{ref}"}}
  cache: {{image: "{cache}"}}
""")
    api = ApiServer()
    url = api.start()
    try:
        (folder / "kubeconfig").write_text(api.kubeconfig(url))
        r = run(["kube", "apply", "--push", "--kubeconfig", str(folder / "kubeconfig")],
                cwd=folder, timeout=120)
        assert r.returncode == 0, r.stderr
        assert f"Image {ref}" in r.stderr and "Pushed" in r.stderr
        assert registry.requests("PUT", "/v2/shop/app/manifests/1")
        assert not registry.requests("PUT", "/v2/shop/cache/")  # not built here
        deployment = api.objects["/apis/apps/v1/namespaces/shop/deployments/app"]
        assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == ref
        pushed_before_applied = r.stderr.index("Pushed") < r.stderr.index("Applied")
        assert pushed_before_applied
    finally:
        api.stop()
