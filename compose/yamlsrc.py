"""YAML with positions: every mapping and sequence remembers where it came from.

Compose errors must name the file, line and column of the bad value. PyYAML builds
plain dicts and lists, losing positions; here mappings become :class:`MDict` and
sequences :class:`MList`, which are ``dict`` and ``list`` in every other respect
(pydantic and json accept them) and carry:

- ``mark``: where the mapping/sequence itself starts;
- ``key_marks[key]`` / ``item_marks[i]``: where each key (mappings) and each value
  starts, as ``(key_mark, value_mark)`` for mappings and a value mark for sequences.

Tree transformations (interpolation, merging, extends) build new MDict/MList and copy
the marks of the values they keep, so an error found after a merge still points at the
file that said it. :func:`locate` turns a key path (as pydantic reports ``loc``) into the
best mark it can find.

Compose's own YAML tags are kept as wrapper values for the merge step: ``!reset``
(:class:`Reset`) and ``!override`` (:class:`Override`).
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable
from typing import Any, NamedTuple

import yaml

from .errors import ComposeError

try:  # libyaml's parser is ~10x faster; the constructors stay ours
    _BaseLoader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _BaseLoader = yaml.SafeLoader

#: Aliases can make a small file expand into a huge tree ("billion laughs"); compose
#: files are never near this many nodes once expanded.
MAX_EXPANDED_NODES = 2_000_000


class Mark(NamedTuple):
    """A position in a file: 1-based line and column, as editors count."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class MDict(dict[Any, Any]):
    """A mapping that remembers where it and its keys and values were written."""

    __slots__ = ("key_marks", "mark")

    def __init__(self, mark: Mark | None = None) -> None:
        # No positional contents: every MDict is filled with set() (marks and all),
        # and the plain signature keeps the loader's hot path cheap.
        super().__init__()
        self.mark = mark
        self.key_marks: dict[Any, tuple[Mark | None, Mark | None]] = {}

    def value_mark(self, key: Any) -> Mark | None:
        km = self.key_marks.get(key)
        return (km[1] or km[0]) if km else None

    def key_mark(self, key: Any) -> Mark | None:
        km = self.key_marks.get(key)
        return km[0] if km else None

    def set(self, key: Any, value: Any, marks: tuple[Mark | None, Mark | None] | None) -> None:
        """Set ``key`` and its marks together."""
        self[key] = value
        if marks is not None:
            self.key_marks[key] = marks


class MList(list[Any]):
    """A sequence that remembers where it and each of its items were written."""

    __slots__ = ("item_marks", "mark")

    def __init__(self, items: Iterable[Any] = (), *, mark: Mark | None = None,
                 item_marks: list[Mark | None] | None = None) -> None:
        super().__init__(items)
        self.mark = mark
        self.item_marks: list[Mark | None] = (
            item_marks if item_marks is not None else [None] * len(self))

    def item_mark(self, index: int) -> Mark | None:
        if 0 <= index < len(self.item_marks):
            return self.item_marks[index]
        return None

    def add(self, value: Any, mark: Mark | None) -> None:
        self.append(value)
        self.item_marks.append(mark)


class Reset:
    """``!reset``: remove the value inherited from earlier files or the extended service."""

    __slots__ = ("mark",)

    def __init__(self, mark: Mark | None) -> None:
        self.mark = mark

    def __repr__(self) -> str:
        return "!reset"


class Override:
    """``!override VALUE``: replace the inherited value instead of merging with it."""

    __slots__ = ("mark", "value")

    def __init__(self, value: Any, mark: Mark | None) -> None:
        self.value = value
        self.mark = mark

    def __repr__(self) -> str:
        return f"!override {self.value!r}"


def _mark(file: str, m: yaml.Mark | None) -> Mark | None:
    return Mark(file, m.line + 1, m.column + 1) if m is not None else None


