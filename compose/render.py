"""The canonical project, as ``docker compose config`` prints it.

The shape follows docker compose (compose-go's types as go-yaml and encoding/json
marshal them): ``name``, then ``services`` sorted by name, each with its keys in
compose-go's struct order and in their long forms (ports as ``{mode, host_ip, target,
published, protocol}``, volumes with absolute sources, environment resolved, a bare
key nothing sets as ``KEY: null``), ``networks: {default: null}`` where a service
uses the implied default network, then the top-level ``networks``, ``volumes``,
``secrets``, ``configs`` with the names the engine will give them
(``PROJECT_default``, ``PROJECT_data``). What Go leaves out is left out (plain
booleans when false, a secret's content); ``--format json`` has what Go cannot omit
(``command: null``, ``ipam: {}``). The YAML text itself is go-yaml's
(:mod:`.goyaml`); every ``$`` is then doubled (:func:`escape_dollars`).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import BaseModel

    from .model import Project, Service


def plain(value: Any) -> Any:
    from .yamlsrc import plain

    return plain(value)


#: Keys that are a plain ``bool`` with ``omitempty`` in compose-go's types: docker
#: compose never prints them ``false`` (``read_only: false`` prints nothing).
_OMIT_FALSE: dict[str, frozenset[str]] = {
    "Service": frozenset({"oom_kill_disable", "privileged", "read_only", "stdin_open",
                          "tty", "use_api_socket"}),
    "Build": frozenset({"no_cache", "pull", "privileged"}),
    "Healthcheck": frozenset({"disable"}),
    "Hook": frozenset({"privileged"}),
    "PreStartHook": frozenset({"privileged", "per_replica"}),
    "Watch": frozenset({"initial_sync"}),
    "VolumeMount": frozenset({"read_only"}),
    "VolumeOptions": frozenset({"nocopy"}),
    "Network": frozenset({"external", "internal", "attachable"}),
    "Volume": frozenset({"external"}),
    "Secret": frozenset({"external"}),
    "Config": frozenset({"external"}),
    "Dependency": frozenset({"restart"}),
}


#: Structs that compose-go's types hold by value, not by pointer: all zero, they are
#: left out of the YAML (the JSON has them, see :func:`project_json_dict`).
_HELD_BY_VALUE = frozenset({("Deploy", "resources"), ("Deploy", "placement"),
                            ("Network", "ipam"), ("Watch", "exec")})
#: Fields of compose-go's ShellCommand type: printed even when empty.
_COMMANDS = frozenset({"command", "entrypoint"})


def _finish(model: BaseModel, out: dict[str, Any], extensions: bool = True) -> None:
    """Put ``x-*`` keys back where they were written (pydantic kept them aside), leave
    out what compose-go's marshalling leaves out, and sort mappings
    (``environment``, ``depends_on``) as Go prints its maps."""
    from pydantic import BaseModel

    kind = type(model).__name__
    for key in _OMIT_FALSE.get(kind, ()):
        if out.get(key) is False:
            del out[key]
    if type(model).__name__ == "BindOptions" and out.get("create_host_path") is True:
        # an opt-out: printed only when false (compose-go's OptOut), so a bind mount
        # from the short syntax prints ``bind: {}``
        del out["create_host_path"]
    if kind == "EnvFile" and out.get("required") is True:
        del out["required"]  # OptOut too: an env_file is required unless it says not
    ext = getattr(model, "extensions", None)
    if ext and extensions:
        # go-yaml writes an inline map of extensions with its keys sorted
        # (its values are Go maps too: every level sorted)
        out.update(sorted(_sorted_keys(plain(ext)).items()))
    for name in list(out):
        value = getattr(model, name, None)
        if value is None:
            continue
        if isinstance(value, BaseModel):
            _finish(value, out[name], extensions)
        elif isinstance(value, list) and value and isinstance(value[0], BaseModel):
            for item, dumped in zip(value, out[name], strict=False):
                _finish(item, dumped, extensions)
        elif isinstance(value, dict):
            for k, item in value.items():
                if isinstance(item, BaseModel) and isinstance(out[name][k], dict):
                    _finish(item, out[name][k], extensions)
            if isinstance(out[name], dict):
                out[name] = dict(sorted(out[name].items()))
    fields = type(model).model_fields
    for key in [k for k, v in out.items() if (v == [] or v == {}) and k in fields]:
        # go-yaml's omitempty leaves out an empty list or map (and a struct held by
        # value when it is all zero), but not an empty command: ``command: []``
        # clears the image's, so ShellCommand is only "empty" when unset
        value = getattr(model, key, None)
        if isinstance(value, BaseModel):
            if (kind, key) in _HELD_BY_VALUE:
                del out[key]
        elif key not in _COMMANDS:
            del out[key]


def dump(model: BaseModel, *, extensions: bool = True) -> dict[str, Any]:
    """A model as plain data: unset keys left out, durations and sizes as text.
    ``extensions=False`` leaves the ``x-*`` keys of the model out (docker compose's
    JSON has none below the top level)."""
    out = model.model_dump(mode="json", exclude_none=True)
    _finish(model, out, extensions)
    return out


def uses_default_network(svc: Service) -> bool:
    """Whether the service is on the implied default network: not when it names its
    networks or a ``network_mode``, nor when a provider runs it (compose-go)."""
    return svc.network_mode is None and not svc.networks and svc.provider is None


def service_dict(svc: Service, *, extensions: bool = True) -> dict[str, Any]:
    out = dump(svc, extensions=extensions)
    if out.get("pull_policy") == "if_not_present":
        out["pull_policy"] = "missing"  # compose-go's normalisation of the old name
    out.pop("extends", None)
    if uses_default_network(svc):
        # docker compose writes the implied network out, after network_mode's place
        items = list(out.items())
        fields = list(type(svc).model_fields)
        after = fields.index("networks")
        # x-* keys (not fields) come last, so they end the search
        pos = next((i for i, (k, _) in enumerate(items)
                    if k not in fields or fields.index(k) > after), len(items))
        items.insert(pos, ("networks", {"default": None}))
        out = dict(items)
    return out


def _implied_dependencies(model: Service, out: dict[str, Any]) -> None:
    """The dependencies that ``network_mode``/``ipc``/``pid``/``uts``/``cgroup``
    ``service:X``, ``links`` and ``volumes_from`` imply, written under ``depends_on``
    as docker compose's normalisation writes them (``restart: true`` but for
    volumes_from). Only for printing: the service hash is left as it was."""
    implied: list[tuple[str, bool]] = []
    for key in ("network_mode", "ipc", "pid", "uts", "cgroup"):
        value = getattr(model, key, None)
        if isinstance(value, str) and value.startswith("service:"):
            implied.append((value[len("service:"):], True))
    for link in model.links or []:
        parts = link.split(":")
        implied.append((parts[0] if len(parts) == 2 else link, True))
    for source in model.volumes_from or []:
        if not source.startswith("container:"):
            implied.append((source.split(":")[0], False))
    if not implied:
        return
    deps = dict(out.get("depends_on") or {})
    for dep, restart in implied:
        if dep not in deps:
            entry: dict[str, Any] = {"condition": "service_started"}
            if restart:
                entry["restart"] = True
            entry["required"] = True
            deps[dep] = entry
    out["depends_on"] = dict(sorted(deps.items()))
    fields = list(type(model).model_fields)
    rank = {k: i for i, k in enumerate(fields)}
    items = sorted(out.items(), key=lambda kv: rank.get(kv[0], len(rank)))
    out.clear()
    out.update(items)


def _resource(project: Project, key: str, res: BaseModel,
              extensions: bool = True) -> dict[str, Any]:
    out = dump(res, extensions=extensions)
    if out.get("external"):
        out.setdefault("name", key)
    else:
        out.setdefault("name", f"{project.name}_{key}")
    # name first, as docker compose prints it
    return {"name": out.pop("name"), **out}


def project_dict(project: Project, *, extensions: bool = True) -> dict[str, Any]:
    """The whole project as plain data, in docker compose's shape and order.
    ``extensions=False`` leaves out the ``x-*`` keys below the top level."""
    ext = extensions
    out: dict[str, Any] = {"name": project.name}
    services = {name: service_dict(project.services[name], extensions=ext)
                for name in sorted(project.services)}
    for name, svc in services.items():
        _implied_dependencies(project.services[name], svc)
    out["services"] = services
    networks = {k: _resource(project, k, v, ext) for k, v in sorted(project.networks.items())}
    if "default" not in networks and any(
            uses_default_network(s) or "default" in (s.networks or {})
            for s in project.services.values()):
        networks["default"] = {"name": f"{project.name}_default"}
        networks = dict(sorted(networks.items()))
    if networks:
        out["networks"] = networks
    resources: list[tuple[str, dict[str, Any]]] = [
        ("volumes", project.volumes), ("secrets", project.secrets),
        ("configs", project.configs)]
    for key, declared in resources:
        if declared:
            out[key] = {k: _resource(project, k, v, ext) for k, v in sorted(declared.items())}
    for secret in out.get("secrets", {}).values():
        # a secret's inline content is never printed (compose-go: "to prevent
        # sensitive data leaks"); a config's is
        secret.pop("content", None)
    if project.models:
        out["models"] = {k: dump(v, extensions=ext) for k, v in sorted(project.models.items())}
    out.update(sorted(_sorted_keys(plain(project.extensions)).items()))
    return out


def project_json_dict(project: Project) -> dict[str, Any]:
    """The project as ``docker compose config --format json`` shapes it (compose-go's
    ``Project.MarshalJSON``, Go's encoding/json): top-level keys sorted, no
    ``models``, no ``x-*`` below the top level; every service has ``command`` and
    ``entrypoint`` (``null`` when unset: those fields cannot be omitted in Go's
    JSON), every network an ``ipam`` (``{}``), every ``deploy`` its ``resources`` and
    ``placement``: Go's ``omitempty`` never omits a struct."""
    from .model import Service
    from .model.resources import Network
    from .model.service import Deploy, PreStartHook

    data = _go_numbers(project_dict(project, extensions=False))
    data.pop("models", None)
    for svc in data.get("services", {}).values():
        _with_defaults(svc, list(Service.model_fields),
                       {"command": None, "entrypoint": None})
        if isinstance(svc.get("deploy"), dict):
            _with_defaults(svc["deploy"], list(Deploy.model_fields),
                           {"resources": {}, "placement": {}})
        for hook in svc.get("pre_start") or ():
            # ServiceHook's command has no omitempty in its JSON tag
            _with_defaults(hook, list(PreStartHook.model_fields), {"command": None})
    for net in data.get("networks", {}).values():
        _with_defaults(net, list(Network.model_fields), {"ipam": {}})
    return dict(sorted(data.items()))


def _go_numbers(value: Any) -> Any:
    """Integral floats as ints, as Go's encoding/json writes them (``1``, not
    ``1.0``)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    if isinstance(value, dict):
        return {k: _go_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_go_numbers(v) for v in value]
    return value


def _with_defaults(out: dict[str, Any], order: list[str], defaults: dict[str, Any]) -> None:
    """Add the ``defaults`` that ``out`` lacks, in ``order``'s place."""
    missing = {k: v for k, v in defaults.items() if k not in out}
    if not missing:
        return
    rank = {k: i for i, k in enumerate(order)}
    items = sorted({**out, **missing}.items(), key=lambda kv: rank.get(kv[0], len(rank)))
    out.clear()
    out.update(items)


def escape_dollars(text: str) -> str:
    """Every ``$`` as ``$$``, as docker compose prints an interpolated model: its
    output, loaded again, gives the same values (``$$HOME`` stays ``$HOME``)."""
    return text.replace("$", "$$")


def to_yaml(data: Any) -> str:
    """YAML as docker compose prints it (go-yaml's encoder, see :mod:`.goyaml`)."""
    from .goyaml import dump as goyaml_dump

    return goyaml_dump(data)


#: Characters a YAML reader refuses raw (controls, NEL, the Unicode line separators,
#: a BOM): the JSON output escapes them.
_PRINTABLE = re.compile("[^\\x09\\x0a\\x0d\\x20-\\x7e\\xa0-\\u2027\\u202a-\\ud7ff"
                        "\\ue000-\\ufefe\\uff00-\\ufffd\\U00010000-\\U0010ffff]")


def yaml_scalar(value: Any, *, indent: int = 2, step: int = 2, width: int = 80) -> str:
    """One scalar as go-yaml writes it after ``key:`` (see :func:`.goyaml.scalar`)."""
    from .goyaml import scalar

    return scalar(value, indent, step, width)


def tabwriter(rows: list[list[str]], *, minwidth: int, padding: int) -> str:
    """Rows laid out as Go's ``text/tabwriter`` lays out tab-separated cells (padded
    with spaces, flags 0): every cell but a line's last is padded to its column's
    width, the widest cell plus ``padding``, at least ``minwidth``."""
    widths: list[int] = []
    for row in rows:
        for i, cell in enumerate(row[:-1]):
            w = max(minwidth, len(cell) + padding)
            if i == len(widths):
                widths.append(w)
            else:
                widths[i] = max(widths[i], w)
    lines = []
    for row in rows:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])]
        lines.append("".join(cells) + (row[-1] if row else ""))
    return "".join(line + "\n" for line in lines)


