"""The OCI runtime lifecycle over this runtime (runc's commands): create, start,
state, kill, delete, run, exec, list, ps.

``create`` must return with the container waiting for ``start`` in another process,
as runc's exec fifo does. The runtime's launcher already waits for a "start" message
on a socket held by whoever called ``runtime.create``; so ``create`` forks a small
*holder* (setsid, stdio on /dev/null) that calls it, reports back, and then serves
``<root>/<id>/shim.sock``: "start" (startContainer hooks, the start handshake,
poststart hooks) until PID 1 exits, whose status it records and reaps (it is PID 1's
parent and a subreaper). It exits with its container; everything else (state, kill,
delete) works from the files and /proc, whether the holder is there or not.

``run`` is the same holder in the foreground: it starts at once and exits with the
container's status.
"""

from __future__ import annotations

import array
import contextlib
import json
import logging
import os
import select
import signal
import socket
import sys
import time
from dataclasses import replace
from pathlib import Path

from ..errors import Conflict, EngineError, InvalidArgument, NotFound, SetupFailed
from . import container as rt
from .hooks import run_hook
from .oci import Bundle, Hook, load_bundle
from .ocistate import OciState, Record, Status, Store, alive, now_rfc3339, proc_start_time
from .spec import CapabilitySets, Process

log = logging.getLogger("pycompose.runtime.oci")

SIGNALS = {name[3:]: int(getattr(signal, name)) for name in dir(signal)
           if name.startswith("SIG") and not name.startswith("SIG_")}


def parse_signal(text: str) -> int:
    """"TERM", "SIGTERM", "15" -> 15."""
    t = text.upper()
    if t.isdigit():
        return int(t)
    t = t[3:] if t.startswith("SIG") else t
    if t not in SIGNALS:
        raise InvalidArgument(f"unknown signal {text!r}")
    return SIGNALS[t]


# --- create ---------------------------------------------------------------------------

def create(store: Store, cid: str, bundle: str, *, pid_file: str | None = None,
           console_socket: str | None = None, detach_stdio: bool = True) -> None:
    """Make the container and leave it waiting for ``start``; returns once it is
    "created" (or raises why not, having removed what it made)."""
    d = store.make(cid)
    try:
        b = load_bundle(bundle, cid, str(d / "runtime"))
        if b.spec.process.terminal and console_socket is None:
            raise InvalidArgument("process.terminal is true: --console-socket is needed to "
                                  "receive the terminal (or use 'run' in the foreground)")
        if not b.spec.process.terminal and console_socket is not None:
            raise InvalidArgument("--console-socket was given but process.terminal is false")
        rec = Record(id=cid, bundle=b.path, oci_version=b.oci_version,
                     annotations=b.annotations, hooks=b.hooks, spec=b.spec,
                     created=now_rfc3339())
        store.save_record(rec)
    except BaseException:
        _remove_dir(d)
        raise
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the holder
        os.close(r)
        code = 1
        try:
            os.setsid()
            code = _holder(store, rec, b, w, pid_file=pid_file, console_socket=console_socket,
                           autostart=False, detach_stdio=detach_stdio)
        except BaseException as e:  # never a traceback from the holder: log it
            log.exception("holder of %s", cid)
            _report(w, {"ok": False, "kind": "internal", "message": f"holder: {e!r}"})
        finally:
            os._exit(code)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        answer = f.read()
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    _raise_from(answer, cid)


def _raise_from(answer: bytes, cid: str) -> None:
    try:
        msg = json.loads(answer.decode() or "{}")
    except ValueError:
        msg = {}
    if msg.get("ok"):
        return
    text = msg.get("message") or f"container {cid}: the holder exited before reporting"
    kinds: dict[str, type[EngineError]] = {"invalid": InvalidArgument, "conflict": Conflict,
                                           "not_found": NotFound}
    raise kinds.get(msg.get("kind", ""), SetupFailed)(text)


def _report(fd: int, msg: dict[str, object]) -> None:
    with contextlib.suppress(OSError):
        os.write(fd, json.dumps(msg).encode())
        os.close(fd)


def _state_json(rec: Record, status: str, pid: int) -> str:
    return OciState(id=rec.id, status=status, pid=pid, bundle=rec.bundle,
                    annotations=rec.annotations, oci_version=rec.oci_version,
                    created=rec.created, owner=rec.owner).to_json()


def _run_hooks(hooks: list[Hook], kind: str, state: str, *, pid: int | None = None,
               in_container: bool = False, fatal: bool = True) -> None:
    for h in hooks:
        try:
            run_hook(h, state, kind, container_pid=pid if in_container else None,
                     resolve_in_container=kind == "startContainer")
        except SetupFailed as e:
            if fatal:
                raise
            log.warning("%s (the spec says: warn, and go on)", e)


