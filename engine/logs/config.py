"""Log drivers and their options, as docker names them: ``--log-driver`` and
``--log-opt`` (or compose's ``logging: {driver, options}``), the engine API's
``LogConfig`` request, in; one typed :class:`LogSettings` out, stored in the record as
docker's ``HostConfig.LogConfig``
(``{"Type": "json-file", "Config": {"max-size": "20m", "max-file": "5"}}``).

The default is json-file, so that ``LogPath`` is the file tools expect, but rotated as
docker's ``local`` driver is by default (20 MB x 5 files): a chatty container cannot
fill the disk. Like dockerd's ``log-opts`` in daemon.json, the default options are
merged into a container's own json-file options (``--log-opt max-size=1m`` keeps
``max-file=5``); another driver starts from its own defaults.

Standard library only: the CLI's ``logs`` reads records through this module.
"""

from __future__ import annotations

import re

from ..errors import InvalidArgument

TYPE_CHECKING = False  # not typing's: the thin CLI imports this module
if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path
    from typing import Any

JSON_FILE = "json-file"
LOCAL = "local"
NONE = "none"
DRIVERS = (JSON_FILE, LOCAL, NONE)

#: The default driver's default options (dockerd's ``log-opts``): docker's ``local``
#: rotation, 20 MB x 5 files.
DEFAULT_OPTS = {"max-size": "20m", "max-file": "5"}

#: Options every driver accepts and that only shape attributes (docker's labels, env,
#: tag): accepted, stored, not used by the files.
_ATTRIBUTE_OPTS = ("labels", "labels-regex", "env", "env-regex", "tag")
_KNOWN_OPTS = {
    JSON_FILE: ("max-size", "max-file", "compress", *_ATTRIBUTE_OPTS),
    LOCAL: ("max-size", "max-file", "compress", *_ATTRIBUTE_OPTS),
    NONE: (),
}

#: docker's answer when a driver keeps nothing to read back.
NOT_READABLE = "configured logging driver does not support reading"

_SIZE_RE = re.compile(r"^(\d+(?:\.\d+)?) ?([kmgtp])?(i)?b?$", re.IGNORECASE)
_UNITS = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12, "p": 10**15}


def parse_size(text: str, what: str = "max-size") -> int:
    """A size as docker's go-units FromHumanSize reads it: decimal units
    (``20m`` = 20,000,000 bytes; ``k``, ``m``, ``g``, ``t``, ``p``, an optional ``b``)."""
    m = _SIZE_RE.match(text.strip())
    if not m:
        raise InvalidArgument(f"--log-opt {what}={text}: invalid size {text!r} (a number "
                              "with an optional unit: 500k, 20m, 1g)")
    return int(float(m.group(1)) * _UNITS[(m.group(2) or "").lower()])


def _parse_bool(text: str, what: str) -> bool:
    """Go's strconv.ParseBool."""
    if text in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if text in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise InvalidArgument(f"--log-opt {what}={text}: invalid boolean {text!r} "
                          "(true or false)")


class LogSettings:
    """What the log keeper does with one container's output (a plain class, not a
    dataclass: importing dataclasses would cost the keeper 3 MiB of its ~10).

    ``max_size`` None means one file that grows without bound (json-file without
    ``max-size``); ``max_file`` counts the current file and the rotated ones;
    ``options`` are the ``--log-opt`` texts as inspect shows them."""

    __slots__ = ("compress", "driver", "max_file", "max_size", "options")

    def __init__(self, driver: str = JSON_FILE, max_size: int | None = 20_000_000,
                 max_file: int = 5, compress: bool = False,
                 options: dict[str, str] | None = None) -> None:
        self.driver = driver
        self.max_size = max_size
        self.max_file = max_file
        self.compress = compress
        self.options = dict(DEFAULT_OPTS) if options is None else options

    def _key(self) -> tuple[object, ...]:
        return (self.driver, self.max_size, self.max_file, self.compress, self.options)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LogSettings) and self._key() == other._key()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "LogSettings({!r}, {!r}, {!r}, {!r}, {!r})".format(*self._key())

    @property
    def readable(self) -> bool:
        return self.driver != NONE

    def host_config(self) -> dict[str, Any]:
        """docker's ``HostConfig.LogConfig``."""
        return {"Type": self.driver, "Config": dict(self.options)}

    def wire(self) -> dict[str, Any]:
        """The fields the keeper needs, as JSON."""
        return {"driver": self.driver, "max_size": self.max_size,
                "max_file": self.max_file, "compress": self.compress}

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> LogSettings:
        size = d.get("max_size")
        return cls(str(d.get("driver") or JSON_FILE), None if size is None else int(size),
                   int(d.get("max_file") or 1), bool(d.get("compress")), {})


