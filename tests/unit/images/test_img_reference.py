"""Image names normalise exactly as docker's (distribution/reference)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pycompose.engine.errors import InvalidArgument
from pycompose.engine.images.reference import (
    InvalidReference,
    familiar_name,
    looks_like_id,
    normalize,
    parse,
)


@pytest.mark.parametrize("ref, full", [
    ("ubuntu:20.04", "docker.io/library/ubuntu:20.04"),
    ("busybox", "docker.io/library/busybox:latest"),
    ("me/app", "docker.io/me/app:latest"),
    ("index.docker.io/library/redis:7", "docker.io/library/redis:7"),
    ("docker.io/redis", "docker.io/library/redis:latest"),
    ("localhost/app:1", "localhost/app:1"),
    ("localhost:5000/a/b/c:v2", "localhost:5000/a/b/c:v2"),
    ("quay.io/org/img", "quay.io/org/img:latest"),
    ("[::1]:5000/x:y", "[::1]:5000/x:y"),
    ("a_b.c-d__e:Tag_1.0-x", "docker.io/library/a_b.c-d__e:Tag_1.0-x"),
])
def test_normalises_like_docker(ref: str, full: str) -> None:
    assert normalize(ref) == full


def test_digest_reference_keeps_no_default_tag() -> None:
    d = "sha256:" + "a" * 64
    r = parse(f"busybox@{d}")
    assert (r.name, r.tag, r.digest) == ("docker.io/library/busybox", None, d)
    assert str(parse(f"busybox:1@{d}")) == f"docker.io/library/busybox:1@{d}"


@pytest.mark.parametrize("bad, words", [
    ("", "invalid reference format"),
    ("UPPER", "must be lowercase"),
    ("a" * 64, "64-byte hexadecimal"),
    ("a:b:c", "invalid reference format"),
    ("app:", "bad tag"),
    ("app:-x", "bad tag"),
    ("app@sha256:xyz", "bad digest"),
    ("-app", "invalid reference format"),
    ("app/", "invalid reference format"),
    (" app", "invalid reference format"),
])
def test_bad_references_are_named_in_the_error(bad: str, words: str) -> None:
    with pytest.raises(InvalidReference) as e:
        parse(bad)
    assert words in str(e.value)
    assert isinstance(e.value, InvalidArgument)


@pytest.mark.parametrize("name, short", [
    ("docker.io/library/busybox", "busybox"),
    ("docker.io/me/app", "me/app"),
    ("docker.io/library/a/b", "library/a/b"),
    ("quay.io/x/y", "quay.io/x/y"),
])
def test_familiar_names(name: str, short: str) -> None:
    assert familiar_name(name) == short


def test_ids_and_prefixes() -> None:
    assert looks_like_id("sha256:" + "0" * 64)
    assert looks_like_id("abcd")
    assert not looks_like_id("abc")
    assert not looks_like_id("busybox")


# no dots: a first component with a dot is a registry domain (tested above)
_component = st.from_regex(r"[a-z0-9]{1,8}(?:[_-][a-z0-9]{1,8}){0,2}", fullmatch=True)


@given(path=st.lists(_component, min_size=1, max_size=3),
       tag=st.one_of(st.none(), st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}",
                                              fullmatch=True)))
def test_normalising_is_idempotent_and_familiar_round_trips(path: list[str],
                                                             tag: str | None) -> None:
    ref = "/".join(path) + (f":{tag}" if tag else "")
    full = normalize(ref)
    assert normalize(full) == full
    assert normalize(parse(full).familiar()) == full
