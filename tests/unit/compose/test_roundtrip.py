"""``config``'s output is a compose file that means the same project: loaded again
it prints the same ``config``, for every corpus project (YAML and JSON output) and
for generated projects whose values hold ``$``, braces, quotes and odd characters."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_corpus import CASES, CORPUS, load_case

from pycompose.compose import render
from pycompose.compose.loader import LoadOptions, load
from pycompose.compose.model import Project, validate

LOADABLE = [c for c in CASES if not (CORPUS / c / "error.txt").exists()]


def printed(project: Project, fmt: str) -> str:
    """``pycompose config [--format json]``'s text for ``project``."""
    if fmt == "json":
        text = render.to_json(render.project_json_dict(project))
    else:
        text = render.to_yaml(render.project_dict(project))
    return render.escape_dollars(text)


def reload(text: str, name: str, profiles: set[str] | None = None) -> Project:
    """``text`` loaded as a compose file, with the options the first load had (the
    project name and the active profiles)."""
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "compose.yaml").write_text(text)
        return validate(load(LoadOptions(cwd=folder, environ={}, project_name=name,
                                         profiles=sorted(profiles or ()))))


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(case=st.sampled_from(LOADABLE), fmt=st.sampled_from(["yaml", "json"]))
def test_config_of_a_corpus_project_loads_back_the_same(case: str, fmt: str) -> None:
    project = load_case(CORPUS / case)
    first = printed(project, fmt)
    again = reload(first, project.name, project.profiles)
    assert printed(again, fmt) == first


def test_every_corpus_project_round_trips() -> None:
    """The same, exhaustively, so that no case is left to chance."""
    for case in LOADABLE:
        project = load_case(CORPUS / case)
        for fmt in ("yaml", "json"):
            first = printed(project, fmt)
            assert printed(reload(first, project.name, project.profiles), fmt) == first, \
                (case, fmt)


# --- generated projects -----------------------------------------------------------------

# the BMP: the source is written as ASCII JSON, and YAML readers take no surrogate
# pairs in escapes
_chars = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00",
                       max_codepoint=0xFFFF)
values = st.one_of(
    st.text(_chars, max_size=20),
    st.sampled_from(["$HOME", "${X}", "$${Y}", "a$", "{\"j\": [1]}", "${A:-{b}}", "yes",
                     "null", "~", "0777", "1e3", "- item", "# not a comment", "key: value",
                     "'quoted'", '"double"', "back\\slash", "tab\there", "line\nbreak",
                     " lead", "trail ", "@at", "%pct", "&amp", "*star", "!bang", "|pipe"]),
)
names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)


def _escape(value: str) -> str:
    return value.replace("$", "$$")


@settings(max_examples=200, deadline=None)
@given(env=st.dictionaries(names, values, max_size=5),
       labels=st.dictionaries(st.from_regex(r"[a-z][a-z0-9.]{0,10}", fullmatch=True),
                              values, max_size=4),
       command=st.lists(values, max_size=4),
       fmt=st.sampled_from(["yaml", "json"]))
def test_generated_values_round_trip(env: dict[str, str], labels: dict[str, str],
                                     command: list[str], fmt: str) -> None:
    service: dict[str, Any] = {"image": "busybox",
                               "environment": {k: _escape(v) for k, v in env.items()},
                               "labels": {k: _escape(v) for k, v in labels.items()}}
    if command:
        service["command"] = [_escape(c) for c in command]
    source = json.dumps({"name": "gen", "services": {"svc": service}})
    project = reload(source, "gen")
    svc = project.services["svc"]
    # what was written is what was loaded...
    assert (svc.environment or {}) == env
    assert (svc.labels or {}) == labels
    assert (svc.command or []) == command
    # ...and what config prints loads back to the same
    first = printed(project, fmt)
    assert printed(reload(first, "gen"), fmt) == first
