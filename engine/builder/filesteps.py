"""COPY, ADD and WORKDIR: file steps written through a detached overlay of the parent.

Sources come from the build context (or a named additional context), another stage or
any image (``--from``), a here-document (``COPY <<EOF /f``), or, for ADD, a URL or a
local tar archive (extracted with the image store's safe unpacking). The key of a file
step is its parent's chain id (none with ``--link``), the expanded instruction and the
content digest of what it reads. A plain COPY after a RUN may find its files staged
already (:mod:`.prefetch`): they are renamed into the layer instead of copied.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import posixpath
import time
from collections.abc import Iterator
from pathlib import Path

from pycompose.util.records import record

from ..errors import EngineError, InvalidArgument, NotFound
from ..images import fsops
from . import cache as C
from . import prefetch
from .context import Context, has_glob
from .copy import RootSource, Target, copy_sources, parse_chmod, resolve_owner, write_content
from .dockerfile import Add, Copy, Workdir
from .execute import Miss, Services, commit_upper, now, relink
from .overlay import mounted
from .state import State


@record
class FromSource:
    """Where a COPY reads: a context folder, or a stage's/image's state."""

    context: Context | None = None
    state: State | None = None
    label: str = "context"  # for keys and messages

    @property
    def is_root(self) -> bool:
        return self.state is not None


def _is_url(s: str) -> bool:
    return s.startswith(("http://", "https://"))


def _is_git(s: str) -> bool:
    return s.startswith("git@") or s.endswith(".git") or ".git#" in s


def _download(svc: Services, url: str, what: str, checksum: str) -> tuple[Path, float | None]:
    """``url`` into the build's workspace; (file, Last-Modified as epoch)."""
    import email.utils
    import urllib.parse
    import urllib.request

    d = svc.work.new_dir("url")
    name = posixpath.basename(urllib.parse.urlparse(url).path) or "index.html"
    dest = d / name
    h = hashlib.sha256()
    try:
        req = urllib.request.Request(url, headers={"User-Agent": "pycompose-builder"})
        with urllib.request.urlopen(req, timeout=60) as resp, open(dest, "wb") as out:
            while chunk := resp.read(1 << 20):
                h.update(chunk)
                out.write(chunk)
            modified = resp.headers.get("Last-Modified")
    except (OSError, ValueError) as e:
        raise EngineError(f"{what}: cannot download {url}: {e}") from None
    if checksum:
        algo, _, want = checksum.partition(":")
        if algo != "sha256" or not want:
            raise InvalidArgument(f"{what}: --checksum {checksum!r}: use sha256:HEX")
        if h.hexdigest() != want.lower():
            raise InvalidArgument(f"{what}: {url}: checksum mismatch: expected {checksum}, "
                                  f"got sha256:{h.hexdigest()}")
    mtime = None
    if modified:
        with contextlib.suppress(TypeError, ValueError):
            mtime = email.utils.parsedate_to_datetime(modified).timestamp()
    os.chmod(dest, 0o600)
    if mtime is not None:
        os.utime(dest, (mtime, mtime))
    return dest, mtime


def _archive_kind(path_fd: int) -> str | None:
    """The compression of a tar archive at ``path_fd``, "" for a plain tar, None when
    it is not an archive."""
    from ..images import layers as L

    head = os.pread(path_fd, 512, 0)
    comp = L.sniff_compression(head[:8])
    if comp:
        return comp
    if len(head) >= 262 and head[257:262] == b"ustar":
        return ""
    return None


@contextlib.contextmanager
def _root_of(svc: Services, state: State) -> Iterator[RootSource]:
    with mounted(svc.lowerdirs(state.layers), empty=svc.empty) as fd:
        src = RootSource(fd)
        try:
            yield src
        finally:
            src.close()


