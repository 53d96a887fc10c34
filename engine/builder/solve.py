"""Running a plan: each needed stage waits for the stages it depends on, then
dispatches its instructions in order; independent stages run at the same time.

The stage logic is written once, as generators that yield what they need from the
outside -- :class:`Wait` (a stage's result) and :class:`Call` (blocking work: a
container, a copy, a pull) -- and is driven two ways:

- :meth:`Solver.probe`: synchronously, stage after stage, with every step allowed only
  to *find* its layer in the cache (a step that would have to run raises :class:`Miss`).
  A no-change rebuild ends here: no trio, no threads, no container.
- :meth:`Solver.run`: under trio, each stage a task, blocking calls in worker threads.
- :meth:`Solver.run_serial`: a one-stage build, which has nothing to run in parallel,
  without trio (its import alone is ~0.1 s of a one-file rebuild's ~0.5 s): the same
  generators, each blocking call in a worker thread that the caller's thread waits
  for, so that Ctrl-C still kills the step's container and waits for its cleanup.

A failure anywhere cancels the build: every stage task removes the RUN container it
was running (shielded from the cancellation), the workspace goes, and nothing half
made is registered (layers are stored only complete; the cache records them after).
"""

from __future__ import annotations

import contextlib
import contextvars
import signal as _signal
import threading
import time
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any, TypeVar

from pycompose.util.records import field, record

from ..errors import EngineError, InvalidArgument
from ..images.image import Image
from . import events as E
from .context import Context
from .dockerfile import (
    Add,
    Arg,
    Cmd,
    Copy,
    Entrypoint,
    Env,
    Expose,
    Healthcheck,
    Instruction,
    Label,
    Maintainer,
    Onbuild,
    Run,
    Shell,
    StopSignal,
    User,
    Volume,
    Workdir,
    parse,
)
from .execute import Miss, MountPlan, Services, resolve_run_mounts, run_step
from .filesteps import FromSource, copy_step, workdir_step
from .plan import Plan, StagePlan
from .state import State

T = TypeVar("T")


@record(frozen=True)
class Wait:
    """The stage logic needs the result of stage ``index``."""

    index: int


