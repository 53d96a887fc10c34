"""``RUN --mount=...`` as BuildKit defines it: ``type=bind|cache|tmpfs|secret|ssh`` and
their fields (``target``, ``source``, ``from``, ``ro``/``rw``, ``id``, ``sharing``,
``mode``, ``uid``, ``gid``, ``required``, ``size``, ``env``), comma-separated with
CSV quoting. Pure; errors are ValueError (the parser adds the line)."""

from __future__ import annotations

from pycompose.util.records import record


@record
class RunMount:
    """One ``RUN --mount=...`` as BuildKit defines it."""

    type: str = "bind"  # bind | cache | tmpfs | secret | ssh
    target: str = ""
    source: str = ""
    from_: str = ""
    read_only: bool | None = None  # None: the type's default
    id: str = ""
    sharing: str = "shared"  # cache: shared | private | locked
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    required: bool = False
    size: int = 0  # tmpfs bytes
    env: str = ""  # secret as an environment variable


_MOUNT_KEYS = {"type", "target", "dst", "destination", "source", "src", "from", "ro",
               "readonly", "rw", "readwrite", "id", "sharing", "mode", "uid", "gid",
               "required", "size", "env"}


def _csv(text: str) -> list[str]:
    """Comma-separated fields with double-quoted parts, as Go's encoding/csv."""
    out, buf, quoted, i = [], [], False, 0
    while i < len(text):
        ch = text[i]
        if quoted:
            if ch == '"':
                if i + 1 < len(text) and text[i + 1] == '"':
                    buf.append('"')
                    i += 1
                else:
                    quoted = False
            else:
                buf.append(ch)
        elif ch == '"':
            quoted = True
        elif ch == ",":
            out.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
        i += 1
    if quoted:
        raise ValueError(f"unterminated quote in {text!r}")
    out.append("".join(buf))
    return out


def _size(text: str) -> int:
    from pycompose.util.units import parse_size

    return parse_size(text)


def parse_mount(text: str) -> RunMount:
    """``type=cache,target=/root/.cache,sharing=locked`` as a :class:`RunMount`."""
    m = RunMount()
    fields = [f for f in _csv(text) if f.strip()]
    for f in fields:
        key, eq, value = f.partition("=")
        key = key.strip().lower()
        if key not in _MOUNT_KEYS:
            raise ValueError(f"unexpected key {key!r} in {f!r}")
        if key == "type":
            if value not in ("bind", "cache", "tmpfs", "secret", "ssh"):
                raise ValueError(f"unsupported mount type {value!r}")
            m.type = value
    for f in fields:
        key, eq, value = f.partition("=")
        key = key.strip().lower()
        if key in ("ro", "readonly", "rw", "readwrite", "required") and not eq:
            value = "true"
        elif not eq and key != "type":
            raise ValueError(f"invalid field {f!r}: must be a key=value pair")
        if key in ("target", "dst", "destination"):
            m.target = value
        elif key in ("source", "src"):
            m.source = value
        elif key == "from":
            m.from_ = value
        elif key in ("ro", "readonly", "rw", "readwrite", "required"):
            if value.lower() not in ("true", "false", "1", "0"):
                raise ValueError(f"invalid value for {key}: {value!r}")
            flag = value.lower() in ("true", "1")
            if key == "required":
                m.required = flag
            elif key in ("ro", "readonly"):
                m.read_only = flag
            else:
                m.read_only = not flag
        elif key == "id":
            m.id = value
        elif key == "sharing":
            if value not in ("shared", "private", "locked"):
                raise ValueError(f"unsupported sharing value {value!r}")
            m.sharing = value
        elif key == "mode":
            try:
                m.mode = int(value, 8)
            except ValueError:
                raise ValueError(f"invalid mode {value!r}: use octal digits") from None
        elif key in ("uid", "gid"):
            if not value.isdigit():
                raise ValueError(f"invalid {key} {value!r}: use a number")
            setattr(m, key, int(value))
        elif key == "size":
            m.size = _size(value)
        elif key == "env":
            m.env = value
    if m.type == "secret":
        if not m.id and m.source:
            m.id = m.source.rsplit("/", 1)[-1]
        if not m.id and m.target:
            m.id = m.target.rsplit("/", 1)[-1]
        if not m.id:
            raise ValueError("a secret mount needs id=")
        if not m.target and not m.env:
            m.target = "/run/secrets/" + m.id
    elif m.type == "ssh":
        raise ValueError("--mount=type=ssh is not supported by this builder (no SSH "
                         "agent forwarding); use a secret")
    elif not m.target:
        raise ValueError(f"{text!r}: a {m.type} mount needs target=")
    if m.type == "cache" and not m.id:
        m.id = m.target
    return m
