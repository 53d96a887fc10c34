"""The containers the supervisor holds: start them as its children, watch them exit,
write their logs, apply restart policies, stop and remove them.

Everything here runs in the supervisor's one trio thread, so two requests about one
container are serialised by that container's ``trio.Lock``; the records on disk are
also written under their flock, for the CLI's direct readers.

Each live container has one watcher task (a pidfd made readable by the exit). Its
output never passes through here: the read ends of its stdout/stderr pipes (or its
terminal) go to the log keeper (``logs.py``), which logs them and relays them to an
attached client, and outlives a crash of this process. When PID 1 exits: the runtime
kills what is left in its cgroup, the keeper drains the streams, OOMKilled is read, the
runtime's objects are destroyed, the record gets the exit code, waiters are woken, then
``--restart`` or ``--rm`` apply.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import trio

from pycompose.util.besteffort import best_effort
from pycompose.util.fs import read_json

from ..api.requests import CreateRequest, ExecRequest
from ..containers import ContainerStore, Record, id_maps, new_state
from ..errors import CannotExecute, CommandNotFound, Conflict, Damaged, EngineError, NotFound
from ..logs import config as logcfg
from ..record import ContainerRecord, Health, Status, parse_iso
from ..record import ContainerRecord as CR
from ..volumes import VolumeStore
from . import children, health, net, records, rt
from . import spec as S
from .events import EventBus
from .logs import Held, LogService

log = logging.getLogger("pycompose.supervisor")

UNKNOWN_EXIT = 255
#: seconds of running after which a restarting container's back-off starts over
BACKOFF_RESET = 10.0

#: a process's stdin, stdout, stderr (None: /dev/null)
Stdio = tuple[int | None, int | None, int | None]


@dataclass
class Live:
    """A running container (or one exec'd process in it)."""

    cid: str
    spec: Any
    pid: int
    child: bool = True  # False when adopted from a dead supervisor: no exit status
    done: trio.Event = field(default_factory=trio.Event)
    code: int | None = None
    pty_master: int | None = None
    log: Held | None = None  # the keeper's session of this start's output
    pty_out: int | None = None  # an attached -t client reads the terminal's output here
    stop_requested: bool = False
    killed: bool = False  # we sent SIGKILL
    paused: bool = False  # frozen (``pause``): no healthcheck probes meanwhile
    execs_starting: int = 0  # exec launches in flight: they may still join the cgroup
    stdin_keep: int | None = None  # -i detached: the write end of its stdin, held open


def backoff_step(restarts_in_a_row: int, ran: float) -> int:
    """The back-off step of the next restart (0: 100 ms, then doubling): it starts over
    once the container ran ``BACKOFF_RESET`` seconds, as docker's does."""
    return 0 if ran >= BACKOFF_RESET else restarts_in_a_row


def exit_status(status: int) -> int:
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)



def _close_terminal(live: Live) -> None:
    """The supervisor's ends of an exited container's terminal."""
    for fd in (live.pty_master, live.pty_out):
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)
    live.pty_master = live.pty_out = None