class _Loader(_BaseLoader):  # type: ignore[valid-type,misc]
    file_name = "<unknown>"

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> MDict:
        # Duplicate keys written in this mapping are an error (docker compose: "mapping
        # key ... already defined"); keys that come in through a ``<<`` merge may be
        # overridden, which is what merge keys are for.
        seen: dict[Hashable, yaml.Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            if isinstance(key_node, yaml.ScalarNode):
                k = (key_node.tag, key_node.value)
                if k in seen:
                    first = _mark(self.file_name, seen[k].start_mark)
                    raise ComposeError(
                        f"mapping key {key_node.value!r} already defined at line {first.line}"
                        if first else f"mapping key {key_node.value!r} already defined",
                        file=self.file_name, line=key_node.start_mark.line + 1,
                        column=key_node.start_mark.column + 1)
                seen[k] = key_node
        self.flatten_mapping(node)
        result = MDict(mark=_mark(self.file_name, node.start_mark))
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, Hashable) or isinstance(key, (MDict, MList)):
                raise ComposeError("a mapping key must be a plain value",
                                   file=self.file_name, line=key_node.start_mark.line + 1,
                                   column=key_node.start_mark.column + 1)
            value = self.construct_object(value_node, deep=True)
            result.set(key, value, (_mark(self.file_name, key_node.start_mark),
                                    _mark(self.file_name, value_node.start_mark)))
        return result

    def construct_sequence(self, node: yaml.SequenceNode, deep: bool = False) -> MList:
        return MList(
            [self.construct_object(child, deep=True) for child in node.value],
            mark=_mark(self.file_name, node.start_mark),
            item_marks=[_mark(self.file_name, child.start_mark) for child in node.value],
        )


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> MDict:
    return loader.construct_mapping(node)


def _construct_seq(loader: _Loader, node: yaml.SequenceNode) -> MList:
    return loader.construct_sequence(node)


def _construct_reset(loader: _Loader, node: yaml.Node) -> Reset:
    return Reset(_mark(loader.file_name, node.start_mark))


