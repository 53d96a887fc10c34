"""The Dockerfile parser: text to typed instructions grouped in stages.

``parse(text, name)`` returns a :class:`Dockerfile`: the ``ARG`` instructions before the
first ``FROM`` (the meta args, visible to ``FROM`` lines only) and the stages, each a
``FROM`` with its instructions. Every instruction of the Dockerfile reference is here,
with its flags checked: a syntax error, an unknown instruction or an unknown flag is an
:class:`~pycompose.engine.errors.InvalidArgument` naming ``Dockerfile:LINE``.

Arguments keep their quotes and ``$variables``: they are expanded when the builder
dispatches the instruction (it knows the build args and the stage's environment then),
with :meth:`Dockerfile.expand` so that expansion errors name the line too.

Pure: no I/O. The lexical part (continuations, directives, heredocs) is :mod:`.syntax`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from pycompose.util.records import field, record

from ..errors import InvalidArgument
from .mounts import RunMount, parse_mount
from .syntax import KNOWN, Directives, Heredoc, Node, SyntaxProblem, heredoc_marker, split_nodes
from .words import Lexer, WordError

__all__ = [
    "Add", "Arg", "Cmd", "Copy", "Dockerfile", "Entrypoint", "Env", "Expose", "From",
    "Healthcheck", "Heredoc", "Instruction", "Label", "Maintainer", "Onbuild", "Run",
    "RunMount", "Shell", "Stage", "StopSignal", "User", "Volume", "Workdir", "parse",
    "parse_duration", "parse_mount",
]

_STAGE_NAME = re.compile(r"^[a-z][a-z0-9_.-]*$")


@record
class Instruction:
    """What every instruction has: its keyword, where it is, and its text."""

    keyword: str
    line: int
    end_line: int
    original: str

    @property
    def text(self) -> str:
        """The instruction as written (one line, continuations joined)."""
        return " ".join(self.original.split())


@record
class From(Instruction):
    base: str = ""
    name: str = ""  # "" when the stage has no AS name
    platform: str = ""


@record
class Run(Instruction):
    cmd: list[str] = field(default_factory=list)
    shell_form: bool = True  # ``RUN cmd`` (through SHELL) rather than ``RUN ["argv"]``
    heredocs: list[Heredoc] = field(default_factory=list)
    mounts: list[str] = field(default_factory=list)  # raw --mount values
    network: str = ""
    security: str = ""


@record
class Copy(Instruction):
    sources: list[str] = field(default_factory=list)
    contents: list[Heredoc] = field(default_factory=list)  # COPY <<EOF /dest
    dest: str = ""
    from_: str = ""
    chown: str = ""
    chmod: str = ""
    link: bool = False
    parents: bool = False
    exclude: list[str] = field(default_factory=list)


@record
class Add(Copy):
    checksum: str = ""
    keep_git_dir: bool = False
    unpack: bool | None = None


@record
class Env(Instruction):
    pairs: list[tuple[str, str]] = field(default_factory=list)


@record
class Label(Instruction):
    pairs: list[tuple[str, str]] = field(default_factory=list)


@record
class Arg(Instruction):
    pairs: list[tuple[str, str | None]] = field(default_factory=list)


@record
class Workdir(Instruction):
    path: str = ""


@record
class User(Instruction):
    user: str = ""


@record
class Expose(Instruction):
    ports: list[str] = field(default_factory=list)


@record
class Cmd(Instruction):
    cmd: list[str] = field(default_factory=list)
    shell_form: bool = True


@record
class Entrypoint(Cmd):
    pass


@record
class Volume(Instruction):
    paths: list[str] = field(default_factory=list)


@record
class Healthcheck(Instruction):
    """``test`` is docker's: ``["NONE"]``, ``["CMD", ...]`` or ``["CMD-SHELL", "cmd"]``;
    durations in nanoseconds (0 = the default)."""

    test: list[str] = field(default_factory=list)
    interval: int = 0
    timeout: int = 0
    start_period: int = 0
    start_interval: int = 0
    retries: int = 0


@record
class Shell(Instruction):
    argv: list[str] = field(default_factory=list)


@record
class StopSignal(Instruction):
    signal: str = ""


@record
class Maintainer(Instruction):
    name: str = ""


@record
class Onbuild(Instruction):
    expression: str = ""  # the trigger instruction, as text (run when used as a base)


@record
class Stage:
    """One ``FROM`` and its instructions. ``index`` counts from 0 in file order."""

    index: int
    start: From
    instructions: list[Instruction] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.start.name

    def label(self) -> str:
        return self.name or f"stage-{self.index}"


@record
class Dockerfile:
    name: str  # how errors name the file ("Dockerfile", "app/Dockerfile.dev")
    stages: list[Stage]
    meta_args: list[Arg]
    directives: Directives
    warnings: list[str] = field(default_factory=list)

    @property
    def escape(self) -> str:
        return self.directives.escape

    def error(self, line: int, message: str) -> InvalidArgument:
        return InvalidArgument(f"{self.name}:{line}: {message}")

    def stage(self, ref: str) -> Stage | None:
        """The stage named ``ref`` (case-insensitive) or numbered ``ref``."""
        low = ref.lower()
        for s in self.stages:
            if s.name and s.name == low:
                return s
        if ref.isdigit() and int(ref) < len(self.stages):
            return self.stages[int(ref)]
        return None

    def expand(self, word: str, env: Mapping[str, str], line: int, *,
               raw: bool = False) -> str:
        """``word`` with its variables expanded against ``env`` (``raw``: quotes kept,
        as for heredoc contents)."""
        lex = Lexer(self.escape if not raw else "\\", skip_quotes=raw)
        try:
            return lex.word(word, env)
        except WordError as e:
            raise self.error(line, str(e)) from None

    def expand_used(self, word: str, env: Mapping[str, str], line: int) -> tuple[str, set[str]]:
        """Like :meth:`expand`, with the names of the variables it used."""
        lex = Lexer(self.escape)
        try:
            out = lex.word(word, env)
        except WordError as e:
            raise self.error(line, str(e)) from None
        return out, lex.used


# -- durations (HEALTHCHECK) ------------------------------------------------------------
def parse_duration(text: str) -> int:
    """Go's time.ParseDuration (``1m30s``, ``1.5h``, ``300ms``) in nanoseconds."""
    from pycompose.util.units import parse_duration_ns

    return parse_duration_ns(text)


