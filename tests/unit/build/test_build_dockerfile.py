"""The Dockerfile parser: every instruction of the reference, with its line, and errors
that name ``Dockerfile:LINE``."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pycompose.engine.builder import dockerfile as D
from pycompose.engine.errors import InvalidArgument


def one(text: str) -> D.Instruction:
    df = D.parse("FROM scratch\n" + text)
    (ins,) = df.stages[0].instructions
    return ins


def test_stages_meta_args_and_names() -> None:
    df = D.parse("ARG BASE=busybox\nARG V\nFROM $BASE AS Build\nRUN x\n"
                 "FROM --platform=linux/amd64 scratch\nCOPY --from=build /a /a\n")
    assert [a.pairs for a in df.meta_args] == [[("BASE", "busybox")], [("V", None)]]
    assert [(s.index, s.name, s.start.base, s.start.line) for s in df.stages] == \
        [(0, "build", "$BASE", 3), (1, "", "scratch", 5)]
    assert df.stages[1].start.platform == "linux/amd64"
    assert df.stage("build") is df.stages[0] and df.stage("BUILD") is df.stages[0]
    assert df.stage("1") is df.stages[1] and df.stage("nope") is None
    assert df.stages[1].label() == "stage-1"


def test_continuations_comments_and_lines() -> None:
    df = D.parse("FROM scratch\n\n# a comment\nRUN echo a \\\n  # inside\n"
                 "    && echo b \\\n\n    && echo c\nENV X=1\n")
    run, env = df.stages[0].instructions
    assert isinstance(run, D.Run)
    assert run.line == 4 and run.end_line == 8
    assert run.cmd == ["echo a     && echo b     && echo c"]
    assert env.line == 9
    assert df.warnings and "empty continuation line" in df.warnings[0]


def test_escape_directive_and_syntax() -> None:
    df = D.parse("# syntax=docker/dockerfile:1\n# escape=`\nFROM scratch\n"
                 "RUN dir c:\\ `\n  && echo done\n")
    assert df.escape == "`" and df.directives.syntax == "docker/dockerfile:1"
    assert df.stages[0].instructions[0].cmd == ["dir c:\\   && echo done"]  # type: ignore[attr-defined]


def test_a_directive_after_an_instruction_is_a_comment() -> None:
    df = D.parse("FROM scratch\n# escape=`\nRUN a \\\n b\n")
    assert df.escape == "\\"
    assert df.stages[0].instructions[0].cmd == ["a  b"]  # type: ignore[attr-defined]


def test_run_forms_flags_and_mounts() -> None:
    r = one('RUN ["echo", "hi there"]')
    assert isinstance(r, D.Run) and r.cmd == ["echo", "hi there"] and not r.shell_form
    r = one("RUN [not json")
    assert isinstance(r, D.Run) and r.cmd == ["[not json"] and r.shell_form
    r = one("RUN --network=none --mount=type=cache,target=/root/.cache,sharing=locked "
            "--mount=type=secret,id=tok make")
    assert isinstance(r, D.Run) and r.network == "none" and len(r.mounts) == 2
    cache = D.parse_mount(r.mounts[0])
    assert (cache.type, cache.target, cache.sharing, cache.id) == \
        ("cache", "/root/.cache", "locked", "/root/.cache")
    secret = D.parse_mount(r.mounts[1])
    assert (secret.type, secret.id, secret.target) == ("secret", "tok", "/run/secrets/tok")
    b = D.parse_mount("type=bind,source=src,target=/src,rw")
    assert b.read_only is False and b.source == "src"
    t = D.parse_mount("type=tmpfs,target=/t,size=64m")
    assert t.size == 64 * 1024 * 1024


@pytest.mark.parametrize(("text", "message"), [
    ("type=bogus,target=/x", "unsupported mount type"),
    ("type=cache", "needs target="),
    ("type=cache,target=/x,sharing=maybe", "sharing"),
    ("type=ssh", "not supported"),
    ("type=secret", "needs id="),
    ("type=cache,target=/x,mode=99z", "octal"),
    ("type=cache,target=/x,colour=red", "unexpected key"),
])
def test_bad_mounts(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        D.parse_mount(text)


def test_copy_and_add() -> None:
    c = one("COPY --chown=app:app --chmod=0640 --from=build --link a b* /dst/")
    assert isinstance(c, D.Copy) and not isinstance(c, D.Add)
    assert (c.sources, c.dest, c.chown, c.chmod, c.from_, c.link) == \
        (["a", "b*"], "/dst/", "app:app", "0640", "build", True)
    c = one('COPY ["with space", "/d/"]')
    assert isinstance(c, D.Copy) and c.sources == ["with space"]
    a = one("ADD --checksum=sha256:abc --keep-git-dir=false https://x/y.tgz /y")
    assert isinstance(a, D.Add) and a.checksum == "sha256:abc" and a.sources == ["https://x/y.tgz"]
    with pytest.raises(InvalidArgument, match=r"Dockerfile:2: COPY: Unknown flag: from2"):
        one("COPY --from2=x a b")
    with pytest.raises(InvalidArgument, match="Missing a value on flag: chown"):
        one("COPY --chown a b")


def test_heredocs() -> None:
    df = D.parse("FROM scratch\nRUN <<EOF\necho $HOME\nEOF\n"
                 "COPY <<-'END' /etc/motd\n\thello $USER\n\tEND\n"
                 "RUN cat <<A >/a && cat <<B >/b\none\nA\ntwo\nB\nENV X=1\n")
    run, copy, run2, env = df.stages[0].instructions
    assert isinstance(run, D.Run) and run.heredocs[0].content == "echo $HOME\n"
    assert run.heredocs[0].expand and run.line == 2 and run.end_line == 4
    assert isinstance(copy, D.Copy) and copy.sources == [] and copy.dest == "/etc/motd"
    doc = copy.contents[0]
    assert doc.name == "END" and not doc.expand and doc.chomp and doc.text() == "hello $USER\n"
    assert isinstance(run2, D.Run) and [h.name for h in run2.heredocs] == ["A", "B"]
    assert [h.content for h in run2.heredocs] == ["one\n", "two\n"]
    assert env.line == 13


def test_config_instructions() -> None:
    e = one('ENV A=1 B="two words"')
    assert isinstance(e, D.Env) and e.pairs == [("A", "1"), ("B", '"two words"')]
    e = one("ENV LEGACY some value")
    assert isinstance(e, D.Env) and e.pairs == [("LEGACY", "some value")]
    lab = one('LABEL "a.b"=c d="e f"')
    assert isinstance(lab, D.Label) and len(lab.pairs) == 2
    a = one("ARG A B=2 C=")
    assert isinstance(a, D.Arg) and a.pairs == [("A", None), ("B", "2"), ("C", "")]
    assert isinstance(one("WORKDIR /app"), D.Workdir)
    assert one("USER app:app").user == "app:app"  # type: ignore[attr-defined]
    assert one("EXPOSE 80 53/udp").ports == ["53/udp", "80"]  # type: ignore[attr-defined]
    c = one("CMD echo hi")
    assert isinstance(c, D.Cmd) and c.shell_form and c.cmd == ["echo hi"]
    ep = one('ENTRYPOINT ["/run"]')
    assert isinstance(ep, D.Entrypoint) and not ep.shell_form
    assert one('VOLUME ["/data", "/logs"]').paths == ["/data", "/logs"]  # type: ignore[attr-defined]
    assert one("VOLUME /a /b").paths == ["/a", "/b"]  # type: ignore[attr-defined]
    assert one('SHELL ["/bin/bash", "-c"]').argv == ["/bin/bash", "-c"]  # type: ignore[attr-defined]
    assert one("STOPSIGNAL SIGINT").signal == "SIGINT"  # type: ignore[attr-defined]
    assert one("MAINTAINER me <me@x>").name == "me <me@x>"  # type: ignore[attr-defined]
    o = one("ONBUILD RUN echo triggered")
    assert isinstance(o, D.Onbuild) and o.expression == "RUN echo triggered"


def test_healthcheck() -> None:
    h = one("HEALTHCHECK --interval=1m30s --timeout=3s --start-period=1.5s --retries=3 "
            "CMD curl -f http://localhost/ || exit 1")
    assert isinstance(h, D.Healthcheck)
    assert h.test == ["CMD-SHELL", "curl -f http://localhost/ || exit 1"]
    assert (h.interval, h.timeout, h.start_period, h.retries) == \
        (90_000_000_000, 3_000_000_000, 1_500_000_000, 3)
    assert one('HEALTHCHECK CMD ["true"]').test == ["CMD", "true"]  # type: ignore[attr-defined]
    assert one("HEALTHCHECK NONE").test == ["NONE"]  # type: ignore[attr-defined]
    assert D.parse_duration("300ms") == 300_000_000 and D.parse_duration("2h") == 7.2e12


@pytest.mark.parametrize(("text", "message"), [
    ("FROM scratch\nFOO bar", "Dockerfile:2: unknown instruction: FOO"),
    ("FROM scratch\nRUNN x", "(did you mean RUN?)"),
    ("RUN x", "Dockerfile:1: RUN before the first FROM"),
    ("", "no instructions"),
    ("# only a comment\n", "no instructions"),
    ("FROM a b", "Dockerfile:1: FROM: FROM requires either one or three arguments"),
    ("FROM a AS 1x", "invalid name for build stage"),
    ("FROM a AS b\nFROM c AS b", "Dockerfile:2: duplicate stage name 'b'"),
    ("FROM scratch\nCOPY onlyone", "Dockerfile:2: COPY: COPY requires at least two"),
    ("FROM scratch\nCOPY a <<EOF\nx\nEOF", "cannot accept a heredoc as a destination"),
    ("FROM scratch\nRUN <<EOF\nnever ends", "Dockerfile:2: unterminated heredoc <<EOF"),
    ("FROM scratch\nWORKDIR", "WORKDIR requires exactly one argument"),
    ("FROM scratch\nENV", "ENV requires at least one argument"),
    ("FROM scratch\nENV A", "ENV must have two arguments"),
    ("FROM scratch\nENV A=1 B", "can't find = in 'B'"),
    ('FROM scratch\nCMD ["a", 1]', "arrays must be comprised of strings only"),
    ("FROM scratch\nSHELL /bin/sh -c", "SHELL requires the arguments to be in JSON form"),
    ("FROM scratch\nHEALTHCHECK --interval=5x CMD a", "invalid duration"),
    ("FROM scratch\nHEALTHCHECK --retries=-1 CMD a", "cannot be negative"),
    ("FROM scratch\nHEALTHCHECK WHAT", "Unknown type"),
    ("FROM scratch\nONBUILD ONBUILD RUN x", "Chaining ONBUILD"),
    ("FROM scratch\nONBUILD FROM x", "isn't allowed as an ONBUILD trigger"),
    ("FROM scratch\nRUN --network=wifi x", "unsupported network mode"),
    ("FROM scratch\nRUN --mount=type=nope x", "Dockerfile:2: RUN: unsupported mount type"),
    ("# escape=x\nFROM scratch", "Dockerfile:1: invalid escape token"),
    ("# escape=`\n# escape=\\\nFROM scratch", "only one escape parser directive"),
])
def test_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as e:
        D.parse(text)
    assert message in str(e.value)


def test_errors_use_the_given_file_name() -> None:
    with pytest.raises(InvalidArgument, match=r"^app/Dockerfile.dev:3: unknown instruction"):
        D.parse("FROM a\nRUN x\nBAD y", "app/Dockerfile.dev")


def test_expand_errors_name_the_line() -> None:
    df = D.parse('FROM scratch\nENV A="${B:?B is needed}"')
    ins = df.stages[0].instructions[0]
    with pytest.raises(InvalidArgument, match="Dockerfile:2: .*B: B is needed"):
        df.expand(ins.pairs[0][1], {}, ins.line)  # type: ignore[attr-defined]


def test_bom_and_crlf() -> None:
    df = D.parse("\ufeffFROM scratch\r\nRUN a \\\r\n b\r\n")
    assert df.stages[0].instructions[0].cmd == ["a  b"]  # type: ignore[attr-defined]


_WORDS = ["FROM", "RUN", "COPY", "ADD", "ENV", "ARG", "LABEL", "CMD", "ENTRYPOINT", "ONBUILD",
          "HEALTHCHECK", "SHELL", "WORKDIR", "USER", "EXPOSE", "VOLUME", "STOPSIGNAL",
          "<<EOF", "EOF", "--from=x", "--mount=type=cache,target=/x", "--chown", "AS", "a",
          "=", '"', "'", "[", "]", '["a"]', "\\", "`", "#", "# escape=`", "$X", "${X:-y}",
          " ", "\n", "\t", "--", "NONE", "CMD"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_WORDS), max_size=25).map(" ".join))
def test_any_text_parses_or_fails_with_a_line(text: str) -> None:
    """Never a traceback: a Dockerfile, or InvalidArgument naming the file."""
    try:
        df = D.parse(text)
    except InvalidArgument as e:
        assert str(e).startswith("Dockerfile")
        return
    assert df.stages


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_unicode_never_crashes(text: str) -> None:
    try:
        D.parse(text)
    except InvalidArgument:
        pass
