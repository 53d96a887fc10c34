"""docker's config.json and pycompose's engine config, read and written as docker does;
platforms and their choice from an index; the thin client's quick image lookup."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pycompose.engine.errors import InvalidArgument, NotFound
from pycompose.engine.imagelookup import maybe_present, quick_normalize
from pycompose.engine.images import reference
from pycompose.engine.registry import config as C
from pycompose.engine.registry.pull import choose_manifest
from pycompose.engine.registry.types import Platform


def test_server_names_normalise_as_dockers() -> None:
    for hub in ("", "docker.io", "index.docker.io", "https://index.docker.io/v1/",
                "registry-1.docker.io"):
        assert C.config_key(hub) == "https://index.docker.io/v1/"
    assert C.config_key("https://reg.example:5000/v2/") == "reg.example:5000"
    assert C.hostname("http://127.0.0.1:5000") == "127.0.0.1:5000"


def test_store_get_erase_in_config_json(tmp_path: Path) -> None:
    path = tmp_path / "d" / "config.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"auths": {"https://reg.example:5000": {"auth": "eDp5"}},
                                "psFormat": "table {{.ID}}"}))
    cfg = C.load_docker_config(path)
    assert cfg.get("reg.example:5000") == C.Credentials("x", "y")  # a spelling with scheme
    old = os.umask(0)
    try:
        cfg.store("reg.example:5000", C.Credentials("alice", "p:w"))
    finally:
        os.umask(old)
    doc = json.loads(path.read_text())
    assert doc["psFormat"] == "table {{.ID}}"  # the rest is kept as it was
    assert doc["auths"] == {"reg.example:5000": {
        "auth": base64.b64encode(b"alice:p:w").decode()}}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert C.load_docker_config(path).get("reg.example:5000").password == "p:w"
    cfg.store("", C.Credentials("bob", identity_token="rt"))
    hub = json.loads(path.read_text())["auths"]["https://index.docker.io/v1/"]
    assert hub["identitytoken"] == "rt"
    assert C.load_docker_config(path).get("docker.io") == C.Credentials("bob", "", "rt")
    assert cfg.erase("reg.example:5000") and not cfg.erase("reg.example:5000")
    assert C.load_docker_config(tmp_path / "none.json").get("x.io").empty


def test_bad_config_files_name_the_file_and_key(tmp_path: Path) -> None:
    p = tmp_path / "c.json"
    p.write_text("{not json")
    with pytest.raises(InvalidArgument, match=str(p)):
        C.load_docker_config(p)
    p.write_text(json.dumps({"registry-mirrors": ["mirror.example"]}))
    with pytest.raises(InvalidArgument, match="registry-mirrors: 'mirror.example' must be a"):
        C.load_engine_config(p)
    p.write_text(json.dumps({"max-concurrent-downloads": 0}))
    with pytest.raises(InvalidArgument, match="'max-concurrent-downloads' must be a positive"):
        C.load_engine_config(p)
    p.write_text(json.dumps({"registry-mirrors": ["http://127.0.0.1:5000"],
                             "insecure-registries": ["10.1.0.0/16", "reg.lan:5000"]}))
    cfg = C.load_engine_config(p)
    assert cfg.registry_mirrors == ("http://127.0.0.1:5000",)
    assert cfg.is_insecure("10.1.2.3:5000") and cfg.is_insecure("reg.lan:5000")
    assert cfg.is_insecure("localhost:5000") and cfg.is_insecure("[::1]:5000")
    assert not cfg.is_insecure("10.2.0.1") and not cfg.is_insecure("reg.lan")
    assert C.load_engine_config(tmp_path / "absent.json").max_concurrent_downloads == 3


def test_a_missing_credential_helper_is_named(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    cfg = C.DockerConfig(tmp_path / "config.json", {"credsStore": "nowhere"})
    with pytest.raises(Exception, match="docker-credential-nowhere is not on PATH"):
        cfg.get("reg.example")


@pytest.mark.parametrize(("text", "want"), [
    ("linux/amd64", Platform("linux", "amd64")),
    ("arm64", Platform("linux", "arm64")),
    ("linux/arm64/v8", Platform("linux", "arm64")),
    ("linux/aarch64", Platform("linux", "arm64")),
    ("linux/arm", Platform("linux", "arm", "v7")),
    ("Linux/ARM/v6", Platform("linux", "arm", "v6")),
])
def test_platforms_parse_normalised(text: str, want: Platform) -> None:
    assert Platform.parse(text) == want


@pytest.mark.parametrize("bad", ["", "linux//amd64", "a/b/c/d", "/"])
def test_bad_platforms_are_refused(bad: str) -> None:
    with pytest.raises(InvalidArgument, match="invalid platform"):
        Platform.parse(bad)


def _entry(arch: str, variant: str = "", os_: str = "linux", **extra: object) -> dict[str, object]:
    p = {"os": os_, "architecture": arch} | ({"variant": variant} if variant else {})
    return {"mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": f"sha256:{arch}{variant}", "platform": p, **extra}


def test_choose_manifest_from_an_index() -> None:
    index = {"manifests": [
        _entry("arm", "v6"), _entry("arm", "v7"), _entry("arm64", "v8"), _entry("amd64", "v3"),
        _entry("amd64"),
        _entry("unknown", os_="unknown",
               annotations={"vnd.docker.reference.type": "attestation-manifest"})]}
    assert choose_manifest(index, Platform("linux", "amd64"), "x")["digest"] == "sha256:amd64"
    assert choose_manifest(index, Platform.parse("linux/arm64"), "x")["digest"] == \
        "sha256:arm64v8"
    assert choose_manifest(index, Platform.parse("linux/arm/v6"), "x")["digest"] == \
        "sha256:armv6"
    with pytest.raises(NotFound, match=r"no matching manifest for linux/s390x in the manifest "
                                       r"list entries \(it has: linux/amd64, linux/amd64/v3, "
                                       r"linux/arm/v6, linux/arm/v7, linux/arm64;"):
        choose_manifest(index, Platform.parse("linux/s390x"), "x")


_names = st.from_regex(r"\A(?:[a-z0-9]{1,8}(?:\.[a-z]{2,3})?(?::[0-9]{2,4})?/)?[a-z0-9]{1,8}"
                       r"(?:/[a-z0-9]{1,8})?(?::[a-z0-9][a-z0-9._-]{0,8})?\Z")


@given(_names)
def test_quick_normalize_agrees_with_the_reference_parser(ref: str) -> None:
    try:
        full = reference.normalize(ref)
    except reference.InvalidReference:
        return
    assert quick_normalize(ref) == full


def test_maybe_present_reads_the_index_only(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "index.json").write_text(json.dumps({"manifests": [
        {"digest": "sha256:" + "a" * 64, "annotations": {
            "io.containerd.image.name": "docker.io/library/busybox:latest",
            "io.pycompose.image.id": "sha256:" + "b" * 64}}]}))
    assert maybe_present("busybox", tmp_path)
    assert maybe_present("docker.io/library/busybox:latest", tmp_path)
    assert maybe_present("bbbbbb", tmp_path)
    assert maybe_present("busybox@sha256:" + "a" * 64, tmp_path)
    assert not maybe_present("busybox:1", tmp_path)
    assert not maybe_present("other", tmp_path)
    assert not maybe_present("busybox", tmp_path / "nothing")