@record(frozen=True)
class Call:
    """The stage logic needs ``fn(*args)`` done (blocking work)."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]


Gen = Generator[Wait | Call, Any, T]


@record
class Solver:
    svc: Services
    plan: Plan
    emit: E.Emit
    context: Context
    contexts: dict[str, Context]  # additional contexts by name
    platform: dict[str, str]
    pull: Callable[[str], Image]  # resolve (or pull) a base image
    results: dict[int, State] = field(default_factory=dict)
    #: base images the resolver pulled (their FROM step is not CACHED)
    pulled: set[str] = field(default_factory=set)
    #: base images ``--pull`` could not pull and took from the store (why, for a warning)
    stale: dict[str, str] = field(default_factory=dict)
    vertex: int = 0
    images: dict[str, State] = field(default_factory=dict)

    @property
    def multi(self) -> bool:
        return len(self.plan.stages) > 1

    def next_vertex(self) -> int:
        self.vertex += 1
        return self.vertex

    # -- the drivers ------------------------------------------------------------------------
    def probe(self) -> State | None:
        """The whole build from the cache alone, synchronously; None (and nothing
        emitted) as soon as one step would have to run."""
        events: list[E.Event] = []
        real, self.emit = self.emit, events.append
        self.svc.probe = True
        try:
            for sp in self.plan.stages:  # file order respects the dependencies
                self._drive_sync(self._stage(sp))
        except Miss:
            self.results.clear()
            self.images.clear()
            self.vertex = 0
            return None
        finally:
            self.emit = real
            self.svc.probe = False
        for ev in events:
            real(ev)
        return self.results[self.plan.target]

    def _drive_sync(self, gen: Gen[T]) -> T:
        """A stage's steps run here and now; a stage not done is a cache miss."""
        return self._drive(gen, lambda fn, *args: fn(*args),
                           lambda i: Miss(f"stage {i} is not done"))

    def _drive(self, gen: Gen[T], call: Callable[..., Any],
               missing: Callable[[int], BaseException]) -> T:
        """Drive a stage's generator without trio: each request through ``call``, its
        result or error sent back in; a stage waited for must be done already
        (``missing`` says what it is when not)."""
        value: Any = None
        exc: BaseException | None = None
        while True:
            try:
                req = gen.throw(exc) if exc is not None else gen.send(value)
            except StopIteration as stop:
                return stop.value
            value, exc = None, None
            if isinstance(req, Wait):
                if req.index not in self.results:
                    raise missing(req.index)
                continue
            try:
                value = call(req.fn, *req.args)
            except Exception as e:
                exc = e

    def run_serial(self) -> State:
        """The build without trio, stage after stage in file order (which respects the
        dependencies); for plans with one stage, where trio would buy nothing."""
        lock = threading.Lock()
        real = self.emit

        def emit(ev: E.Event) -> None:  # steps' thread and a RUN's output pump
            with lock:
                real(ev)

        self.emit = emit
        self.svc.output = lambda v, data, seconds: emit(E.StepOutput(v, data, seconds))
        try:
            for sp in self.plan.stages:
                self._drive_serial(self._stage(sp))
        finally:
            self.emit = real
        return self.results[self.plan.target]

    def _drive_serial(self, gen: Gen[T]) -> T:
        """A stage's steps in a worker thread each (Ctrl-C cancels); file order makes a
        stage not built yet impossible."""
        return self._drive(gen, self._in_thread,
                           lambda i: EngineError(f"internal: stage {i} is not built yet"))

    def _in_thread(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn`` in a worker thread, waited for. A KeyboardInterrupt while it runs
        cancels the build (its containers are killed) and waits for the thread to
        remove what it made, as :meth:`_thread` does under trio."""
        box: dict[str, Any] = {}
        finished = threading.Event()

        def work() -> None:
            try:
                box["value"] = fn(*args)
            except BaseException as e:  # handed to the waiting thread
                box["error"] = e
            finally:
                finished.set()

        ctx = contextvars.copy_context()  # as trio.to_thread does (util.fs.deferred_sync)
        threading.Thread(target=ctx.run, args=(work,), name="pycompose-build-step",
                         daemon=True).start()
        try:
            # an Event, not Thread.join: a join interrupted by Ctrl-C marks the thread
            # stopped on Python 3.11, and the second join would not wait
            finished.wait()
        except BaseException:
            self.svc.cancel()
            finished.wait(120)
            raise
        if "error" in box:
            raise box["error"]
        return box.get("value")

    async def run(self) -> State:
        """The build under trio: every stage a task, blocking work in threads."""
        import trio

        token = trio.lowlevel.current_trio_token()

        def output(vertex: int, data: bytes, seconds: float) -> None:
            with contextlib.suppress(trio.RunFinishedError):
                trio.from_thread.run_sync(self.emit, E.StepOutput(vertex, data, seconds),
                                          trio_token=token)

        self.svc.output = output
        done = {sp.stage.index: trio.Event() for sp in self.plan.stages}

        async def stage(sp: StagePlan) -> None:
            await self._drive_async(self._stage(sp), done)
            done[sp.stage.index].set()

        async with trio.open_nursery() as n:
            for sp in self.plan.stages:
                n.start_soon(stage, sp)
        return self.results[self.plan.target]

    async def _drive_async(self, gen: Gen[T], done: dict[int, Any]) -> T:
        value: Any = None
        exc: BaseException | None = None
        while True:
            try:
                req = gen.throw(exc) if exc is not None else gen.send(value)
            except StopIteration as stop:
                return stop.value
            value, exc = None, None
            try:
                if isinstance(req, Wait):
                    await done[req.index].wait()
                else:
                    value = await self._thread(req.fn, *req.args)
            except Exception as e:
                exc = e

    async def _thread(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn`` in a worker thread. When the build is cancelled meanwhile (Ctrl-C, a
        failed stage), its containers are killed and the thread is waited for, so that
        it removes what it made before the build ends."""
        import trio

        finished = trio.Event()
        token = trio.lowlevel.current_trio_token()

        def work() -> Any:
            try:
                return fn(*args)
            finally:
                with contextlib.suppress(trio.RunFinishedError):
                    trio.from_thread.run_sync(finished.set, trio_token=token)

        try:
            return await trio.to_thread.run_sync(work, abandon_on_cancel=True)
        except trio.Cancelled:
            self.svc.cancel()
            with trio.CancelScope(shield=True), trio.move_on_after(120):
                await finished.wait()
            raise

    def _prefetch(self, state: State, ins: Instruction) -> None:
        """Stage the COPY ``ins`` while the RUN before it runs (prefetch.py), when it
        is one that can be."""
        from .prefetch import Below, Staged, dest_abs_of, plan_for

        plan = plan_for(self.svc.dockerfile, state, ins, self.context)
        if plan is not None:
            below = Below(self.svc.lowerdirs(state.layers), self.svc.empty,
                          dest_abs_of(plan.dest, state.workdir()))
            self.svc.prefetched[id(ins)] = Staged(plan, self.context,
                                                  self.svc.work.new_dir("prefetch"), below)

    # -- stages ---------------------------------------------------------------------------
    def _image_state(self, ref: str, line: int) -> Gen[State]:
        if ref in self.images:
            return self.images[ref].fork()
        try:
            image = yield Call(self.pull, (ref,))
        except EngineError as e:  # its kind stays: a login needed is no missing image
            raise type(e)(f"{self.svc.dockerfile.name}:{line}: {e}") from None
        if ref in self.stale:
            self.emit(E.Note(f"{ref}: --pull could not pull it ({self.stale[ref]}); the "
                             "image store's copy is used", warning=True))
        st = State.of_image(image)
        st.base_name = ref
        self.images[ref] = st
        return st.fork()

    def _base(self, sp: StagePlan) -> Gen[State]:
        if sp.base_stage is not None:
            yield Wait(sp.base_stage)
            return self.results[sp.base_stage].fork()
        if sp.base.lower() == "scratch":
            return State.scratch(self.platform)
        if sp.base.lower() in self.contexts:
            raise InvalidArgument(f"{self.svc.dockerfile.name}:{sp.stage.start.line}: FROM "
                                  f"{sp.base}: an additional context can be copied from, "
                                  "not built on")
        return (yield from self._image_state(sp.base, sp.stage.start.line))

    def _name(self, sp: StagePlan, i: int, total: int, text: str) -> str:
        label = f"{sp.stage.label()} " if self.multi else ""
        return f"[{label}{i}/{total}] {text}"

    def _stage(self, sp: StagePlan) -> Gen[None]:
        for d in sorted(sp.deps):
            yield Wait(d)
        df = self.svc.dockerfile
        onbuild: list[Instruction] = []
        total = 1 + len(sp.stage.instructions)
        v = self.next_vertex()
        t0 = time.monotonic()
        self.emit(E.StepStarted(v, self._name(sp, 1, total, f"FROM {sp.base}"),
                                sp.stage.label()))
        state = yield from self._base(sp)
        state.args = {}
        for text in list(state.config.get("OnBuild") or []):
            try:
                parsed = parse("FROM scratch\n" + text, f"{df.name} (ONBUILD of {sp.base})")
            except EngineError as e:
                raise InvalidArgument(f"{df.name}:{sp.stage.start.line}: {e}") from None
            onbuild += parsed.stages[0].instructions
        state.config.pop("OnBuild", None)
        if sp.base in self.pulled:
            self.emit(E.StepDone(v, time.monotonic() - t0))
        else:
            self.emit(E.StepCached(v))
        total += len(onbuild)
        fresh = True
        seq = [*onbuild, *sp.stage.instructions]
        for i, ins in enumerate(seq, start=2):
            following = seq[i - 1] if i - 1 < len(seq) else None
            fresh = yield from self._dispatch(sp, state, ins, i, total, fresh, following)
        self.results[sp.stage.index] = state

    # -- instructions ------------------------------------------------------------------------
    def _shown(self, state: State, ins: Instruction) -> str:
        """The instruction as the progress shows it: variables known so far expanded
        (as BuildKit), quotes kept; as written if that fails."""
        from .words import Lexer, WordError

        lex = Lexer(self.svc.dockerfile.escape, raw_quotes=True, raw_escapes=True,
                    skip_unset=True)
        text = ins.text
        try:
            return lex.word(text, state.expansion_env())
        except WordError:
            return text

    def _dispatch(self, sp: StagePlan, state: State, ins: Instruction, i: int,
                  total: int, fresh: bool, following: Instruction | None = None) -> Gen[bool]:
        """Run one instruction; returns whether the stage is still all-cached."""
        v = self.next_vertex()
        t0 = time.monotonic()
        name = self._name(sp, i, total, self._shown(state, ins))
        self.emit(E.StepStarted(v, name, sp.stage.label()))
        try:
            cached = yield from self._one(sp, state, ins, v, t0, fresh, following)
        except BaseException as e:
            if isinstance(e, EngineError) and not isinstance(e, Miss):
                self.emit(E.StepFailed(v, str(e)))
            raise
        if cached:
            self.emit(E.StepCached(v))
        else:
            self.emit(E.StepDone(v, time.monotonic() - t0))
        return fresh and cached

    def _one(self, sp: StagePlan, state: State, ins: Instruction, v: int, t0: float,
             fresh: bool, following: Instruction | None = None) -> Gen[bool]:
        svc = self.svc
        df = svc.dockerfile
        if isinstance(ins, Run):
            env = state.expansion_env()
            if ins.security == "insecure":
                raise df.error(ins.line, "RUN --security=insecure: privileged build steps "
                               "are not allowed by this builder")
            specs = resolve_run_mounts(df, ins, env)
            mounts = []
            for m in specs:
                if m.type == "cache" and (m.from_ or m.source):
                    raise df.error(ins.line, "RUN --mount=type=cache: seeding a cache from "
                                   "a stage (from=, source=) is not supported")
                mp = MountPlan(m)
                if m.from_:
                    mp.state, mp.folder = yield from self._from(sp, m.from_, ins.line)
                mounts.append(mp)
            network = df.expand(ins.network, env, ins.line) if ins.network else ""
            net = network or svc.request.network or "default"
            if net not in ("default", "none", "host", "bridge"):
                raise df.error(ins.line, f"RUN --network={net}: use default, none or host")
            net = "bridge" if net in ("default", "") else net
            folder = self.context.root
            stage_next = None if following is None else (
                lambda: self._prefetch(state, following))
            _k, _c, cached = yield Call(run_step, (svc, state, ins, v, mounts, folder, net,
                                                   t0, stage_next))
            return bool(cached)
        if isinstance(ins, (Copy, Add)):
            if isinstance(ins, Copy) and not isinstance(ins, Add) and ins.from_:
                st, folder = yield from self._from(sp, ins.from_, ins.line)
                label = df.expand(ins.from_, self.plan.meta, ins.line)
                if folder is not None:
                    src = FromSource(context=self.contexts[label.lower()], label=label)
                else:
                    src = FromSource(state=st, label=label)
            else:
                src = FromSource(context=self.context)
            _k, _c, cached = yield Call(copy_step, (svc, state, ins, src))
            return bool(cached)
        seen = self._seen_key(state, ins)
        if isinstance(ins, Workdir):
            res = yield Call(workdir_step, (svc, state, ins))
            if res is not None:
                return bool(res[2])
            state.record(f"WORKDIR {state.workdir()}", created=state.latest_created(
                _now()), author=svc.author, layer=False)
        else:
            self._config(state, ins)
        return self._seen(seen)

    def _seen_key(self, state: State, ins: Instruction) -> str:
        from . import cache as C

        return C.key("config", state.top_chain, config=state.config, text=ins.original,
                     env=state.expansion_env(), args=sorted(state.args.items()))

    def _seen(self, key: str) -> bool:
        """Whether a config-only step with this exact input was done before (then it
        is shown CACHED; its result is recomputed either way, it is pure)."""
        import os

        d = self.svc.root / "build" / "seen"
        path = d / key[:40]
        if path.exists():
            return True
        try:
            d.mkdir(exist_ok=True, mode=0o700)
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))
        except OSError:
            pass
        return False

    def _from(self, sp: StagePlan, ref: str, line: int) -> Gen[tuple[State | None,
                                                                     Path | None]]:
        """What ``--from=REF`` names: a stage (its state), an additional context (its
        folder) or an image (its state)."""
        df = self.svc.dockerfile
        value = df.expand(ref, self.plan.meta, line)
        if value.lower() in self.contexts:
            return None, self.contexts[value.lower()].root
        idx = sp.copy_from.get(value)
        if idx is not None:
            yield Wait(idx)
            return self.results[idx], None
        return (yield from self._image_state(value, line)), None

    def _config(self, state: State, ins: Instruction) -> None:
        """The instructions that change only the config (and the history)."""
        df = self.svc.dockerfile
        env = state.expansion_env()
        line = ins.line

        def x(word: str) -> str:
            return df.expand(word, env, line)

        created = state.latest_created(_now())
        author = self.svc.author
        if isinstance(ins, Env):
            parts = []
            for k, val in ins.pairs:
                key, value = x(k), x(val)
                if not key:
                    raise df.error(line, "ENV names can not be blank")
                state.set_env(key, value)
                env = state.expansion_env()
                parts.append(f"{key}={value}")
            state.record("ENV " + " ".join(parts), created=created, author=author, layer=False)
        elif isinstance(ins, Label):
            parts = []
            for k, val in ins.pairs:
                key, value = x(k), x(val)
                state.set_label(key, value)
                parts.append(f"{key}={value}")
            state.record("LABEL " + " ".join(parts), created=created, author=author,
                         layer=False)
        elif isinstance(ins, Arg):
            parts = []
            for k, default in ins.pairs:
                key = x(k)
                arg_value: str | None
                if key in self.svc.request.build_args:
                    arg_value = self.svc.request.build_args[key]
                elif default is not None:
                    arg_value = x(default)
                elif key in self.plan.meta and (key in self.plan.meta_declared or
                                                key.startswith(("TARGET", "BUILD"))):
                    arg_value = self.plan.meta[key]
                else:
                    arg_value = None
                if key not in state.args_order:
                    state.args_order.append(key)
                if arg_value is not None:
                    state.args[key] = arg_value
                    env = state.expansion_env()
                parts.append(key if arg_value is None else f"{key}={arg_value}")
            state.record("ARG " + " ".join(parts), created=created, author=author, layer=False)
        elif isinstance(ins, User):
            user = x(ins.user)
            if not user:
                raise df.error(line, "USER needs a user name or id")
            state.config["User"] = user
            state.record(f"USER {user}", created=created, author=author, layer=False)
        elif isinstance(ins, Expose):
            ports = []
            for p in ins.ports:
                for word in x(p).split():
                    ports += _ports(word, df, line)
            state.add_ports(ports)
            state.record("EXPOSE " + " ".join(ports), created=created, author=author,
                         layer=False)
        elif isinstance(ins, (Cmd, Entrypoint)):
            argv = [*state.shell(), " ".join(ins.cmd)] if ins.shell_form else list(ins.cmd)
            if isinstance(ins, Entrypoint):
                state.config["Entrypoint"] = argv or None
                if not state.cmd_set:
                    state.config["Cmd"] = None
                kw = "ENTRYPOINT"
            else:
                state.config["Cmd"] = argv
                state.cmd_set = True
                kw = "CMD"
            state.record(f"{kw} " + _go_quote(argv), created=created, author=author,
                         layer=False)
        elif isinstance(ins, Volume):
            paths = [x(p) for p in ins.paths]
            state.add_volumes(paths)
            state.record(f"VOLUME [{' '.join(paths)}]", created=created, author=author,
                         layer=False)
        elif isinstance(ins, Healthcheck):
            hc: dict[str, Any] = {"Test": list(ins.test)}
            for hk, hv in (("Interval", ins.interval), ("Timeout", ins.timeout),
                           ("StartPeriod", ins.start_period),
                           ("StartInterval", ins.start_interval), ("Retries", ins.retries)):
                if hv:
                    hc[hk] = hv
            state.config["Healthcheck"] = hc
            state.record(f"HEALTHCHECK {ins.text.partition(' ')[2]}", created=created,
                         author=author, layer=False)
        elif isinstance(ins, Shell):
            state.config["Shell"] = list(ins.argv)
            state.record(f"SHELL [{' '.join(ins.argv)}]", created=created, author=author,
                         layer=False)
        elif isinstance(ins, StopSignal):
            sig = x(ins.signal)
            _check_signal(sig, df, line)
            state.config["StopSignal"] = sig
            state.record(f"STOPSIGNAL {sig}", created=created, author=author, layer=False)
        elif isinstance(ins, Maintainer):
            state.author = x(ins.name)
            state.record(f"MAINTAINER {state.author}", created=created, author=author,
                         layer=False)
        elif isinstance(ins, Onbuild):
            state.config["OnBuild"] = [*(state.config.get("OnBuild") or []), ins.expression]
            state.record(f"ONBUILD {ins.expression}", created=created, author=author,
                         layer=False)
        else:  # pragma: no cover - the parser knows every instruction
            raise df.error(line, f"{ins.keyword} is not supported")