class Holder:
    def __init__(self, root: Path, nursery: trio.Nursery) -> None:
        self.root = root
        self.store = ContainerStore(root)
        self.volumes = VolumeStore(root)
        self.nursery = nursery
        self.live: dict[str, Live] = {}
        self.execs: set[int] = set()
        self._locks: dict[str, trio.Lock] = {}
        self._backoff: dict[str, int] = {}  # restarts in a row, for the back-off
        self._net_services: Any = None
        self.starting = 0  # creates and execs in worker threads
        self.removing = 0  # auto-removals still under way after their exit was told
        self.logs = LogService(root)
        self.events = EventBus()

    def _spawn(self, fn: Callable[..., Awaitable[object]], *args: Any) -> None:
        """A task about one container: its bug is logged, and never takes the
        supervisor (and with it the management of every other container) down."""
        async def guarded() -> None:
            try:
                await fn(*args)
            except Exception:
                log.exception("task %s%r failed", getattr(fn, "__name__", fn),
                              tuple(a for a in args if isinstance(a, str)))
        self.nursery.start_soon(guarded)

    def lock(self, cid: str) -> trio.Lock:
        return self._locks.setdefault(cid, trio.Lock())

    def _start_network_services(self) -> None:
        """DNS for container names on user networks (and netplug's userland proxies):
        one task for all networks, started with the first container that needs it."""
        if self._net_services is not None:
            self._net_services.notify()
            return
        self._net_services = net.services(self.root)
        self.nursery.start_soon(self._net_services.run)

    def busy(self) -> bool:
        return bool(self.live or self.execs or self.removing)

    async def settle(self, timeout: float = 10.0) -> None:
        """Until the removals still going after their exit code was given are done
        (before the supervisor leaves: nothing of theirs may be left)."""
        with trio.move_on_after(timeout):
            while self.removing:
                await trio.sleep(0.005)

    # -- create --------------------------------------------------------------------------
    async def unpack_image(self, req: CreateRequest) -> None:
        """Before create: unpack the image's layers a pull left packed, in a thread."""
        await trio.to_thread.run_sync(records.unpack_image, self.root, req)

    async def create(self, req: CreateRequest) -> Record:
        """The record, made in a worker thread: its first write is synced and the
        name check reads every record; on the trio thread, 30 creates at once were
        handled one after the other, and every other request waited behind them."""
        def make() -> Record:
            rec = records.new_record(self.root, req)
            return self.store.create(rec, req.name,
                                     lambda r: records.attach_storage(self.root, r))
        made = await trio.to_thread.run_sync(make)
        self.events.publish("create", made["Id"], made)
        return made

    # -- start ---------------------------------------------------------------------------
    async def start(self, cid: str, stdio: tuple[int | None, int | None, int | None] | None,
                    console_size: tuple[int, int] | None = None, *,
                    attached: bool = False) -> Live:
        """Start a created or exited container. ``stdio`` = the client's fds for an
        attached run without a terminal (its output is relayed there and logged);
        None = detached, or attached to a terminal."""
        async with self.lock(cid):
            if cid in self.live:
                return self.live[cid]
            return await self._start_locked(cid, stdio, console_size, attached)

    async def _start_locked(self, cid: str, stdio: tuple[int | None, int | None, int | None] | None,
                            console_size: tuple[int, int] | None,
                            attached: bool = False) -> Live:
        rec = self.store.load(cid)
        self._copy_up(rec)
        spec = records.runtime_spec(self.root, rec, console_size)
        tty = CR(rec).tty
        logging_cfg = logcfg.of_record(rec)
        client = None if tty else stdio
        pipes: list[int] = []
        null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        close_after = [null]
        stdin_keep: list[int] = []
        if tty:
            stdio = (null, None, None)
        elif client is None and not logging_cfg.readable:
            stdio = (null, null, null)  # --log-driver none, detached: nothing to keep
        else:
            r1, w1 = os.pipe2(os.O_CLOEXEC)
            r2, w2 = os.pipe2(os.O_CLOEXEC)
            stdin = client[0] if client is not None and client[0] is not None else null
            if client is None and (rec.get("Config") or {}).get("OpenStdin"):
                # docker keeps a detached -i container's stdin open (no EOF): `cat` waits
                stdin, keep = os.pipe2(os.O_CLOEXEC)
                close_after.append(stdin)
                stdin_keep.append(keep)
            pipes, stdio = [r1, r2], (stdin, w1, w2)
            close_after += [w1, w2]
        settings: dict[str, Any] = {}
        taken: list[Any] = []  # a network namespace wired ahead (net.take_prepared)

        def wire(pid: int) -> None:
            settings.update(net.attach(self.root, rec, pid, spec.root, *taken))

        def launch() -> rt.Started:
            if (pre := net.take_prepared(self.root, rec)) is not None:
                taken.append(pre)
                spec.namespaces["net"] = pre.netns_path  # joined, not made
            try:
                return rt.create(spec, stdio, wire if net.network_of(rec) else None)
            finally:
                if pre is not None:
                    net.forget_prepared(pre)
        self.starting += 1
        try:
            started = await trio.to_thread.run_sync(launch)
        except BaseException as e:
            for fd in pipes + stdin_keep:
                os.close(fd)
            with best_effort(log, "destroy %s after a failed start", cid[:12]):
                rt.destroy(spec)
            msg = str(e) if isinstance(e, EngineError) else f"{type(e).__name__}: {e}"
            # docker's State.ExitCode of a start that failed: 127/126 when the command
            # is missing or cannot run, 128 for any other step
            code = 127 if isinstance(e, CommandNotFound) else \
                126 if isinstance(e, CannotExecute) else 128
            try:  # a full disk fails this too: the first error is the one to report
                self.store.update(cid, lambda r: CR(r).mark_start_failed(code, msg),
                                  sync=False)
            except (OSError, EngineError) as e2:
                log.warning("recording the failed start of %s: %s", cid[:12], e2)
            raise
        finally:
            self.starting -= 1  # no await from here until the new pid is known
            for fd in close_after:
                os.close(fd)
        live = Live(cid, spec, started.pid, pty_master=started.pty_master,
                    stdin_keep=stdin_keep[0] if stdin_keep else None)
        self._hand_output(live, rec, logging_cfg, pipes, client, attached)

        def mark(r: Record) -> None:
            CR(r).mark_running(live.pid, rt.process_start_time(live.pid), settings)
        rec = self.store.update(cid, mark, sync=False)
        self.live[cid] = live
        self.events.publish("start", cid, rec)
        self._spawn(self._watch, live)
        if settings and net.network_of(rec) != "bridge":
            self._start_network_services()
        hc = CR(rec).healthcheck
        argv = health.test_command(hc)
        if argv and hc:
            cid = live.cid

            async def probe(req: ExecRequest, stdio: Stdio) -> Live:
                return await self.exec(cid, req, stdio)
            def changed(status: str, now: Record) -> None:
                self.events.publish(f"health_status: {status}", cid, now)
            self._spawn(health.run_checks, live.done, probe,
                        partial(self.store.update, cid, sync=False), argv, hc,
                        lambda: live.paused, changed)
        return live

    def _copy_up(self, rec: Record) -> None:
        lowers = [Path(p) for p in rec["GraphDriver"]["Data"]["LowerDir"].split(":")]
        uid_map, gid_map = id_maps(rec)
        for m in rec["Mounts"]:
            if m["Type"] == "volume" and (uid_map or not m.get("NoCopy")):
                self.volumes.copy_up(m["Name"], lowers, m["Destination"],
                                     copy=not m.get("NoCopy"), uid_map=uid_map,
                                     gid_map=gid_map)

    def _hand_output(self, live: Live, rec: Record, cfg: logcfg.LogSettings,
                     pipes: list[int], client: tuple[int | None, int | None, int | None]
                     | None, attached: bool) -> None:
        """Give the keeper this start's output: the pipes' read ends (relayed to an
        attached client's stdout and stderr too), or the terminal's master (relayed to
        an attached -t client through a pipe of its own, so that the terminal is logged
        while the client watches it)."""
        path = logcfg.log_file(self.store.path(live.cid), live.cid, cfg)
        if pipes:
            fwd = [client[1], client[2]] if client is not None else None
            live.log = self.logs.add(live.cid, path, cfg,
                                     list(zip(pipes, ("stdout", "stderr"), strict=True)),
                                     fwd)
        elif live.pty_master is not None:
            relay: list[int | None] | None = None
            if attached:
                live.pty_out, w = os.pipe2(os.O_CLOEXEC)
                relay = [w]
            try:
                live.log = self.logs.add(live.cid, path, cfg,
                                         [(os.dup(live.pty_master), "stdout")], relay)
            finally:
                if relay:
                    os.close(w)

    # -- exit ----------------------------------------------------------------------------
    async def _watch(self, live: Live) -> None:
        await children.exited(live.pid)
        # adopted: no status to read; a stop that had to SIGKILL it knows the answer
        code = 128 + signal.SIGKILL if live.killed else UNKNOWN_EXIT
        if live.child:
            with contextlib.suppress(ChildProcessError):
                _, status = os.waitpid(live.pid, 0)
                code = exit_status(status)
        try:
            await self._finish(live, code)
        except Exception:  # never the whole supervisor for one container's clean-up
            log.exception("container %s: cleaning up after its exit", live.cid[:12])
            self.live.pop(live.cid, None)
            live.code = code
            live.done.set()

    async def _finish(self, live: Live, code: int) -> None:
        if live.stdin_keep is not None:
            with contextlib.suppress(OSError):
                os.close(live.stdin_keep)
            live.stdin_keep = None
        with best_effort(log, "kill what is left of %s", live.cid[:12]):
            rt.kill_all(live.spec, signal.SIGKILL)
        with trio.move_on_after(10):  # an exec (a healthcheck) half set up joins late
            while live.execs_starting:
                await trio.sleep(0.01)
        if live.execs_starting == 0:
            with best_effort(log, "kill what is left of %s", live.cid[:12]):
                rt.kill_all(live.spec, signal.SIGKILL)
        await self.logs.drained(live.log, 5)
        oom = rt.oom_killed(live.spec)
        if oom and code == 128 + signal.SIGKILL:
            code = 137
        if await self._auto_removed(live, code):
            return
        def destroy_and_record() -> Record:
            """In a thread: a busy cgroup makes the destroy wait, and others must not;
            and the record's write with it, off the trio thread that 30 stops at once
            wait on. The container stays live (a start meanwhile finds it) until the
            record says it exited."""
            try:
                rt.destroy(live.spec)
            except Exception as e:  # the next supervisor's cleanup_leftovers retries
                log.warning("destroy %s: %s", live.cid[:12], e)
            return self.store.update(live.cid, lambda r: CR(r).mark_exited(
                code, oom_killed=oom, error="" if live.child else
                "exit status unknown: the supervisor holding it was restarted"), sync=False)
        try:
            rec = await trio.to_thread.run_sync(destroy_and_record)
        except (NotFound, Damaged) as e:  # removed, or left for rm -f to find by id
            if isinstance(e, Damaged):
                log.warning("container %s exited (%d): %s", live.cid[:12], code, e)
            rec = None
        finally:
            _close_terminal(live)
            live.code = code
            self.live.pop(live.cid, None)
        if rec is None:
            live.done.set()
            return
        self.events.publish("die", live.cid, rec, exitCode=str(code))
        exited = CR(rec)
        if self._should_restart(exited, code, live):
            live.done.set()
            ran = time.time() - parse_iso(exited.started_at)
            step = backoff_step(self._backoff.get(live.cid, 0), ran)
            self._backoff[live.cid] = step + 1
            self._spawn(self._restart_later, live.cid, exited.restart_count, step)
            return
        if exited.auto_remove:
            self._remove_files(live.cid, volumes=True)
            self.events.publish("destroy", live.cid, rec)
        live.done.set()

    async def _auto_removed(self, live: Live, code: int) -> bool:
        """``--rm`` (or a record already gone): the exit is not recorded, the record is
        buried (its name free, no reader lists it) and the waiters get the code (they
        read ``live.code``) at once, as soon as the output is drained; the cgroup, the
        network, the files go after, while the client is already gone (they were ~10
        ms of each ``run --rm``). The supervisor waits for them before it leaves
        (settle); a killed one leaves the grave, which the next one clears
        (reconcile). False for any other container."""
        cid = live.cid
        rec: Record | None = None
        try:
            rec = self.store.load(cid)
        except NotFound:
            pass
        except Damaged:
            return False
        if rec is not None and not CR(rec).auto_remove:
            return False
        grave = None
        if rec is not None:
            with contextlib.suppress(NotFound):
                grave = self.store.bury(cid)
        _close_terminal(live)
        live.code = code
        self.live.pop(cid, None)
        # its anonymous volumes are gone when run --rm returns, as docker's are (``volume
        # ls`` right after must not list them): then the client waits for it all
        told = not any(m.get("Type") == "volume" and m.get("Anonymous")
                       for m in (rec or {}).get("Mounts", []))
        if told:
            self._told_removed(live, rec, code)
        self.removing += 1
        try:  # in a thread: a busy cgroup makes it wait, and others must not
            await trio.to_thread.run_sync(self._clear_grave, cid, rec, grave, live.spec)
        except Exception as e:  # the next supervisor's cleanup_leftovers retries
            log.warning("removing %s: %s", cid[:12], e)
        finally:
            self.removing -= 1
            if not told:
                self._told_removed(live, rec, code)
        return True

    def _told_removed(self, live: Live, rec: Record | None, code: int) -> None:
        self.events.publish("die", live.cid, rec, exitCode=str(code))
        self.events.publish("destroy", live.cid, rec)
        live.done.set()

    def _clear_grave(self, cid: str, rec: Record | None, grave: Path | None,
                     spec: Any = None) -> None:
        """The rest of an auto-removal once the record is buried: the runtime's objects
        (by ``spec``, else by the id), the addresses and links, the anonymous volumes,
        the grave's files."""
        if spec is not None:
            if grave is not None:  # its runtime dir moved with its folder
                import dataclasses

                spec = dataclasses.replace(spec, root=str(grave / "rt"))
            rt.destroy(spec)
        else:
            rt.destroy_id(self.root, cid)
        if rec is not None:
            net.release(self.root, rec)
        if grave is not None:
            shutil.rmtree(grave, ignore_errors=True)
        self._locks.pop(cid, None)
        self._backoff.pop(cid, None)
        for m in (rec or {}).get("Mounts", []):
            if m.get("Type") == "volume" and m.get("Anonymous"):
                with contextlib.suppress(EngineError):
                    self.volumes.remove(m["Name"])

    def _clear_graves(self) -> None:
        """After a crash: finish the removals a killed supervisor (or ``rm``) left
        buried. An auto-removed container's record is in its grave: its addresses are
        released and its anonymous volumes removed (as its removal would have); an
        ``rm``'s grave keeps its volumes (``rm -v`` removed them before burying)."""
        for cid, grave in self.store.graves():
            rec: Record | None
            try:
                rec = read_json(grave / "state.json")
                if not isinstance(rec, dict) or not isinstance(rec.get("HostConfig"), dict):
                    raise ValueError("not a container record")
            except (OSError, ValueError) as e:
                rec = {"Id": cid, "HostConfig": {}, "Damaged": f"buried record: {e}"}
            if not CR(rec).auto_remove:
                rec = dict(rec, Mounts=[])
            with best_effort(log, "finish the removal of %s", cid[:12]):
                self._clear_grave(cid, rec, grave)

    @staticmethod
    def _should_restart(rec: ContainerRecord, code: int, live: Live) -> bool:
        if live.stop_requested:
            return False
        name, limit = rec.restart_policy
        if name in ("always", "unless-stopped"):
            return True
        if name == "on-failure" and code != 0:
            return limit == 0 or rec.restart_count < limit
        return False

    async def _restart_later(self, cid: str, count: int, step: int = 0) -> None:
        """docker's back-off: 100 ms doubling with each restart in a row (``step``), at
        most a minute; ``count`` is the record's RestartCount (every restart)."""
        try:
            self.store.update(cid, lambda r: CR(r).mark_restarting())
        except EngineError as e:  # removed meanwhile, or its record damaged
            log.warning("restart %s: %s", cid[:12], e)
            return
        await trio.sleep(min(0.1 * 2 ** step, 60))
        try:
            async with self.lock(cid):
                if CR(self.store.load(cid)).status is not Status.RESTARTING \
                        or cid in self.live:
                    return  # stopped or removed meanwhile
                self.store.update(cid, lambda r: CR(r).count_restart())
                await self._start_locked(cid, None, None)
        except EngineError as e:
            log.warning("restart %s: %s", cid[:12], e)

    # -- stop, kill, remove --------------------------------------------------------------
    def kill(self, cid: str, sig: int) -> None:
        live = self.live.get(cid)
        if live is None:
            raise Conflict(f"Cannot kill container: {cid[:12]}: container is not running")
        if sig == signal.SIGKILL:
            live.stop_requested = live.killed = True
        if live.paused and sig == signal.SIGKILL:
            self._thaw(live)
        try:
            os.kill(live.pid, sig)
        except ProcessLookupError:
            pass
        with contextlib.suppress(NotFound):
            self.events.publish("kill", cid, self.store.load(cid), signal=str(sig))

    # -- pause ---------------------------------------------------------------------------
    async def pause(self, cid: str, paused: bool) -> None:
        """``pause``/``unpause``: freeze or thaw the container's cgroup (v2's
        cgroup.freeze or the v1 freezer)."""
        async with self.lock(cid):
            live = self.live.get(cid)
            if live is None:
                raise Conflict(f"Container {cid[:12]} is not running")
            if live.paused == paused:
                raise Conflict(f"Container {cid[:12]} is "
                               f"{'already paused' if paused else 'not paused'}")
            await trio.to_thread.run_sync(rt.freeze, live.spec, paused)
            live.paused = paused
            rec = self.store.update(cid, lambda r: CR(r).mark_paused(paused), sync=False)
            self.events.publish("pause" if paused else "unpause", cid, rec)

    def _thaw(self, live: Live) -> None:
        """A paused container that is to stop: signals wait for a thaw."""
        with contextlib.suppress(Exception):
            rt.freeze(live.spec, False)
        live.paused = False
        with contextlib.suppress(NotFound):
            self.store.update(live.cid, lambda r: CR(r).mark_paused(False), sync=False)

    async def stop(self, cid: str, timeout: float | None, sig: str | None = None) -> None:
        async with self.lock(cid):
            try:
                rec = self.store.load(cid)
            except Damaged as e:  # stopped all the same, with docker's defaults
                rec = self.store.damaged(cid, e.message)
            if CR(rec).status is Status.RESTARTING:
                self.store.update(cid, lambda r: CR(r).mark_stopped_restart())
            live = self.live.get(cid)
            if live is None:
                return
            live.stop_requested = True
            if live.paused:
                self._thaw(live)
            signum = S.parse_signal(sig or CR(rec).stop_signal or None)
            live.killed = signum == signal.SIGKILL
            if timeout is None:
                st = CR(rec).stop_timeout
                timeout = 10 if st is None else st
            with contextlib.suppress(ProcessLookupError):
                os.kill(live.pid, signum)
            with trio.move_on_after(max(timeout or 0, 0)):
                await live.done.wait()
            if not live.done.is_set():
                live.killed = True
                with best_effort(log, "kill %s after its stop timeout", cid[:12]):
                    rt.kill_all(live.spec, signal.SIGKILL)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(live.pid, signal.SIGKILL)
                await live.done.wait()
            self.events.publish("stop", cid, rec)

    async def remove(self, cid: str, *, force: bool, volumes: bool) -> None:
        if cid in self.live:
            if not force:
                raise Conflict(f"You cannot remove a running container {cid}. Stop the "
                               "container before attempting removal or force remove")
            await self.stop(cid, 0, "SIGKILL")
            try:
                self.store.load(cid)
            except NotFound:  # --rm: its exit removed it (docker's rm -f says its name)
                return
            except Damaged:
                pass
        async with self.lock(cid):
            rec: Record | None = None
            with contextlib.suppress(Damaged):
                rec = self.store.load(cid)  # NotFound when it is gone
            # blocking (a state write, a tree to delete): off the trio thread, so that
            # a down's removals go at once
            await trio.to_thread.run_sync(partial(self._remove_files, cid, volumes=volumes))
            self.events.publish("destroy", cid, rec)

    def _remove_files(self, cid: str, *, volumes: bool) -> None:
        try:
            rec = self.store.load(cid)
        except NotFound:
            return
        except Damaged as e:  # its kernel objects and addresses are found by its id
            log.warning("removing %s by its id: %s", cid[:12], e)
            rec = self.store.damaged(cid, e.message)
        if rec.get("Damaged") or (self.store.path(cid) / "rt").exists():
            # processes (by cgroup), cgroups, mounts: all named by the id
            with best_effort(log, "destroy the runtime's objects of %s", cid[:12]):
                rt.destroy_id(self.root, cid)
        net.release(self.root, rec)
        with contextlib.suppress(NotFound):
            self.store.remove(cid)
        self._locks.pop(cid, None)
        self._backoff.pop(cid, None)
        if volumes:
            for m in rec.get("Mounts", []):
                if m.get("Type") == "volume" and m.get("Anonymous"):
                    with contextlib.suppress(EngineError):
                        self.volumes.remove(m["Name"])

    async def wait(self, cid: str) -> int:
        live = self.live.get(cid)
        if live is not None:
            await live.done.wait()
        with contextlib.suppress(NotFound):
            return CR(self.store.load(cid)).exit_code
        return live.code if live and live.code is not None else UNKNOWN_EXIT

    async def wait_health(self, cid: str, timeout: float | None) -> Record:
        """Until the container's health is decided (healthy or unhealthy), it is not
        running, or ``timeout`` passes; its record then. Woken by the events the
        healthcheck and the exit publish, never by polling."""
        with self.events.subscribe() as sub, trio.move_on_after(
                float("inf") if timeout is None else timeout):
            while True:
                rec = self.store.load(cid)
                now = CR(rec)
                if not now.status.is_active or now.health in (Health.HEALTHY,
                                                                Health.UNHEALTHY):
                    return rec
                while True:
                    ev = await sub.next()
                    if ev.id == cid:
                        break
        return self.store.load(cid)

    def stats(self, cid: str) -> dict[str, int]:
        live = self.live.get(cid)
        if live is None:
            raise Conflict(f"container {cid[:12]} is not running")
        return rt.stats(live.spec)

    # -- exec ----------------------------------------------------------------------------
    async def exec(self, cid: str, req: ExecRequest,
                   stdio: tuple[int | None, int | None, int | None]) -> Live:
        live = self.live.get(cid)
        if live is None:
            raise Conflict(f"container {cid[:12]} is not running")
        from ..runtime.spec import Process

        rec = CR(self.store.load(cid))
        env = S.merge_env(rec.env, req.env)
        proc = Process(args=list(req.cmd), env=env, cwd=req.workdir or rec.workdir or "/",
                       user=req.user or rec.user, terminal=req.tty,
                       console_size=req.console_size)
        spec = live.spec
        if req.privileged:  # docker exec --privileged: every capability, no seccomp
            import dataclasses

            spec = dataclasses.replace(spec, privileged=True, seccomp="unconfined",
                                       capability_sets=None)
        live.execs_starting += 1
        self.starting += 1
        try:
            started = await trio.to_thread.run_sync(rt.exec_process, spec, live.pid,
                                                    proc, stdio)
        finally:
            live.execs_starting -= 1
            self.starting -= 1
        ex = Live(cid, live.spec, started.pid, pty_master=started.pty_master)
        self.execs.add(ex.pid)
        self._spawn(self._watch_exec, ex)
        return ex

    async def _watch_exec(self, ex: Live) -> None:
        await children.exited(ex.pid)
        code = UNKNOWN_EXIT
        with contextlib.suppress(ChildProcessError):
            _, status = os.waitpid(ex.pid, 0)
            code = exit_status(status)
        if ex.pty_master is not None:
            with contextlib.suppress(OSError):
                os.close(ex.pty_master)
        ex.code = code
        self.execs.discard(ex.pid)
        ex.done.set()

    # -- orphans -------------------------------------------------------------------------
    def _reap_orphans(self) -> None:
        """Reap the zombie children that are neither a container's PID 1 nor an exec'd
        process (children.py says why it matters)."""
        if self.starting:  # a new PID 1 or exec'd process may be ours and not yet known
            return
        children.reap_zombies({lv.pid for lv in self.live.values()} | self.execs)

    async def reap_orphans(self) -> None:
        """On every SIGCHLD, and every few seconds in case one was coalesced."""
        await children.on_sigchld(self._reap_orphans)

    # -- after a crash -------------------------------------------------------------------
    def reconcile(self) -> None:
        """Make the records true again after a supervisor died: containers still
        running are adopted (watched by pidfd; their exit status is lost), the others
        are marked exited, and the runtime's leftovers are cleaned."""
        self._clear_graves()
        keep: set[str] = set()
        for rec in self.store.list():
            cid = rec["Id"]
            was = CR(rec)
            if rec.get("Damaged"):  # unknown state: left, processes too, for rm -f
                keep.add(cid)
                continue
            if not was.status.is_active:
                if was.auto_remove and was.status is Status.EXITED:
                    self._remove_files(cid, volumes=True)
                continue
            pid = was.pid
            alive = pid > 0 and was.start_time is not None and \
                rt.process_start_time(pid) == was.start_time
            spec = None
            with best_effort(log, "rebuild the spec of %s", cid[:12]):
                spec = records.runtime_spec(self.root, rec, starting=False)
            if alive and spec is not None:
                live = Live(cid, spec, pid, child=False)
                live.log = self.logs.adopted(cid)  # its output went on through the keeper
                self.live[cid] = live
                keep.add(cid)
                self._spawn(self._watch, live)
                log.info("adopted %s (pid %d)", cid[:12], pid)
                continue
            if spec is not None:
                with best_effort(log, "destroy the leftovers of %s", cid[:12]):
                    rt.destroy(spec)
            self.store.update(cid, lambda r: CR(r).mark_exited(
                UNKNOWN_EXIT, error="exit status unknown: the supervisor holding it died"))
            if was.auto_remove:
                self._remove_files(cid, volumes=True)
            elif was.restart_policy[0] in ("always", "unless-stopped", "on-failure"):
                # as dockerd does at its start: bring back what should be running
                self._spawn(self._restart_later, cid, was.restart_count)
        try:
            rt.cleanup_leftovers(self.root, keep)
        except Exception as e:
            log.warning("cleanup of leftovers: %s", e)


__all__ = ["Holder", "Live", "new_state"]
