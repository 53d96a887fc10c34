"""One build from start to end: sweep what dead builds left, read the Dockerfile and
the context, plan, solve, and register the image with its tags."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path

from pycompose.util.paths import state_root

from ..errors import EngineError, InvalidArgument, NotFound
from ..images import reference
from ..images.image import Image
from ..images.store import ImageStore
from . import events as E
from .cache import Cache
from .context import Context
from .dockerfile import parse
from .execute import Interrupted, Miss, Services
from .plan import make_plan, parse_platform
from .request import BuildRequest, BuildResult
from .solve import Solver
from .state import State
from .steps import Containers, EngineContainers, mark_alive, process_mark
from .workspace import Workspace, dead_builds, done_running, sweep


def who() -> str:
    """``user@host`` of the person building (``sudo`` keeps the real user's name)."""
    user = os.environ.get("SUDO_USER") or ""
    if not user:
        import pwd

        try:
            user = pwd.getpwuid(os.getuid()).pw_name
        except KeyError:
            user = str(os.getuid())
    return f"{user}@{os.uname().nodename}"


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


def _base_resolver(store: ImageStore, pull: bool, pulled: set[str],
                   stale: dict[str, str]) -> Callable[[str], Image]:
    """Resolve a FROM/--from image: the store's, or pulled from its registry when the
    store lacks it (always with ``--pull``); ``pulled`` collects what was pulled,
    ``stale`` what ``--pull`` could not pull and took from the store instead (with
    why: the build warns of it)."""
    def resolve(ref: str) -> Image:
        if not pull:
            try:
                return store.resolve(ref)
            except NotFound:
                pass
        from ..registry import PullRequest, pull_image

        try:
            result = pull_image(PullRequest(ref), root=store.root)
        except EngineError as e:
            if pull:  # --pull, and the registry cannot be reached: the store's will do
                with contextlib.suppress(NotFound):
                    image = store.resolve(ref)
                    stale[ref] = str(e)
                    return image
            if isinstance(e, NotFound):
                raise NotFound(f"{ref}: no such image in the image store or its "
                               f"registry ({e})") from None
            # the kind stays (a login that is needed, a registry out of reach)
            raise type(e)(f"{ref}: not in the image store, and it could not be pulled: "
                          f"{e} (pycompose image load, import or bootstrap make images "
                          "without a registry)") from None
        pulled.add(ref)
        return store.resolve(result.images[0].image_id if result.images else ref)
    return resolve


def _registered(store: ImageStore, oci: dict[str, object], tags: list[str]) -> Image | None:
    """The image ``oci`` describes when it is in the store already under every one of
    ``tags`` (a no-change rebuild: nothing to write)."""
    from ..images.layout import canonical_json, digest_of

    image_id = digest_of(canonical_json(oci))
    if not tags:
        return None
    for t in tags:
        try:
            if store.resolve(t).id != image_id:
                return None
        except NotFound:
            return None
    return store.resolve(tags[0])


def _flatten(group: BaseException) -> list[BaseException]:
    if isinstance(group, BaseExceptionGroup):
        out: list[BaseException] = []
        for e in group.exceptions:
            out += _flatten(e)
        return out
    return [group]


def _solve(solver: Solver, probe: bool) -> State:
    """The build from the cache alone when it can be (no trio, no threads), else under
    trio with the stages in parallel (one stage: without trio, see Solver.run_serial)."""
    if probe:
        state = solver.probe()
        if state is not None:
            return state
    if not solver.multi:
        return solver.run_serial()
    import trio

    try:
        return trio.run(solver.run)
    except BaseExceptionGroup as group:
        leaves = _flatten(group)
        for e in leaves:
            if isinstance(e, KeyboardInterrupt):
                raise e from None
        for e in leaves:
            if isinstance(e, EngineError) and not isinstance(e, Interrupted):
                raise e from None
        for e in leaves:
            if isinstance(e, EngineError):
                raise e from None
        raise


def run_build(req: BuildRequest, emit: E.Emit, *, root: Path | None = None,
              containers: Containers | None = None) -> BuildResult:
    started = time.monotonic()
    root = root or state_root()
    root.mkdir(parents=True, exist_ok=True)
    conts = containers or EngineContainers(root)
    store = ImageStore(root)
    for t in req.tags:
        reference.parse(t)  # a bad tag is refused before any work
    mark = process_mark()
    sweep(root)
    dead = dead_builds(root, mark_alive)
    if dead:  # a killed build may have left RUN containers: remove them
        conts.sweep({mark})
        for m, bid in dead:
            done_running(root, m, bid)
    build_id = os.urandom(8).hex()
    try:
        return _build(req, emit, root, conts, mark, build_id, store, started)
    finally:
        done_running(root, mark, build_id)


def _durable_anyway(svc: Services) -> None:
    """:meth:`Services.make_durable` as the build ends whichever way: an error here is
    logged, never put in place of the build's own."""
    try:
        svc.make_durable()
    except EngineError as e:
        import logging

        logging.getLogger("pycompose.build").warning("%s", e)


def _build(req: BuildRequest, emit: E.Emit, root: Path, conts: Containers, mark: str,
           build_id: str, store: ImageStore, started: float) -> BuildResult:
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
        author = req.author or who()
        svc = Services(root=root, store=store, cache=Cache(store, enabled=not req.no_cache),
                       work=work, containers=conts, request=req, dockerfile=df,
                       author=author, build_id=build_id, mark=mark,
                       output=lambda _v, _d, _s: None)
        stack.callback(_durable_anyway, svc)  # a failed build's cached layers too
        stack.callback(svc.drop_prefetched)  # before the workspace they write in goes
        from pycompose.util.fs import deferred_sync

        steps = contextlib.ExitStack()  # the steps' own writes: synced once, at the end
        stack.callback(steps.close)
        svc.unsynced = steps.enter_context(deferred_sync())
        for ref in req.cache_from:
            try:
                svc.cache.add_source(store.resolve(ref))
            except NotFound:
                emit(E.Note(f"--cache-from {ref}: no such image here; not used",
                            warning=True))
        pulled: set[str] = set()
        stale: dict[str, str] = {}
        resolve = _base_resolver(store, req.pull, pulled, stale)
        solver = Solver(svc, plan, emit, context, extra, plat, resolve, pulled=pulled,
                        stale=stale)
        if not req.pull and not req.no_cache:
            def local(ref: str) -> Image:
                try:
                    return store.resolve(ref)
                except NotFound:
                    raise Miss(ref) from None  # the real solver pulls, or says why not

            solver.pull = local  # the probe never pulls
            state = solver.probe()
            solver.pull = resolve
            if state is None:
                state = _solve(solver, probe=False)
        else:
            state = _solve(solver, probe=False)
        steps.close()  # the image itself is written with every write synced
        v = solver.next_vertex()
        t0 = time.monotonic()
        emit(E.StepStarted(v, "exporting to image"))
        for k, val in req.labels.items():
            state.set_label(k, val)
        from .execute import now

        created = state.latest_created(now())
        oci = state.oci_config(created, state.author or author)
        svc.make_durable()  # the image's layers on disk before the image names them
        image = _registered(store, oci, req.tags) or store.add_image(oci, state.layers,
                                                                     list(req.tags))
        emit(E.Note(f"writing image {image.id} done", v))
        for t in req.tags:
            emit(E.Note(f"naming to {reference.normalize(t)} done", v))
        emit(E.StepDone(v, time.monotonic() - t0))
        emit(E.Finished(image.id, tuple(req.tags), time.monotonic() - started))
        return BuildResult(image.id, list(req.tags), list(df.warnings))
