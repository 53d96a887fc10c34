"""``--change`` instructions as docker import/commit apply them."""

from __future__ import annotations

import pytest

from pycompose.engine.images.changes import BadChange, apply_changes


def test_exec_and_shell_forms() -> None:
    cfg = apply_changes({}, ['CMD ["sh", "-c", "echo hi"]', "ENTRYPOINT /bin/run --x"])
    assert cfg["Cmd"] == ["sh", "-c", "echo hi"]
    assert cfg["Entrypoint"] == ["/bin/sh", "-c", "/bin/run --x"]


def test_env_forms_and_override() -> None:
    cfg = apply_changes({"Env": ["A=1", "PATH=/bin"]},
                        ['ENV A=2 B="two words"', "ENV LEGACY some value"])
    assert cfg["Env"] == ["PATH=/bin", "A=2", "B=two words", "LEGACY=some value"]


def test_workdir_user_expose_label_volume_stopsignal() -> None:
    cfg = apply_changes({}, ["WORKDIR /srv", "WORKDIR app", "USER app:app",
                             "EXPOSE 80 53/udp 8000-8001", "LABEL a=b c=d",
                             'VOLUME ["/data"]', "VOLUME /logs /tmp/x", "STOPSIGNAL SIGINT"])
    assert cfg["WorkingDir"] == "/srv/app"
    assert cfg["User"] == "app:app"
    assert set(cfg["ExposedPorts"]) == {"80/tcp", "53/udp", "8000/tcp", "8001/tcp"}
    assert cfg["Labels"] == {"a": "b", "c": "d"}
    assert set(cfg["Volumes"]) == {"/data", "/logs", "/tmp/x"}
    assert cfg["StopSignal"] == "SIGINT"


def test_the_base_config_is_not_changed() -> None:
    base = {"Env": ["A=1"]}
    apply_changes(base, ["ENV A=2"])
    assert base == {"Env": ["A=1"]}


@pytest.mark.parametrize("bad, words", [
    ("RUN apt-get update", "not a supported --change instruction"),
    ("CMD", "needs a value"),
    ("EXPOSE http", "invalid port"),
    ("ENV =x", "expected KEY=VALUE"),
])
def test_bad_changes(bad: str, words: str) -> None:
    with pytest.raises(BadChange) as e:
        apply_changes({}, [bad])
    assert words in str(e.value)
