"""A container's record, typed: what callers read instead of docker-inspect dicts.

The record on disk (``$ROOT/containers/<id>/state.json``) *is* docker's inspect JSON,
so ``inspect`` is a plain read and its shape matches docker's key for key. Everything
else reads it through :class:`ContainerRecord`: typed attributes for what callers use,
:class:`Status` instead of status strings, and the state changes the supervisor makes
as methods, so that no caller outside this module indexes ``["State"]``.

Standard library only (the thin CLI reads records).
"""

from __future__ import annotations

import enum
import time

from pycompose.util import humanize

TYPE_CHECKING = False  # not typing's: the thin client imports this module
if TYPE_CHECKING:
    from typing import Any

ZERO_TIME = "0001-01-01T00:00:00Z"


def now_iso() -> str:
    """docker's timestamp shape: RFC 3339 in UTC with nanoseconds."""
    t = time.time_ns()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t // 10**9)) + \
        f".{t % 10**9:09d}Z"


parse_iso = humanize.parse_iso  # engine.api's, for front ends


class Status(enum.Enum):
    """docker's container states (``State.Status``)."""

    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    RESTARTING = "restarting"
    REMOVING = "removing"
    EXITED = "exited"
    DEAD = "dead"

    @property
    def is_active(self) -> bool:
        """It holds processes (or will again at once): running, paused, restarting."""
        return self in (Status.RUNNING, Status.PAUSED, Status.RESTARTING)

    @property
    def has_finished(self) -> bool:
        return self in (Status.EXITED, Status.DEAD)


class Health(enum.Enum):
    """``State.Health.Status``; NONE when the container has no healthcheck."""

    NONE = "none"
    STARTING = "starting"
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"


def new_state() -> dict[str, Any]:
    return {"Status": "created", "Running": False, "Paused": False, "Restarting": False,
            "OOMKilled": False, "Dead": False, "Pid": 0, "ExitCode": 0, "Error": "",
            "StartedAt": ZERO_TIME, "FinishedAt": ZERO_TIME}


