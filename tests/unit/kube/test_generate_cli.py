"""``pycompose kube generate`` through the real CLI: YAML on standard output (several
documents, the namespace first), or one file per object with ``-o DIR``; warnings on
standard error."""

from __future__ import annotations

from pathlib import Path

import yaml
from pctest.cli import run

STACK = """
name: shop
services:
  web: {image: nginx, ports: ["8080:80"], privileged: true}
  db: {image: postgres, volumes: [data:/var/lib/postgresql/data]}
volumes: {data: {}}
"""


def test_generate_to_stdout(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(STACK)
    r = run(["kube", "generate", "web"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    docs = list(yaml.safe_load_all(r.stdout))
    assert [(d["kind"], d["metadata"]["name"]) for d in docs] == [
        ("Namespace", "shop"), ("NetworkPolicy", "network-default"), ("Service", "web"),
        ("Deployment", "web")]
    assert "WARN: services.web.privileged: not translated" in r.stderr


def test_generate_to_a_folder(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(STACK)
    r = run(["kube", "generate", "-o", "k8s", "--namespace", "team"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    files = sorted(p.name for p in (tmp_path / "k8s").iterdir())
    assert files == ["data-persistentvolumeclaim.yaml", "db-statefulset.yaml",
                     "network-default-networkpolicy.yaml", "web-deployment.yaml",
                     "web-service.yaml"]
    doc = yaml.safe_load((tmp_path / "k8s" / "db-statefulset.yaml").read_text())
    assert doc["metadata"]["namespace"] == "team"


def test_errors_are_one_line(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(STACK)
    r = run(["kube", "generate", "nope"], cwd=tmp_path)
    assert r.returncode != 0
    assert r.stderr.strip() == "error: no such service: nope"