# -- flags --------------------------------------------------------------------------------
class _Flags:
    """The ``--name[=value]`` flags of one instruction, checked against what it allows."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.values: dict[str, list[str]] = {}
        for f in node.flags:
            name, eq, value = f[2:].partition("=")
            self.values.setdefault(name.lower(), []).append(value if eq else "\0bool")
        self.allowed: set[str] = set()

    def string(self, name: str) -> str:
        self.allowed.add(name)
        vals = self.values.get(name)
        if not vals:
            return ""
        if len(vals) > 1:
            raise ValueError(f"Duplicate flag specified: {name}")
        if vals[0] == "\0bool":
            raise ValueError(f"Missing a value on flag: {name}")
        return vals[0]

    def strings(self, name: str) -> list[str]:
        self.allowed.add(name)
        out = []
        for v in self.values.get(name, []):
            if v == "\0bool":
                raise ValueError(f"Missing a value on flag: {name}")
            out.append(v)
        return out

    def boolean(self, name: str) -> bool | None:
        self.allowed.add(name)
        vals = self.values.get(name)
        if not vals:
            return None
        if len(vals) > 1:
            raise ValueError(f"Duplicate flag specified: {name}")
        v = vals[0]
        if v == "\0bool" or v.lower() == "true":
            return True
        if v.lower() == "false":
            return False
        raise ValueError(f'expecting boolean value for flag {name}, not: {v}')

    def check(self) -> None:
        for name in self.values:
            if name not in self.allowed:
                raise ValueError(f"Unknown flag: {name}")


# -- instructions ---------------------------------------------------------------------------
def _pairs(args: list[str], keyword: str) -> list[tuple[str, str]]:
    if not args:
        raise ValueError(f"{keyword} requires at least one argument")
    out = []
    for i in range(0, len(args), 3):
        key, value = args[i], args[i + 1]
        if not key:
            raise ValueError(f"{keyword} names can not be blank")
        out.append((key, value))
    return out


def _command(node: Node, keyword: str, empty_ok: bool = True) -> tuple[list[str], bool]:
    if not node.args and not empty_ok:
        raise ValueError(f"{keyword} requires at least one argument")
    return list(node.args), not node.json


def _copy_args(node: Node, cls: type[Copy], flags: _Flags) -> Copy:
    keyword = node.keyword
    if len(node.args) < 2:
        raise ValueError(f"{keyword} requires at least two arguments, but only one was "
                         "provided. Destination could not be determined")
    *srcs, dest = node.args
    if heredoc_marker(dest) is not None:
        raise ValueError(f"{keyword} cannot accept a heredoc as a destination")
    docs = {h.name: h for h in node.heredocs}
    sources, contents = [], []
    for s in srcs:
        marker = heredoc_marker(s) if node.heredocs else None
        if marker is not None and marker.name in docs:
            contents.append(docs[marker.name])
        else:
            sources.append(s)
    common = dict(keyword=keyword, line=node.line, end_line=node.end_line,
                  original=node.original, sources=sources, contents=contents, dest=dest,
                  chown=flags.string("chown"), chmod=flags.string("chmod"),
                  link=bool(flags.boolean("link")), exclude=flags.strings("exclude"))
    if cls is Add:
        unpack = flags.boolean("unpack")
        out: Copy = Add(**common, checksum=flags.string("checksum"),  # type: ignore[arg-type]
                        keep_git_dir=bool(flags.boolean("keep-git-dir")), unpack=unpack)
    else:
        out = Copy(**common, from_=flags.string("from"),  # type: ignore[arg-type]
                   parents=bool(flags.boolean("parents")))
    return out


def _healthcheck(node: Node, flags: _Flags) -> Healthcheck:
    base = dict(keyword="HEALTHCHECK", line=node.line, end_line=node.end_line,
                original=node.original)
    if not node.args:
        raise ValueError("HEALTHCHECK requires at least one argument")
    typ = node.args[0].upper()
    rest = node.args[1:]
    if typ == "NONE":
        if rest:
            raise ValueError("HEALTHCHECK NONE takes no arguments")
        flags.check()
        return Healthcheck(**base, test=["NONE"])  # type: ignore[arg-type]
    if typ != "CMD":
        raise ValueError(f"Unknown type {node.args[0]!r} in HEALTHCHECK (try CMD)")
    times = {}
    for name in ("interval", "timeout", "start-period", "start-interval"):
        value = flags.string(name)
        ns = parse_duration(value) if value else 0
        if ns and ns < 1_000_000:
            raise ValueError(f"Interval {name!r} cannot be less than 1ms")
        times[name.replace("-", "_")] = ns
    retries_text = flags.string("retries")
    retries = 0
    if retries_text:
        if not re.fullmatch(r"-?\d+", retries_text):
            raise ValueError(f"--retries: invalid number {retries_text!r}")
        retries = int(retries_text)
        if retries < 0:
            raise ValueError(f"--retries cannot be negative ({retries})")
    flags.check()
    if not rest:
        raise ValueError("Missing command after HEALTHCHECK CMD")
    test = ["CMD", *rest] if node.json else ["CMD-SHELL", *rest]
    return Healthcheck(**base, test=test, retries=retries, **times)  # type: ignore[arg-type]


def _instruction(node: Node) -> Instruction:
    """A typed instruction from a node; ValueError on bad input (the caller adds the
    line)."""
    kw = node.keyword
    flags = _Flags(node)
    base = dict(keyword=kw, line=node.line, end_line=node.end_line, original=node.original)
    out: Instruction
    if kw == "FROM":
        platform = flags.string("platform")
        flags.check()
        args = node.args
        if len(args) == 3 and args[1].lower() == "as":
            name = args[2].lower()
            if not _STAGE_NAME.match(name):
                raise ValueError(f"invalid name for build stage: {args[2]!r}, name can't "
                                 "start with a number or contain symbols")
        elif len(args) == 1:
            name = ""
        else:
            raise ValueError("FROM requires either one or three arguments")
        return From(**base, base=args[0], name=name, platform=platform)  # type: ignore[arg-type]
    if kw == "RUN":
        mounts = flags.strings("mount")
        network = flags.string("network")
        security = flags.string("security")
        flags.check()
        cmd, shell = _command(node, kw)
        if node.heredocs and (len(cmd) != 1 or not shell):
            raise ValueError("a heredoc needs RUN's shell form")
        for m in mounts:
            parse_mount(m)  # checked now; expanded and parsed again at dispatch
        if network and network not in ("default", "none", "host") and "$" not in network:
            raise ValueError(f"unsupported network mode {network!r}: use default, none "
                             "or host")
        if security and security not in ("sandbox", "insecure"):
            raise ValueError(f"unsupported security mode {security!r}")
        return Run(**base, cmd=cmd, shell_form=shell,  # type: ignore[arg-type]
                   heredocs=list(node.heredocs), mounts=mounts, network=network,
                   security=security)
    if kw in ("COPY", "ADD"):
        out = _copy_args(node, Add if kw == "ADD" else Copy, flags)
        flags.check()
        return out
    if kw in ("CMD", "ENTRYPOINT"):
        flags.check()
        cmd, shell = _command(node, kw)
        cls = Cmd if kw == "CMD" else Entrypoint
        return cls(**base, cmd=cmd, shell_form=shell)  # type: ignore[arg-type]
    if kw == "HEALTHCHECK":
        return _healthcheck(node, flags)
    flags.check()
    if kw == "ENV":
        return Env(**base, pairs=_pairs(node.args, "ENV"))  # type: ignore[arg-type]
    if kw == "LABEL":
        return Label(**base, pairs=_pairs(node.args, "LABEL"))  # type: ignore[arg-type]
    if kw == "ARG":
        if not node.args:
            raise ValueError("ARG requires at least one argument")
        pairs: list[tuple[str, str | None]] = []
        for a in node.args:
            if "=" in a:
                k, _, v = a.partition("=")
                if not k:
                    raise ValueError("ARG names can not be blank")
                pairs.append((k, v))
            else:
                pairs.append((a, None))
        return Arg(**base, pairs=pairs)  # type: ignore[arg-type]
    if kw in ("WORKDIR", "USER", "STOPSIGNAL", "MAINTAINER"):
        if len(node.args) != 1:
            raise ValueError(f"{kw} requires exactly one argument")
        value = node.args[0]
        if kw == "WORKDIR":
            return Workdir(**base, path=value)  # type: ignore[arg-type]
        if kw == "USER":
            return User(**base, user=value)  # type: ignore[arg-type]
        if kw == "STOPSIGNAL":
            return StopSignal(**base, signal=value)  # type: ignore[arg-type]
        return Maintainer(**base, name=value)  # type: ignore[arg-type]
    if kw == "EXPOSE":
        if not node.args:
            raise ValueError("EXPOSE requires at least one argument")
        return Expose(**base, ports=sorted(node.args))  # type: ignore[arg-type]
    if kw == "VOLUME":
        if not node.args:
            raise ValueError("VOLUME requires at least one argument")
        paths = [v.strip() for v in node.args]
        if any(not p for p in paths):
            raise ValueError("VOLUME specified can not be an empty string")
        return Volume(**base, paths=paths)  # type: ignore[arg-type]
    if kw == "SHELL":
        if not node.args:
            raise ValueError("SHELL requires at least one argument")
        if not node.json:
            raise ValueError("SHELL requires the arguments to be in JSON form")
        return Shell(**base, argv=list(node.args))  # type: ignore[arg-type]
    if kw == "ONBUILD":
        sub = node.sub
        if sub is None:
            raise ValueError("ONBUILD requires at least one argument")
        if sub.keyword not in KNOWN:
            raise ValueError(_unknown(sub.keyword))
        if sub.keyword == "ONBUILD":
            raise ValueError("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
        if sub.keyword in ("FROM", "MAINTAINER"):
            raise ValueError(f"{sub.keyword} isn't allowed as an ONBUILD trigger")
        _instruction(sub)  # a bad trigger is refused now, not in another build
        expression = re.sub(r"(?i)^\s*ONBUILD\s*", "", node.original)
        for doc in sub.heredocs:
            expression += "\n" + doc.content + doc.name
        return Onbuild(**base, expression=expression)  # type: ignore[arg-type]
    raise AssertionError(kw)


def _unknown(keyword: str) -> str:
    import difflib

    close = difflib.get_close_matches(keyword, sorted(KNOWN), n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"unknown instruction: {keyword}{hint}"


def parse(text: str, name: str = "Dockerfile") -> Dockerfile:
    """Parse a Dockerfile's text; ``name`` is how errors refer to the file."""
    try:
        directives, nodes, warnings = split_nodes(text)
    except SyntaxProblem as e:
        raise InvalidArgument(f"{name}:{e.line}: {e}" if e.line else f"{name}: {e}") from None
    stages: list[Stage] = []
    meta: list[Arg] = []
    for node in nodes:
        if node.keyword not in KNOWN:
            raise InvalidArgument(f"{name}:{node.line}: {_unknown(node.keyword)}")
        try:
            ins = _instruction(node)
        except ValueError as e:
            raise InvalidArgument(f"{name}:{node.line}: {node.keyword}: {e}") from None
        if isinstance(ins, From):
            stages.append(Stage(len(stages), ins))
        elif not stages:
            if not isinstance(ins, Arg):
                raise InvalidArgument(f"{name}:{node.line}: {node.keyword} before the first "
                                      "FROM: only ARG may come before FROM")
            meta.append(ins)
        else:
            stages[-1].instructions.append(ins)
    if not stages:
        raise InvalidArgument(f"{name}: no FROM instruction: a Dockerfile needs at least "
                              "one stage")
    seen: dict[str, int] = {}
    for s in stages:
        if s.name:
            if s.name in seen:
                raise InvalidArgument(f"{name}:{s.start.line}: duplicate stage name "
                                      f"{s.name!r} (first at line {seen[s.name]})")
            seen[s.name] = s.start.line
    return Dockerfile(name, stages, meta, directives, warnings)