def to_json(data: Any, indent: int = 2) -> str:
    """JSON as Go's ``json.MarshalIndent`` writes it: ``<``, ``>``, ``&`` and the
    Unicode line separators escaped (they only occur inside strings)."""
    text = json.dumps(data, indent=indent, ensure_ascii=False)
    for c, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                   ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(c, esc)
    # and, beyond Go, the few characters a YAML reader refuses raw (DEL, C1
    # controls, a BOM): escaped, the output still loads back as a compose file
    return _PRINTABLE.sub(lambda m: "".join(f"\\u{ord(c):04x}" if ord(c) < 0x10000
                                              else c for c in m.group(0)), text) + "\n"


def image_name(project: Project, name: str) -> str:
    """The image a service runs: ``image``, else the one ``build`` makes
    (``PROJECT-SERVICE``, as docker compose names it)."""
    svc = project.all_services()[name]
    return svc.image or f"{project.name}-{name}"


def images_of(project: Project, name: str) -> list[str]:
    """``config --images`` for one service: its image, then the other images its
    ``pre_start`` steps run (docker compose's GetDependentImages)."""
    image = image_name(project, name)
    hooks = project.all_services()[name].pre_start or []
    return [image, *(h.image for h in hooks if h.image and h.image != image)]


def all_profiles(project: Project) -> list[str]:
    return sorted({p for s in project.all_services().values() for p in s.profiles or []})