class ContainerRecord:
    """One container as the engine knows it, over its docker-inspect JSON."""

    __slots__ = ("raw",)

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw

    def __repr__(self) -> str:
        return f"<ContainerRecord {self.name} {self.id[:12]} {self.status.value}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ContainerRecord) and other.raw == self.raw

    __hash__ = None  # type: ignore[assignment]  # mutable

    def to_inspect(self) -> dict[str, Any]:
        """docker inspect's JSON (a copy: callers may change it)."""
        import copy

        return copy.deepcopy(self.raw)

    # -- identity ----------------------------------------------------------------------
    @property
    def id(self) -> str:
        return str(self.raw["Id"])

    @property
    def name(self) -> str:
        """The name without docker's leading slash."""
        return str(self.raw.get("Name", "")).lstrip("/")

    @property
    def created(self) -> str:
        return str(self.raw.get("Created", ""))

    @property
    def image_id(self) -> str:
        """The image's id (``sha256:...``); "" for a ``--rootfs`` container."""
        return str(self.raw.get("Image", ""))

    @property
    def image(self) -> str:
        """The image as the user named it (``busybox``, ``app:1``)."""
        return str(self._config.get("Image", ""))

    @property
    def labels(self) -> dict[str, str]:
        return dict(self._config.get("Labels") or {})

    @property
    def command(self) -> list[str]:
        return [str(self.raw.get("Path", "")), *self.raw.get("Args", [])]

    # -- configuration -------------------------------------------------------------------
    @property
    def _config(self) -> dict[str, Any]:
        return self.raw.get("Config") or {}

    @property
    def _host(self) -> dict[str, Any]:
        return self.raw.get("HostConfig") or {}

    @property
    def _state(self) -> dict[str, Any]:
        return self.raw.get("State") or {}

    @property
    def tty(self) -> bool:
        return bool(self._config.get("Tty"))

    @property
    def env(self) -> list[str]:
        return [str(e) for e in self._config.get("Env") or []]

    @property
    def workdir(self) -> str:
        return str(self._config.get("WorkingDir") or "")

    @property
    def user(self) -> str:
        return str(self._config.get("User") or "")

    @property
    def hostname(self) -> str:
        return str(self._config.get("Hostname") or "")

    @property
    def stop_signal(self) -> str:
        return str(self._config.get("StopSignal") or "")

    @property
    def stop_timeout(self) -> int | None:
        st = self._config.get("StopTimeout")
        return None if st is None else int(st)

    @property
    def healthcheck(self) -> dict[str, Any] | None:
        """The effective HEALTHCHECK (image's merged with the request's), None or
        ``{"Test": ["NONE"]}`` when there is none."""
        hc = self._config.get("Healthcheck")
        return dict(hc) if hc else None

    @property
    def has_healthcheck(self) -> bool:
        test = (self.healthcheck or {}).get("Test")
        return bool(test) and test != ["NONE"]

    @property
    def restart_policy(self) -> tuple[str, int]:
        """(name, maximum retry count)."""
        p = self._host.get("RestartPolicy") or {}
        return str(p.get("Name") or "no"), int(p.get("MaximumRetryCount") or 0)

    @property
    def auto_remove(self) -> bool:
        return bool(self._host.get("AutoRemove"))

    @property
    def network_mode(self) -> str:
        return str(self._host.get("NetworkMode") or "")

    @property
    def log_path(self) -> str:
        return str(self.raw.get("LogPath") or "")

    @property
    def mounts(self) -> list[dict[str, Any]]:
        """docker inspect's ``Mounts`` entries."""
        return [dict(m) for m in self.raw.get("Mounts") or []]

    @property
    def upper_dir(self) -> str:
        return str(((self.raw.get("GraphDriver") or {}).get("Data") or {}).get("UpperDir", ""))

    @property
    def lower_dirs(self) -> list[str]:
        lower = ((self.raw.get("GraphDriver") or {}).get("Data") or {}).get("LowerDir", "")
        return [p for p in str(lower).split(":") if p]

    # -- state ---------------------------------------------------------------------------
    @property
    def status(self) -> Status:
        try:
            return Status(self._state.get("Status") or "created")
        except ValueError:
            return Status.DEAD

    @property
    def pid(self) -> int:
        return int(self._state.get("Pid") or 0)

    @property
    def start_time(self) -> int | None:
        """PID 1's start time in clock ticks (``/proc/PID/stat`` field 22): with the pid,
        it tells a live PID 1 from a recycled pid."""
        st = self._state.get("StartTime")
        return None if st is None else int(st)

    @property
    def exit_code(self) -> int:
        return int(self._state.get("ExitCode") or 0)

    @property
    def oom_killed(self) -> bool:
        return bool(self._state.get("OOMKilled"))

    @property
    def error(self) -> str:
        return str(self._state.get("Error") or "")

    @property
    def started_at(self) -> str:
        return str(self._state.get("StartedAt") or ZERO_TIME)

    @property
    def finished_at(self) -> str:
        return str(self._state.get("FinishedAt") or ZERO_TIME)

    @property
    def restart_count(self) -> int:
        return int(self.raw.get("RestartCount") or 0)

    @property
    def health(self) -> Health:
        h = self._state.get("Health")
        if not h:
            return Health.STARTING if self.has_healthcheck and self.status.is_active \
                else Health.NONE
        try:
            return Health(h.get("Status") or "starting")
        except ValueError:
            return Health.NONE

    @property
    def health_log(self) -> list[dict[str, Any]]:
        return list((self._state.get("Health") or {}).get("Log") or [])

    @property
    def ports(self) -> dict[str, list[dict[str, str]] | None]:
        """``NetworkSettings.Ports``: ``"80/tcp" -> [{"HostIp", "HostPort"}]``."""
        return dict((self.raw.get("NetworkSettings") or {}).get("Ports") or {})

    @property
    def networks(self) -> dict[str, dict[str, Any]]:
        """``NetworkSettings.Networks``: name -> its endpoint (IPAddress, Aliases...)."""
        return dict((self.raw.get("NetworkSettings") or {}).get("Networks") or {})

    # -- changes (the supervisor's) ------------------------------------------------------
    def _set(self, **fields: Any) -> None:
        self.raw.setdefault("State", new_state()).update(fields)

    def mark_running(self, pid: int, start_time: int | None,
                     network_settings: dict[str, Any] | None = None) -> None:
        self._set(Status="running", Running=True, Restarting=False, Paused=False, Pid=pid,
                  ExitCode=0, Error="", OOMKilled=False, StartedAt=now_iso(),
                  StartTime=start_time)
        if self.has_healthcheck:  # a new run's health starts over, before any waiter
            # reads it: the last run's "healthy" must not answer a start --wait
            self._set(Health={"Status": "starting", "FailingStreak": 0, "Log": []})
        if network_settings:
            self.raw["NetworkSettings"] = network_settings

    def mark_exited(self, code: int, *, oom_killed: bool = False, error: str = "") -> None:
        self._set(Status="exited", Running=False, Restarting=False, Paused=False, Pid=0,
                  ExitCode=code, OOMKilled=oom_killed, FinishedAt=now_iso(), Error=error)

    def mark_start_failed(self, code: int, error: str) -> None:
        """A start that failed: a created container stays created (as docker)."""
        status = "created" if self.status is Status.CREATED else "exited"
        self._set(Status=status, Error=error, ExitCode=code)

    def mark_restarting(self) -> None:
        self._set(Status="restarting", Restarting=True)

    def mark_stopped_restart(self) -> None:
        """A stop of a container waiting to restart: it stays exited."""
        self._set(Status="exited", Restarting=False)

    def mark_paused(self, paused: bool) -> None:
        self._set(Status="paused" if paused else "running", Paused=paused)

    def count_restart(self) -> None:
        self.raw["RestartCount"] = self.restart_count + 1

    def set_health(self, health: dict[str, Any] | None) -> None:
        if health is None:
            self._state.pop("Health", None)
        else:
            self._set(Health=health)
