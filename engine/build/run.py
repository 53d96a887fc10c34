"""One build from start to end: sweep what dead builds left, read the Dockerfile and
the context, plan, solve, and register the image with its tags."""

from __future__ import annotations

import contextlib
import getpass
import os
import secrets
import socket
import time
from pathlib import Path

import trio

from pycompose.util.paths import state_root

from ..errors import EngineError, InvalidArgument, NotFound
from ..images import reference
from ..images.store import Image, ImageStore
from . import events as E
from .cache import Cache
from .context import Context
from .dockerfile import parse
from .execute import Services
from .plan import make_plan, parse_platform
from .request import BuildRequest, BuildResult
from .solve import Solver
from .steps import Containers, EngineContainers, process_mark
from .workspace import Workspace, sweep


def who() -> str:
    """``user@host`` of the person building (``sudo`` keeps the real user's name)."""
    user = os.environ.get("SUDO_USER") or ""
    if not user:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


def _read_dockerfile(req: BuildRequest, ctx_root: Path | None) -> tuple[str, str, Path | None]:
    """(text, name for messages, path) of the Dockerfile."""
    if req.dockerfile_text is not None:
        return req.dockerfile_text, str(req.dockerfile or "Dockerfile"), None
    path = req.dockerfile
    if path is None:
        if ctx_root is None:
            raise InvalidArgument("no Dockerfile: give one with -f or on standard input")
        path = ctx_root / "Dockerfile"
        if not path.exists() and (ctx_root / "dockerfile").exists():
            path = ctx_root / "dockerfile"
    elif not path.is_absolute() and ctx_root is not None and not path.exists():
        path = ctx_root / path
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        raise NotFound(f"failed to read the Dockerfile: open {path}: no such file or "
                       "directory") from None
    except IsADirectoryError:
        raise InvalidArgument(f"failed to read the Dockerfile: {path} is a directory") from None
    try:
        name = str(path.relative_to(Path.cwd()))
    except ValueError:
        name = str(path)
    return text, name, path


def _base_resolver(store: ImageStore, pull: bool) -> object:
    def resolve(ref: str) -> Image:
        if not pull:
            try:
                return store.resolve(ref)
            except NotFound:
                pass
        import importlib

        try:
            registry: object = importlib.import_module("pycompose.engine.registry")
        except ImportError:
            registry = None
        pull_fn = getattr(registry, "pull_image", None) if registry else None
        if pull_fn is None:
            if pull:
                with contextlib.suppress(NotFound):
                    return store.resolve(ref)
            raise NotFound(f"{ref}: no such image in the image store, and this builder has "
                           "no registry to pull from (use pycompose image load, import or "
                           "bootstrap first)")
        image: Image = pull_fn(store, ref)
        return image
    return resolve


async def _build(req: BuildRequest, emit: E.Emit, root: Path,
                 containers: Containers) -> BuildResult:
    started = time.monotonic()
    token = trio.lowlevel.current_trio_token()
    store = ImageStore(root)
    for t in req.tags:
        reference.parse(t)  # a bad tag is refused before any work
    mark = process_mark()
    await trio.to_thread.run_sync(sweep, root)
    await trio.to_thread.run_sync(containers.sweep, {mark})
    with Workspace(root) as work, contextlib.ExitStack() as stack:
        ctx_root = req.context
        if req.context_tar is not None:
            ctx_root = work.new_dir("context")
            from ..images import layers as L

            try:
                L.unpack(req.context_tar, str(ctx_root), what="the context tar", plain=True)
            except L.LayerError as e:
                raise InvalidArgument(f"cannot read the build context from standard input: "
                                      f"{e}") from None
        text, name, df_path = _read_dockerfile(req, ctx_root)
        df = parse(text, name)
        context = Context.open(ctx_root, dockerfile=df_path, state_root=root)
        stack.callback(context.close)
        extra = {}
        for cname, folder in req.additional_contexts.items():
            c = Context.open(folder, state_root=root)
            stack.callback(c.close)
            extra[cname.lower()] = c
        plat = parse_platform(req.platform)
        plan = make_plan(df, target=req.target, build_args=req.build_args, plat=plat,
                         contexts=set(extra))
        for w in df.warnings:
            emit(E.Note(w, warning=True))
        if plan.unused_args:
            emit(E.Note("build arguments not used by the Dockerfile: "
                        + ", ".join(plan.unused_args), warning=True))

        def output(vertex: int, data: bytes, seconds: float) -> None:
            with contextlib.suppress(trio.RunFinishedError):
                trio.from_thread.run_sync(emit, E.StepOutput(vertex, data, seconds),
                                          trio_token=token)

        author = req.author or who()
        svc = Services(root=root, store=store, cache=Cache(store, enabled=not req.no_cache),
                       work=work, containers=containers, request=req, dockerfile=df,
                       author=author, build_id=secrets.token_hex(8), mark=mark,
                       output=output)
        solver = Solver(svc, plan, emit, context, extra, plat,
                        _base_resolver(store, req.pull))  # type: ignore[arg-type]
        state = await solver.run()
        v = solver.next_vertex()
        t0 = time.monotonic()
        emit(E.StepStarted(v, "exporting to image"))
        for k, val in req.labels.items():
            state.set_label(k, val)
        from .execute import now

        created = state.latest_created(now())
        image = await trio.to_thread.run_sync(
            lambda: store.add_image(state.oci_config(created, state.author or author),
                                    state.layers, list(req.tags)))
        emit(E.Note(f"writing image {image.id} done", v))
        for t in req.tags:
            emit(E.Note(f"naming to {reference.normalize(t)} done", v))
        emit(E.StepDone(v, time.monotonic() - t0))
        emit(E.Finished(image.id, tuple(req.tags), time.monotonic() - started))
        return BuildResult(image.id, list(req.tags), list(df.warnings))


def run_build(req: BuildRequest, emit: E.Emit, *, root: Path | None = None,
              containers: Containers | None = None) -> BuildResult:
    root = root or state_root()
    root.mkdir(parents=True, exist_ok=True)
    conts = containers or EngineContainers(root)
    try:
        return trio.run(_build, req, emit, root, conts)
    except BaseExceptionGroup as group:
        leaves: list[BaseException] = []

        def walk(g: BaseException) -> None:
            if isinstance(g, BaseExceptionGroup):
                for e in g.exceptions:
                    walk(e)
            else:
                leaves.append(g)
        walk(group)
        for e in leaves:
            if isinstance(e, KeyboardInterrupt):
                raise e from None
        for e in leaves:
            if isinstance(e, EngineError):
                raise e from None
        raise