#: Keys that do not change the container, left out of the config hash (as docker
#: compose leaves them out): changing them must not recreate anything.
_HASH_IGNORED = ("build", "pull_policy", "scale", "develop", "profiles", "attach",
                 "extends")


def service_hash(project: Project, name: str) -> str:
    """sha256 of the service's canonical form: the ``com.docker.compose.config-hash``
    label; a container whose label differs is recreated by ``up``."""
    data = service_dict(project.all_services()[name])
    for key in _HASH_IGNORED:
        data.pop(key, None)
    deploy = data.get("deploy")
    if isinstance(deploy, dict):
        deploy.pop("replicas", None)
    blob = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def _raw_dependencies(svc: Any) -> list[str]:
    """What a service of the loaded (unvalidated) model needs, by name."""
    if not isinstance(svc, dict):
        return []
    deps: list[str] = []
    depends = svc.get("depends_on")
    if isinstance(depends, (list, dict)):
        deps.extend(str(d) for d in depends)
    for link in svc.get("links") or []:
        deps.append(str(link).split(":", 1)[0])
    for key in ("network_mode", "ipc", "pid"):
        value = svc.get(key)
        if isinstance(value, str) and value.startswith("service:"):
            deps.append(value[len("service:"):])
    for source in svc.get("volumes_from") or []:
        if not str(source).startswith("container:"):
            deps.append(str(source).split(":", 1)[0])
    return deps


