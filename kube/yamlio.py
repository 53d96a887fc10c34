"""Kubernetes YAML in and out: several documents in one stream, ``---`` between them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import KubeError


class _Dumper(yaml.SafeDumper):
    """Block style; long strings stay on one line; multi-line strings as ``|``."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _str)


def dump(doc: dict[str, Any]) -> str:
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                     allow_unicode=True, width=1 << 16)


def dump_all(docs: list[dict[str, Any]]) -> str:
    return "---\n" + "---\n".join(dump(d) for d in docs) if docs else ""


def load_all(text: str, file: str) -> list[dict[str, Any]]:
    """The mappings of a multi-document stream; empty documents are skipped, and a
    ``List`` (as ``kubectl get -o yaml`` writes) is opened into its items."""
    try:
        docs = list(yaml.safe_load_all(text))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark else file
        raise KubeError(f"not valid YAML: {getattr(e, 'problem', None) or e}", file=where)
    out: list[dict[str, Any]] = []
    for i, doc in enumerate(docs):
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise KubeError(f"document {i + 1} is not a mapping (a Kubernetes object has "
                            "apiVersion, kind and metadata)", file=file)
        if doc.get("kind") == "List" and isinstance(doc.get("items"), list):
            out += [d for d in doc["items"] if isinstance(d, dict)]
        else:
            out.append(doc)
    return out


def read(path: str) -> list[dict[str, Any]]:
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise KubeError(f"cannot read it: {e.strerror}", file=path)
    except UnicodeDecodeError:
        raise KubeError("not a text file", file=path)
    return load_all(text, path)