def copy_step(svc: Services, state: State, ins: Copy, src: FromSource
              ) -> tuple[str, str, bool]:
    """COPY or ADD (blocking). Returns (key, created_by, cached) after appending the
    layer to ``state``."""
    df = svc.dockerfile
    env = state.expansion_env()
    line = ins.line
    what = f"{df.name}:{line}: {ins.keyword}"
    dest = df.expand(ins.dest, env, line)
    sources = [df.expand(s, env, line) for s in ins.sources]
    chown = df.expand(ins.chown, env, line) if ins.chown else ""
    chmod_text = df.expand(ins.chmod, env, line) if ins.chmod else ""
    chmod = parse_chmod(chmod_text, what) if chmod_text else None
    is_add = isinstance(ins, Add)
    contents = [(h.name, df.expand(h.text(), env, line, raw=True) if h.expand else h.text())
                for h in ins.contents]
    if not dest:
        raise df.error(line, f"{ins.keyword} needs a destination")
    workdir = state.workdir()
    many = len(sources) + len(contents) > 1
    shown = " ".join([ins.keyword, *([f"--from={src.label}"] if src.is_root else []),
                      *sources, *[f"<<{n}" for n, _ in contents], dest])
    created_by = shown

    # what the step reads, and its digest
    urls = [s for s in sources if is_add and _is_url(s)]
    local = [s for s in sources if s not in urls]
    for s in sources:
        if is_add and _is_git(s) and (s in urls or s.startswith("git@")):
            raise InvalidArgument(f"{what}: git sources are not supported by this builder "
                                  f"({s}); clone in a RUN step instead")
    if urls and svc.probe:
        raise Miss(created_by)  # a URL is fetched (and summed) on every build
    downloads: list[tuple[str, Path]] = []
    for u in urls:
        path, _ = _download(svc, u, what, getattr(ins, "checksum", ""))
        downloads.append((u, path))
    inputs: list[str] = []
    rels: list[str] = []
    staged = svc.prefetched.pop(id(ins), None)
    if staged is not None:
        staged.wait()  # its thread reads the context too: done before this step does
    landed: list[str] | None = None  # the staged names renamed into the upper dir
    with contextlib.ExitStack() as stack:
        root_src: RootSource | None = None
        if src.is_root:
            assert src.state is not None
            root_src = stack.enter_context(_root_of(svc, src.state))
            for s in local:
                if not has_glob(s):
                    rel = posixpath.normpath(s.lstrip("/")) if s.strip("/") else ""
                    rel = "" if rel == "." else rel
                    if not root_src.exists(rel):
                        raise NotFound(f"{what}: {s!r} not found in {src.label}")
                    rels.append(rel)
                else:
                    found = root_src.glob(s)
                    if not found:
                        raise NotFound(f"{what}: {s!r} matches nothing in {src.label}")
                    rels += found
            inputs.append(f"root {src.state.top_chain} " + "\0".join(rels))
        elif local:
            ctx = src.context
            if ctx is None:
                raise InvalidArgument(f"{what}: there is no build context")
            for s in local:
                rels += ctx.resolve(s, what)
            inputs.append(ctx.digest(rels, what))
        for u, path in downloads:
            inputs.append(f"url {u} " + _file_digest(path))
        for name, data in contents:
            inputs.append(f"content {name} " + hashlib.sha256(data.encode()).hexdigest())
        many = many or len(rels) + len(downloads) + len(contents) > 1
        parent = None if ins.link else state.parent_key
        k = C.key(ins.keyword.lower(), parent, dest=dest, workdir=workdir, chown=chown,
                  chmod=chmod, link=ins.link, inputs=inputs,
                  unpack=getattr(ins, "unpack", None), exclude=ins.exclude)
        below_chain = state.layers[-1].chain_id if state.layers else None
        hit = svc.cache.get(k, below_chain)
        if hit is not None:
            if staged is not None:
                staged.discard()
            state.add_layer(hit.layer, k)
            state.record(created_by, created=hit.created, author=hit.author, layer=True,
                         comment=C.comment(k))
            return k, created_by, True
        if svc.probe:
            raise Miss(created_by)
        names = None
        if staged is not None:
            plan = None
            if src.context is not None and not src.is_root and len(inputs) == 1:
                plan = prefetch.plan_for(df, state, ins, src.context)
            names = staged.take(plan, inputs[0])
        if ins.link:
            old = svc.cache.blob_for(k)
            if old is not None:
                created = now()
                layer = relink(svc, old, state.layers, k, what, created)
                state.add_layer(layer, k)
                state.record(created_by, created=created, author=svc.author, layer=True,
                             comment=C.comment(k))
                return k, created_by, False

        step = svc.work.new_dir("copy")
        upper, work = step / "upper", step / "work"
        upper.mkdir()
        work.mkdir()
        lowers = [] if ins.link else svc.lowerdirs(state.layers)
        owner: tuple[int, int] | None = None
        with mounted(lowers, str(upper), str(work), empty=svc.empty) as root_fd:
            if chown:
                if ins.link and not _numeric_owner(chown) and state.layers:
                    with _root_of(svc, state) as parent_root:
                        owner = resolve_owner(parent_root.root_fd, chown, what)
                else:
                    owner = resolve_owner(root_fd, chown, what)
            target = Target(root_fd, owner, chmod, keep_owner=src.is_root)
            stack.callback(target.close)
            if rels:
                if root_src is not None:
                    source: RootSource | Context = root_src
                else:
                    assert src.context is not None
                    source = src.context
                if is_add and not src.is_root and getattr(ins, "unpack", None) is not False:
                    plain = _add_archives(source, target, rels, dest, workdir, what)
                else:
                    plain = rels
                if names is not None and prefetch.make_room(
                        target, root_fd, prefetch.dest_abs_of(dest, workdir), names):
                    landed, plain = names, []  # moved in once the overlay is closed
                elif names is not None:
                    staged.discard()
                if plain:
                    copy_sources(source, target, plain, dest, workdir=workdir, what=what,
                                 many=many)
            for _url, path in downloads:
                dctx = Context.open(path.parent)
                stack.callback(dctx.close)
                copy_sources(dctx, target, [path.name], dest, workdir=workdir, what=what,
                             many=many)
            for name, data in contents:
                write_content(target, data.encode(), dest, name, workdir=workdir,
                              mode=0o644, mtime_ns=time.time_ns())
    if landed is not None:
        prefetch.move_in(staged, landed, upper, prefetch.dest_abs_of(dest, workdir))
    created = now()
    layer = commit_upper(svc, upper, state.layers, k, what, created)
    state.add_layer(layer, k)
    state.record(created_by, created=created, author=svc.author, layer=True,
                 comment=C.comment(k))
    return k, created_by, False