def _holder(store: Store, rec: Record, b: Bundle, report_fd: int, *, pid_file: str | None,
            console_socket: str | None, autostart: bool, detach_stdio: bool) -> int:
    cid = rec.id
    rec.shim_pid, rec.shim_start = os.getpid(), proc_start_time(os.getpid())
    store.save_record(rec)
    listener = None
    try:
        c = rt.create(rec.spec, stdin=0, stdout=1, stderr=2)
    except EngineError as e:
        _report(report_fd, {"ok": False, "kind": e.kind, "message": str(e)})
        _remove_dir(store.dir(cid))
        return 1
    try:
        st = Status(pid=c.pid, pid_start=proc_start_time(c.pid))
        store.save_status(cid, st)
        created = _state_json(rec, "created", c.pid)
        _run_hooks(b.hooks.prestart, "prestart", created)
        _run_hooks(b.hooks.create_runtime, "createRuntime", created)
        _run_hooks(b.hooks.create_container, "createContainer", created, pid=c.pid,
                   in_container=True)
        if console_socket is not None:
            _send_console(console_socket, c)
        if pid_file:
            _write_pid_file(pid_file, c.pid)
        if not autostart:
            listener = _listen(store.dir(cid) / "shim.sock")
    except BaseException as e:
        rt.destroy(rec.spec)
        c.close()
        kind = e.kind if isinstance(e, EngineError) else "internal"
        _report(report_fd, {"ok": False, "kind": kind, "message": str(e)})
        _remove_dir(store.dir(cid))
        return 1
    if detach_stdio:
        _stdio_to_null()
    if autostart:
        _forward_signals(c.pid)
        err = _start(store, rec, b, c, st)
        _report(report_fd, {"ok": err is None, "kind": "setup_failed", "message": err or ""})
    else:
        _report(report_fd, {"ok": True})
    return _serve(store, rec, b, c, st, listener)


def _serve(store: Store, rec: Record, b: Bundle, c: rt.Container, st: Status,
           listener: socket.socket | None) -> int:
    """Answer "start" until PID 1 exits; record its status; return it."""
    try:
        while c.poll() is None:
            fds = [c.pidfd] + ([listener.fileno()] if listener is not None else [])
            ready, _, _ = select.select(fds, [], [], 1.0)
            if listener is not None and listener.fileno() in ready:
                try:
                    conn, _ = listener.accept()
                except OSError:
                    continue
                with conn:
                    _answer(conn, store, rec, b, c, st)
        code = c.wait()
        st.exit_code = code
        store.save_status(rec.id, st)
        return code
    finally:
        if listener is not None:
            listener.close()
            with contextlib.suppress(OSError):
                os.unlink(store.dir(rec.id) / "shim.sock")
        c.close()


def _answer(conn: socket.socket, store: Store, rec: Record, b: Bundle, c: rt.Container,
            st: Status) -> None:
    conn.settimeout(5)
    try:
        data = conn.recv(4096)
    except OSError:
        return
    try:
        req = json.loads(data.decode() or "{}")
    except ValueError:
        req = {}
    if req.get("op") != "start":
        reply = {"ok": False, "message": f"unknown request {req!r}"}
    elif st.started:
        reply = {"ok": False, "message": f"container {rec.id} is not in created state"}
    else:
        err = _start(store, rec, b, c, st)
        reply = {"ok": err is None, "message": err or ""}
    with contextlib.suppress(OSError):
        conn.settimeout(None)
        conn.sendall(json.dumps(reply).encode())


def _start(store: Store, rec: Record, b: Bundle, c: rt.Container, st: Status) -> str | None:
    """startContainer hooks, the start handshake, poststart hooks; an error text."""
    try:
        _run_hooks(b.hooks.start_container, "startContainer",
                   _state_json(rec, "created", c.pid), pid=c.pid, in_container=True)
        st.started = True
        store.save_status(rec.id, st)
        c.start()
    except EngineError as e:
        st.started = True
        if c.returncode is None:
            rt.kill_all(rec.spec)
        return str(e)
    _run_hooks(b.hooks.poststart, "poststart", _state_json(rec, "running", c.pid),
               fatal=False)
    return None


#: What ``run`` in the foreground passes on to the container's process, as runc does.
FORWARDED = (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGTERM, signal.SIGUSR1,
             signal.SIGUSR2, signal.SIGWINCH)