def parse(driver: str | None, opts: Mapping[str, str] | None = None) -> LogSettings:
    """The config of ``--log-driver DRIVER --log-opt ...``, checked as docker checks
    it; None or "" is the default driver."""
    name = driver or JSON_FILE
    given = {str(k): str(v) for k, v in (opts or {}).items()}
    if name not in DRIVERS:
        raise InvalidArgument(
            f"logging driver {name!r} is not supported here: use json-file, local or "
            "none (--log-driver, or compose's logging.driver)")
    for k in given:
        if k not in _KNOWN_OPTS[name]:
            raise InvalidArgument(f"unknown log opt '{k}' for {name} log driver")
    if name == NONE:
        return LogSettings(NONE, None, 1, False, given)
    if name == JSON_FILE:
        merged = {**DEFAULT_OPTS, **given}
        size = None
        if "max-size" in merged:
            size = parse_size(merged["max-size"])
            if size <= 0:
                raise InvalidArgument("--log-opt max-size: must be a positive number")
        files = _count(merged.get("max-file", "1"))
        if files < 1:
            raise InvalidArgument("--log-opt max-file: cannot be less than 1")
        compress = _parse_bool(merged["compress"], "compress") if "compress" in merged \
            else False
        if compress and (files == 1 or size is None):
            raise InvalidArgument("--log-opt compress: cannot be true when max-file is "
                                  "less than 2 or max-size is not set")
        return LogSettings(JSON_FILE, size, files, compress, merged)
    # local: 20 MiB x 5, compressed, unless told otherwise (docker's defaults)
    size = parse_size(given["max-size"]) if "max-size" in given else 20 * 1024 * 1024
    files = _count(given["max-file"]) if "max-file" in given else 5
    compress = _parse_bool(given["compress"], "compress") if "compress" in given else True
    if size < 0:
        raise InvalidArgument("--log-opt max-size: must not be negative")
    if files < 0:
        raise InvalidArgument("--log-opt max-file: must not be negative")
    if compress and files <= 1:
        raise InvalidArgument("--log-opt compress: compression cannot be enabled when "
                              "max file count is 1")
    return LogSettings(LOCAL, size or None, max(files, 1), compress, given)


def _count(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InvalidArgument(f"--log-opt max-file={text}: not a whole number") from None


def of_record(rec: Mapping[str, Any]) -> LogSettings:
    """The config a record was created with; records older than LogConfig get the
    default (bounded) one."""
    lc = (rec.get("HostConfig") or {}).get("LogConfig") or {}
    try:
        return parse(lc.get("Type") or None, lc.get("Config") or {})
    except InvalidArgument:
        return parse(None)


def log_file(container_dir: Path, cid: str, cfg: LogSettings) -> Path | None:
    """Where the current log file of a container lives (None for ``none``): docker's
    ``<id>-json.log`` beside the record, or ``local-logs/container.log``."""
    if cfg.driver == JSON_FILE:
        return container_dir / f"{cid}-json.log"
    if cfg.driver == LOCAL:
        return container_dir / "local-logs" / "container.log"
    return None


def record_log_path(cfg: LogSettings, path: Path | None) -> str:
    """``LogPath`` as ``inspect`` shows it: docker sets it for json-file only (the
    local driver's files are private to it)."""
    return str(path) if cfg.driver == JSON_FILE and path is not None else ""