def _construct_override(loader: _Loader, node: yaml.Node) -> Override:
    if isinstance(node, yaml.MappingNode):
        value: Any = loader.construct_mapping(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node)
    else:
        value = loader.yaml_constructors["tag:yaml.org,2002:str"](loader, node)
    return Override(value, _mark(loader.file_name, node.start_mark))


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)
_Loader.add_constructor("!reset", _construct_reset)
_Loader.add_constructor("!override", _construct_override)
# Timestamps stay strings: compose has no timestamp type, and "2024-01-01" in a label
# must stay what was written.
# docker compose reads YAML with go-yaml v3, which has YAML 1.2's scalars: ``yes``,
# ``no``, ``on``, ``off`` are strings (``restart: no``, a service named ``off``, an
# environment value ``yes``), and there are no base-60 numbers: an unquoted port
# ``22:22`` is the string "22:22", not the integer 1342 that YAML 1.1 makes of it.
_YAML12 = {
    "tag:yaml.org,2002:bool": re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    "tag:yaml.org,2002:int": re.compile(
        r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"),
    # go-yaml's floats (its yamlStyleFloat): a dot or an exponent (``1e3``, ``1e+06``,
    # as Go prints them), and no ``_`` (``._`` or ``1_0.5`` are strings there; PyYAML's
    # float constructor, stripping the ``_``, crashed on ``._``)
    "tag:yaml.org,2002:float": re.compile(
        r"^(?:[-+]?[0-9]+\.[0-9]*(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.[0-9]+(?:[eE][-+]?[0-9]+)?|[-+]?[0-9]+[eE][-+]?[0-9]+"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
}
# No YAML 1.1 "=" (value) scalars either: go-yaml reads a plain "=" as the string.
_Loader.yaml_implicit_resolvers = {
    k: [(tag, _YAML12.get(tag, regexp)) for tag, regexp in v
        if tag not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:value")]
    for k, v in _Loader.yaml_implicit_resolvers.copy().items()
}


def load_yaml(text: str | bytes, file: str) -> Any:
    """Parse one YAML document into MDict/MList/scalars with marks.

    An empty document is ``None``. Syntax errors, several documents in one file and
    alias bombs are :class:`ComposeError` with the file, line and column.
    """
    docs = load_yaml_documents(text, file, single=True)
    return docs[0] if docs else None


def load_yaml_documents(text: str | bytes, file: str, *, single: bool = False) -> list[Any]:
    """Every document of a YAML stream (``---`` separated), in order.

    docker compose (compose-go) reads each document of a compose file as if it were
    one more ``-f`` file, merged over the ones before it; the loader does the same
    with this list. Empty documents are left out. With ``single``, a second document
    is an error at its first line.
    """
    loader = _Loader(text)
    loader.file_name = file
    docs: list[Any] = []
    anchors = b"&" in text if isinstance(text, bytes) else "&" in text
    try:
        while loader.check_node():
            if single and docs:
                extra = loader.peek_event()
                raise ComposeError("expected a single YAML document, found more than one",
                                   file=file, line=extra.start_mark.line + 1,
                                   column=extra.start_mark.column + 1)
            node = loader.get_node()
            if node is None:
                continue
            if anchors:
                _check_expansion(node, file)  # only anchors make aliases, and bombs
            doc = loader.construct_document(node)
            if doc is not None or single:
                docs.append(doc)
        return [d for d in docs if d is not None]
    except yaml.MarkedYAMLError as e:
        m = e.problem_mark or e.context_mark
        problem = e.problem or e.context or "invalid YAML"
        raise ComposeError(
            f"invalid YAML: {problem}",
            file=file, line=m.line + 1 if m else None, column=m.column + 1 if m else None)
    except yaml.YAMLError as e:
        raise ComposeError(f"invalid YAML: {e}", file=file)
    except RecursionError:
        raise ComposeError("invalid YAML: nested too deeply", file=file)
    finally:
        loader.dispose()


def _check_expansion(root: yaml.Node, file: str) -> None:
    """Refuse documents whose aliases expand past MAX_EXPANDED_NODES, before building
    them. Sizes are memoised per node, so this is linear in the document."""
    sizes: dict[int, int] = {}

    def size(node: yaml.Node, depth: int = 0) -> int:
        if depth > 500:
            raise ComposeError("invalid YAML: nested too deeply", file=file,
                               line=node.start_mark.line + 1)
        known = sizes.get(id(node))
        if known is not None:
            return known
        sizes[id(node)] = 1  # a recursive alias counts once, and stops the walk
        if isinstance(node, yaml.MappingNode):
            n = 1 + sum(size(k, depth + 1) + size(v, depth + 1) for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            n = 1 + sum(size(c, depth + 1) for c in node.value)
        else:
            n = 1
        sizes[id(node)] = min(n, MAX_EXPANDED_NODES + 1)
        return sizes[id(node)]

    if size(root) > MAX_EXPANDED_NODES:
        raise ComposeError(
            f"the document expands to more than {MAX_EXPANDED_NODES} nodes through "
            "YAML aliases; refusing to load it", file=file)


def locate(tree: Any, path: Iterable[str | int]) -> tuple[Mark | None, bool]:
    """The mark of the deepest node of ``path`` found in ``tree``.

    Returns ``(mark, exact)``: ``exact`` is False when the path left the tree early
    (a missing key: the mark is then the nearest enclosing mapping's).
    """
    node = tree
    best: Mark | None = getattr(tree, "mark", None)
    for step in path:
        if isinstance(node, MDict) and step in node:
            best = node.value_mark(step) or best
            node = node[step]
        elif isinstance(node, MList) and isinstance(step, int) and 0 <= step < len(node):
            best = node.item_mark(step) or best
            node = node[step]
        else:
            return best, False
    return best, True


def key_path(path: Iterable[str | int]) -> str:
    """``("services", "web", "ports", 1)`` -> ``services.web.ports[1]``."""
    out = ""
    for step in path:
        if isinstance(step, int):
            out += f"[{step}]"
        else:
            out += f".{step}" if out else str(step)
    return out


def plain(value: Any) -> Any:
    """A deep copy as plain dicts/lists, without marks or wrappers (for output)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, Override):
        return plain(value.value)
    return value