def _now() -> str:
    from .execute import now

    return now()


def _go_quote(argv: list[str]) -> str:
    """Go's ``%q`` of a string slice, as docker's history shows CMD: ``["sh" "-c"]``."""
    import json

    return "[" + " ".join(json.dumps(a) for a in argv) + "]"


def _ports(word: str, df: Any, line: int) -> list[str]:
    port, _, proto = word.partition("/")
    proto = (proto or "tcp").lower()
    lo, _, hi = port.partition("-")
    if ":" in port:
        lo = port.rsplit(":", 1)[1]
        hi = ""
    if not lo.isdigit() or (hi and not hi.isdigit()) or proto not in ("tcp", "udp", "sctp"):
        raise df.error(line, f"EXPOSE: invalid port {word!r}: use PORT[/tcp|udp|sctp] or "
                       "FROM-TO")
    return [f"{p}/{proto}" for p in range(int(lo), int(hi or lo) + 1)]


def _check_signal(sig: str, df: Any, line: int) -> None:
    if sig.isdigit():
        if 0 < int(sig) < 65:
            return
    else:
        name = sig.upper()
        name = name if name.startswith("SIG") else "SIG" + name
        if hasattr(_signal, name) or name.startswith("SIGRTM"):
            return
    raise df.error(line, f"STOPSIGNAL: invalid signal {sig!r}")
