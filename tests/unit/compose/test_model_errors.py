"""Every invalid value is one ComposeError naming the file, line, column and key path,
with what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from pycompose.compose.errors import ComposeError
from pycompose.compose.loader import LoadOptions, load
from pycompose.compose.model import validate


def error_of(tmp_path: Path, text: str) -> ComposeError:
    (tmp_path / "compose.yaml").write_text(text)
    with pytest.raises(ComposeError) as info:
        validate(load(LoadOptions(cwd=str(tmp_path), environ={})))
    return info.value


CASES = [
    # (document, line, column, key, message)
    ("services:\n  web:\n    image: a\n    ports:\n      - 80:80\n      - 99999:80\n",
     6, 9, "services.web.ports[1]", "published port 99999 is out of range"),
    ("services:\n  web:\n    image: a\n    restrat: always\n",
     4, 5, "services.web.restrat", "unknown key 'restrat' (did you mean 'restart'?)"),
    ("services:\n  web:\n    image: a\n    privileged: maybe\n",
     4, 17, "services.web.privileged", "expected a boolean (true or false), got 'maybe'"),
    ("services:\n  web:\n    image: a\n    cpu_shares: lots\n",
     4, 17, "services.web.cpu_shares", "expected an integer, got 'lots'"),
    ("services:\n  web:\n    image: a\n    healthcheck:\n      interval: 10 seconds\n",
     5, 17, "services.web.healthcheck.interval", "expected a duration like '30s'"),
    ("services:\n  web:\n    image: [a]\n",
     3, 12, "services.web.image", "expected a string, got a list"),
    ("services:\n  web:\n    image: a\n    depends_on:\n      db: {restart: true}\n",
     5, 11, "services.web.depends_on.db.condition", "missing the required key 'condition'"),
    ("services:\n  web:\n    image: a\n    depends_on:\n      db: {condition: ready}\n",
     5, 23, "services.web.depends_on.db.condition",
     "expected one of 'service_started', 'service_healthy' or "
     "'service_completed_successfully', got 'ready'"),
    ("services:\n  web:\n    image: a\n    volumes:\n      - {type: bind, target: /x}\n",
     5, 9, "services.web.volumes[0]", "a bind mount needs a source"),
    ("services:\n  web:\n    image: a\n    volumes:\n      - {type: floppy, target: /x}\n",
     5, 16, "services.web.volumes[0].type", "expected one of 'bind', 'volume'"),
    ("services:\n  web:\n    image: a\n    ports:\n      - {target: 80, published: 70000}\n",
     5, 33, "services.web.ports[0].published", "published port 70000 is out of range"),
    ("services:\n  web:\n    image: a\n    oom_score_adj: 5000\n",
     4, 20, "services.web.oom_score_adj", "expected a number <= 1000, got 5000"),
    ("services:\n  web:\n    image: a\n    environment: A=1\n",
     4, 18, "services.web.environment", "expected a mapping or a list of KEY=VALUE"),
    ("services:\n  web:\n    image: a\n    mem_limit: huge\n",
     4, 16, "services.web.mem_limit", "expected a size like '512m'"),
    ("services:\n  web:\n    image: a\n    restart: sometimes\n",
     4, 14, "services.web.restart", "invalid restart policy 'sometimes'"),
    ("services:\n  web:\n    image: a\n    build: {context: ., dokerfile: X}\n",
     4, 25, "services.web.build.dokerfile", "unknown key 'dokerfile'"),
    ("services:\n  web:\n    image: a\nnetworks:\n  front:\n    driver_opts: [a]\n",
     6, 18, "networks.front.driver_opts", "expected a mapping, got a list"),
    ("services:\n  web:\n    image: a\nvolumes:\n  data:\n    externel: true\n",
     6, 5, "volumes.data.externel", "unknown key 'externel' (did you mean 'external'?)"),
    ("servics:\n  web:\n    image: a\n",
     1, 1, "servics", "unknown key 'servics' (did you mean 'services'?)"),
    ("services:\n  web:\n    image: a\n    healthcheck: {test: [RUN, x]}\n",
     4, 25, "services.web.healthcheck.test", "must start with CMD, CMD-SHELL or NONE"),
    ("services:\n  bad name:\n    image: a\n",
     2, 3, "services.bad name", "invalid service name 'bad name'"),
    ("services:\n  web:\n    image: a\n    ulimits: {nofile: {soft: 1}}\n",
     4, 23, "services.web.ulimits.nofile.hard", "missing the required key 'hard'"),
    ("services:\n  web:\n    image: a\n    command: \"echo 'x\"\n",
     4, 14, "services.web.command", "cannot split the command"),
    ("services:\n  web:\n    image: a\n    secrets: [{target: /x}]\n",
     4, 15, "services.web.secrets[0].source", "missing the required key 'source'"),
]


@pytest.mark.parametrize(("text", "line", "column", "key", "message"), CASES)
def test_error_names_file_line_key_and_expectation(
        tmp_path: Path, text: str, line: int, column: int, key: str, message: str) -> None:
    e = error_of(tmp_path, text)
    assert (e.file, e.line, e.column, e.key) == ("compose.yaml", line, column, key), str(e)
    assert message in e.detail
    assert str(e).startswith(f"compose.yaml:{line}:{column}: {key}: ")


def test_several_errors_report_the_first_by_position(tmp_path: Path) -> None:
    e = error_of(tmp_path, "services:\n  b:\n    image: a\n    tty: nope\n"
                           "  a:\n    image: a\n    init: nope\n")
    assert e.key == "services.b.tty"
    assert "(and 1 more error)" in e.detail


def test_error_in_an_override_file_points_at_that_file(tmp_path: Path) -> None:
    (tmp_path / "compose.override.yaml").write_text(
        "services:\n  web:\n    ports: ['1:99999']\n")
    e = error_of(tmp_path, "services:\n  web:\n    image: a\n")
    assert e.file == "compose.override.yaml" and e.line == 3
    assert e.key == "services.web.ports[0]"