def _forward_signals(pid: int) -> None:
    def forward(sig: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)

    for sig in FORWARDED:
        signal.signal(sig, forward)


def _listen(path: Path) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    old = os.umask(0o177)
    try:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        s.bind(str(path))
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    s.listen(4)
    return s


def _send_console(path: str, c: rt.Container) -> None:
    """Hand the pty master to whoever listens on ``--console-socket`` (runc's way:
    one SCM_RIGHTS message on a unix socket)."""
    if c.pty_master is None:
        raise InvalidArgument("--console-socket given but the container has no terminal")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        s.connect(path)
        s.sendmsg([b"/dev/ptmx"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                    array.array("i", [c.pty_master]))])
    except OSError as e:
        raise SetupFailed(f"--console-socket {path}: {e.strerror}") from None
    finally:
        s.close()
    os.close(c.pty_master)
    c.pty_master = None


def _write_pid_file(path: str, pid: int) -> None:
    p = Path(path).absolute()
    tmp = p.with_name(f".{p.name}.{os.getpid()}")
    try:
        tmp.write_text(str(pid))
        os.replace(tmp, p)
    except OSError as e:
        raise InvalidArgument(f"--pid-file {path}: {e.strerror}") from None


def _stdio_to_null() -> None:
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)


def _remove_dir(d: Path) -> None:
    for name in ("record.json", "status.json", "lock", "shim.sock", "record.json.tmp",
                 "status.json.tmp"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(d / name)
    import shutil

    shutil.rmtree(d, ignore_errors=True)


# --- start, state, kill, delete ----------------------------------------------------------

def start(store: Store, cid: str) -> None:
    with store.lock(cid):
        _rec, _st, state = store.state(cid)
        if state.status != "created":
            raise Conflict(f"container {cid} is not in created state (it is {state.status})")
        path = store.dir(cid) / "shim.sock"
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        try:
            s.connect(str(path))
            s.sendall(json.dumps({"op": "start"}).encode())
            s.shutdown(socket.SHUT_WR)
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
        except OSError as e:
            raise Conflict(f"container {cid}: its holder does not answer ({e.strerror}): "
                           "'delete --force' removes it") from None
        finally:
            s.close()
    try:
        reply = json.loads(b"".join(chunks).decode() or "{}")
    except ValueError:
        reply = {}
    if not reply.get("ok"):
        raise SetupFailed(reply.get("message") or f"container {cid}: start failed")


def state(store: Store, cid: str) -> OciState:
    return store.state(cid)[2]


def list_states(store: Store) -> list[OciState]:
    out = []
    for cid in store.ids():
        with contextlib.suppress(NotFound, InvalidArgument):
            out.append(store.state(cid)[2])
    return out


def kill(store: Store, cid: str, sig: int, *, all_processes: bool = False) -> None:
    rec, _st, state = store.state(cid)
    if state.status not in ("created", "running"):
        raise Conflict(f"container {cid} is not running (it is {state.status})")
    if all_processes:
        rt.kill_all(rec.spec, sig)
        return
    try:
        os.kill(state.pid, sig)
    except ProcessLookupError:
        raise Conflict(f"container {cid} is not running") from None


def delete(store: Store, cid: str, *, force: bool = False) -> None:
    with store.lock(cid):
        rec, st, state = store.state(cid)
        if state.status in ("created", "running", "creating"):
            if not force:
                raise Conflict(f"cannot delete container {cid} that is not stopped: "
                               f"{state.status} (kill it first, or delete --force)")
            rt.kill_all(rec.spec)
            _wait_gone(state.pid, st.pid_start)
        if rec.shim_pid != os.getpid() and alive(rec.shim_pid, rec.shim_start):
            _wait_gone(rec.shim_pid, rec.shim_start, timeout=2.0, kill=True)
        rt.destroy(rec.spec)
        _run_hooks(rec.hooks.poststop, "poststop", _state_json(rec, "stopped", 0),
                   fatal=False)
        _remove_dir(store.dir(cid))


def _wait_gone(pid: int, start: int, timeout: float = 10.0, kill: bool = False) -> None:
    deadline = time.monotonic() + timeout
    while alive(pid, start):
        if time.monotonic() > deadline:
            if not kill:
                raise Conflict(f"process {pid} did not exit within {timeout:.0f} s")
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            kill = False
            deadline = time.monotonic() + timeout
        time.sleep(0.005)


def ps(store: Store, cid: str) -> list[int]:
    rec = store.load_record(cid)
    return rt.cgroup_of(rec.spec).pids()


# --- run, exec --------------------------------------------------------------------------

def run(store: Store, cid: str, bundle: str, *, pid_file: str | None = None,
        console_socket: str | None = None, detach: bool = False, keep: bool = False) -> int:
    """create + start; in the foreground, wait and return the container's exit status
    (then delete it unless ``keep``)."""
    if detach:
        create(store, cid, bundle, pid_file=pid_file, console_socket=console_socket)
        start(store, cid)
        return 0
    d = store.make(cid)
    try:
        b = load_bundle(bundle, cid, str(d / "runtime"))
        rec = Record(id=cid, bundle=b.path, oci_version=b.oci_version,
                     annotations=b.annotations, hooks=b.hooks, spec=b.spec,
                     created=now_rfc3339())
        store.save_record(rec)
    except BaseException:
        _remove_dir(d)
        raise
    r, w = os.pipe()
    # the holder is this process: its report goes to a pipe we read right after
    os.set_blocking(r, False)
    terminal = b.spec.process.terminal and console_socket is None
    if terminal:
        return _run_terminal(store, rec, b, r, w, pid_file, keep)
    code = _holder(store, rec, b, w, pid_file=pid_file, console_socket=console_socket,
                   autostart=True, detach_stdio=False)
    answer = _read_all(r)
    try:
        _raise_from(answer, cid)
    finally:
        if not keep:
            with contextlib.suppress(NotFound):
                delete(store, cid, force=True)
    return code


def _read_all(fd: int) -> bytes:
    out = b""
    with contextlib.suppress(BlockingIOError, OSError):
        while chunk := os.read(fd, 65536):
            out += chunk
    with contextlib.suppress(OSError):
        os.close(fd)
    return out


def _run_terminal(store: Store, rec: Record, b: Bundle, r: int, w: int,
                  pid_file: str | None, keep: bool) -> int:
    """``run`` of a terminal container without --console-socket: this process relays
    between its own stdio and the pty, as runc does."""
    from .ptyrelay import relay

    try:
        c = rt.create(rec.spec)
        st = Status(pid=c.pid, pid_start=proc_start_time(c.pid))
        store.save_status(rec.id, st)
        created = _state_json(rec, "created", c.pid)
        _run_hooks(b.hooks.prestart, "prestart", created)
        _run_hooks(b.hooks.create_runtime, "createRuntime", created)
        _run_hooks(b.hooks.create_container, "createContainer", created, pid=c.pid,
                   in_container=True)
        if pid_file:
            _write_pid_file(pid_file, c.pid)
        err = _start(store, rec, b, c, st)
        if err:
            raise SetupFailed(err)
        assert c.pty_master is not None
        relay(c.pty_master, c.pidfd)
        code = c.wait()
        st.exit_code = code
        store.save_status(rec.id, st)
        c.close()
        return code
    finally:
        for fd in (r, w):
            with contextlib.suppress(OSError):
                os.close(fd)
        if not keep:
            with contextlib.suppress(NotFound):
                delete(store, rec.id, force=True)


def exec_process(store: Store, cid: str, process: Process, *, pid_file: str | None = None,
                 console_socket: str | None = None, detach: bool = False,
                 capability_sets: CapabilitySets | None = None) -> int:
    """One more process in a running container; its exit status unless ``detach``."""
    rec, _st, state = store.state(cid)
    if state.status != "running":
        raise Conflict(f"cannot exec in container {cid}: it is {state.status}, not running")
    spec = rec.spec
    if capability_sets is not None:
        spec = replace(spec, capability_sets=capability_sets)
    use_relay = process.terminal and console_socket is None and not detach
    if process.terminal and console_socket is None and detach:
        raise InvalidArgument("exec --tty --detach needs --console-socket")
    p = rt.exec_process(spec, state.pid, process, stdin=None if process.terminal else 0,
                        stdout=None if process.terminal else 1,
                        stderr=None if process.terminal else 2)
    if pid_file:
        _write_pid_file(pid_file, p.pid)
    if p.pty_master is not None and console_socket is not None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        try:
            s.connect(console_socket)
            s.sendmsg([b"/dev/ptmx"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                        array.array("i", [p.pty_master]))])
        except OSError as e:
            raise SetupFailed(f"--console-socket {console_socket}: {e.strerror}") from None
        finally:
            s.close()
            os.close(p.pty_master)
    if detach:
        return 0
    if use_relay and p.pty_master is not None:
        from .linux import pidfd_open
        from .ptyrelay import relay

        pidfd = pidfd_open(p.pid)
        try:
            relay(p.pty_master, pidfd)
        finally:
            os.close(pidfd)
            os.close(p.pty_master)
    return p.wait()


def stdin_is_tty() -> bool:
    return sys.stdin.isatty()