def _numeric_owner(spec: str) -> bool:
    user, _, group = spec.partition(":")
    return user.isdigit() and (not group or group.isdigit())


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _add_archives(source: RootSource | Context, target: Target, rels: list[str], dest: str,
                  workdir: str, what: str) -> list[str]:
    """ADD's local archives: each tar (plain, gzip, bzip2, xz, zstd) among ``rels`` is
    extracted into ``dest``; the others are returned to be copied."""
    from ..images import layers as L

    plain = []
    dest_abs = posixpath.normpath(posixpath.join(workdir or "/", dest))
    for rel in rels:
        entry = next(iter(source.walk(rel)))
        if entry.kind != "file":
            plain.append(rel)
            continue
        fd = source.open_file(rel)
        try:
            kind = _archive_kind(fd)
            if kind is None:
                plain.append(rel)
                continue
            dfd = target.dir_fd(dest_abs)
            try:
                with open(fd, "rb", closefd=False) as raw:
                    L.unpack(raw, fsops.fd_path(dfd), what=f"{what} {rel}", plain=True,
                             owners=True)
            finally:
                os.close(dfd)
        finally:
            os.close(fd)
    return plain


def workdir_step(svc: Services, state: State, ins: Workdir) -> tuple[str, str, bool] | None:
    """WORKDIR: the config always; a layer with the directory when the parent lacks it
    (made by the USER, as BuildKit). None when no layer was needed."""
    df = svc.dockerfile
    path = df.expand(ins.path, state.expansion_env(), ins.line)
    if not path:
        raise df.error(ins.line, "WORKDIR needs a path")
    wd = state.set_workdir(path)
    created_by = f"WORKDIR {wd}"
    if wd == "/":
        return None
    user = state.user()
    k = C.key("workdir", state.parent_key, path=wd, user=user)
    # a layer made before for this parent, or the parent known to have the directory:
    # no need to look into the image at all
    hit = svc.cache.get(k, state.layers[-1].chain_id if state.layers else None)
    if hit is not None:
        state.add_layer(hit.layer, k)
        state.record(created_by, created=hit.created, author=hit.author, layer=True,
                     comment=C.comment(k))
        return k, created_by, True
    exists_mark = svc.root / "build" / "seen" / f"wd-{k[:40]}"
    if exists_mark.exists():
        return None
    with _root_of(svc, state) as root:
        if root.exists(wd.lstrip("/")):
            with contextlib.suppress(OSError):
                exists_mark.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                exists_mark.touch(mode=0o600)
            return None
        owner = resolve_owner(root.root_fd, user, f"{df.name}:{ins.line}: WORKDIR") \
            if user else None
    if svc.probe:
        raise Miss(created_by)
    step = svc.work.new_dir("workdir")
    upper, work = step / "upper", step / "work"
    upper.mkdir()
    work.mkdir()
    with mounted(svc.lowerdirs(state.layers), str(upper), str(work), empty=svc.empty) as fd:
        target = Target(fd, owner)
        try:
            os.close(target.dir_fd(wd))
        finally:
            target.close()
    created = now()
    layer = commit_upper(svc, upper, state.layers, k, f"{df.name}:{ins.line}: WORKDIR",
                         created)
    state.add_layer(layer, k)
    state.record(created_by, created=created, author=svc.author, layer=True,
                 comment=C.comment(k))
    return k, created_by, False