def raw_model_dict(raw: Any, selected: list[str] | None = None) -> dict[str, Any]:
    """``config --no-interpolate``: the loaded model before validation (merged,
    included, extended, paths resolved; ``${VAR}`` left as written, so typed values
    may still be templates), normalised as docker compose's ``ToModel`` leaves it:
    the project name, the implied ``default`` network, resource names, services
    disabled by profiles left out, and every mapping's keys sorted (it prints a
    Go map, not the typed project)."""
    data = plain(raw.data)
    data["name"] = raw.name
    active = set(raw.profiles)
    services = data.get("services")
    uses_default = False
    if isinstance(services, dict):
        wanted: set[str] | None = None
        if selected:
            # the named services and what they need (naming one enables its profile)
            wanted, todo = set(), list(selected)
            while todo:
                n = todo.pop()
                if n not in wanted and n in services:
                    wanted.add(n)
                    todo.extend(_raw_dependencies(services[n]))
        kept: dict[str, Any] = {}
        for name, svc in services.items():
            profiles = svc.get("profiles") if isinstance(svc, dict) else None
            if wanted is not None:
                if name not in wanted:
                    continue
            elif isinstance(profiles, list) and profiles and "*" not in active \
                    and not active.intersection(map(str, profiles)):
                continue
            if isinstance(svc, dict) and "network_mode" not in svc and "provider" not in svc:
                nets = svc.get("networks")
                if not nets:
                    svc["networks"] = {"default": None}
                    uses_default = True
                elif isinstance(nets, list):
                    svc["networks"] = {str(n): None for n in nets}
                    uses_default = uses_default or "default" in svc["networks"]
                elif isinstance(nets, dict) and "default" in nets:
                    uses_default = True
            kept[name] = svc
        data["services"] = kept
    if uses_default:
        networks = data.get("networks")
        if not isinstance(networks, dict):
            networks = data["networks"] = {}
        networks.setdefault("default", None)
    for key in ("networks", "volumes", "configs", "secrets"):
        section = data.get(key)
        if not isinstance(section, dict):
            continue
        for name, resource in list(section.items()):
            resource = resource if isinstance(resource, dict) else {}
            if resource.get("name") is None:
                external = str(resource.get("external", "")).lower() in ("true", "1")
                resource["name"] = name if external else f"{raw.name}_{name}"
            section[name] = resource
    return _sorted_keys(data)


def _sorted_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted_keys(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, list):
        return [_sorted_keys(v) for v in value]
    return value
