"""From the loader's :class:`RawProject` to a validated :class:`Project`.

:func:`validate` is where the loaded tree becomes types: pydantic checks and normalises
it, every error is reported once with its file, line and key, and then the checks that
need the whole project run (references to networks, volumes, secrets and configs,
``container_name`` with replicas, profiles, the dependency graph).
"""

from __future__ import annotations

import os
import re
import types
import typing
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from ..dotenv import parse_dotenv
from ..errors import ComposeError
from ..yamlsrc import MDict, key_path, locate
from .errors import translate
from .resources import ComposeFile, Config, Model, Network, Secret, Volume
from .service import Service

if TYPE_CHECKING:
    from ..loader import RawProject


@dataclass
class Project:
    """A validated project: what ``config`` prints and what ``up`` runs.

    ``services`` holds the services enabled by the active profiles; ``disabled`` the
    others (``config --profiles`` and ``up SERVICE`` look at them).
    """

    name: str
    working_dir: Path
    config_files: list[str]
    environment: dict[str, str]
    profiles: set[str]
    services: dict[str, Service]
    disabled: dict[str, Service] = field(default_factory=dict)
    networks: dict[str, Network] = field(default_factory=dict)
    volumes: dict[str, Volume] = field(default_factory=dict)
    secrets: dict[str, Secret] = field(default_factory=dict)
    configs: dict[str, Config] = field(default_factory=dict)
    models: dict[str, Model] = field(default_factory=dict)
    extensions: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    #: The merged tree the project came from: marks for later errors (graph, plan).
    source: MDict = field(default_factory=MDict)
    #: With ``validate(..., lazy_env_files=True)``: the error of a service whose
    #: env_file could not be read, raised only when the service is selected (docker
    #: compose reads the env files of the services a command works on).
    env_errors: dict[str, ComposeError] = field(default_factory=dict)

    def all_services(self) -> dict[str, Service]:
        return {**self.services, **self.disabled}

    def selected(self, names: list[str]) -> Project:
        """The project restricted to ``names`` and what they depend on (a service
        disabled by its profiles is enabled by naming it or depending on it), as
        ``docker compose config SERVICE...`` prints it. No names: all services."""
        if not names:
            return self
        from .dependencies import edges_of

        every = self.all_services()
        for n in names:
            if n not in every:
                raise ComposeError(f"no such service: {n}")
        chosen: set[str] = set()
        todo = list(names)
        while todo:
            n = todo.pop()
            if n in chosen or n not in every:
                continue
            chosen.add(n)
            todo.extend(dep for dep, _ in edges_of(n, every[n], self.source))
        services = {n: every[n] for n in every if n in chosen}
        for n in services:
            if n in self.env_errors:
                raise self.env_errors[n]
        for svc in services.values():
            if svc.depends_on:
                svc.depends_on = {d: v for d, v in svc.depends_on.items() if d in chosen}
        return replace(self, services=services,
                       disabled={n: s for n, s in every.items() if n not in chosen})

    def without_unused_resources(self) -> Project:
        """The project without the networks, volumes, secrets, configs and models
        that none of its services uses, as docker compose loads a project unless
        ``--all-resources`` is given (compose-go's WithoutUnnecessaryResources)."""
        nets: set[str] = set()
        vols: set[str] = set()
        secrets: set[str] = set()
        configs: set[str] = set()
        models: set[str] = set()
        for svc in self.services.values():
            if svc.networks:
                nets.update(svc.networks)
            elif svc.network_mode is None and svc.provider is None:
                nets.add("default")
            vols.update(v.source for v in svc.volumes or ()
                        if v.type == "volume" and v.source)
            secrets.update(r.source for r in svc.secrets or ())
            if svc.build is not None:
                secrets.update(r.source for r in svc.build.secrets or ())
            configs.update(r.source for r in svc.configs or ())
            models.update(svc.models or ())
        return replace(
            self,
            networks={k: v for k, v in self.networks.items() if k in nets},
            volumes={k: v for k, v in self.volumes.items() if k in vols},
            secrets={k: v for k, v in self.secrets.items() if k in secrets},
            configs={k: v for k, v in self.configs.items() if k in configs},
            models={k: v for k, v in self.models.items() if k in models})

    def error_at(self, path: tuple[str | int, ...], message: str) -> ComposeError:
        """A ComposeError located at ``path`` in the files (``("services", "web")``)."""
        return error_at(self.source, path, message)


def error_at(tree: Any, path: tuple[str | int, ...], message: str) -> ComposeError:
    """An error at ``path`` in the normalised model, located in the raw tree: a name
    looked up in a list (``networks: [front]``) becomes that item's index."""
    raw_path: list[str | int] = []
    node = tree
    for step in path:
        if isinstance(node, list) and isinstance(step, str):
            found = next((i for i, item in enumerate(node)
                          if isinstance(item, str) and item.split(":", 1)[0] == step), None)
            if found is None:
                break
            step = found
        raw_path.append(step)
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            node = None
    path = tuple(raw_path) if len(raw_path) == len(path) else path
    mark, _ = locate(tree, path)
    return ComposeError(message, file=mark.file if mark else None,
                        line=mark.line if mark else None,
                        column=mark.column if mark else None,
                        key=key_path(path) or None)


def _unwrap(annotation: Any) -> tuple[Any, int]:
    """The model class inside ``annotation`` and how many container levels (dict,
    list) wrap it: ``dict[str, Service] | None`` -> ``(Service, 1)``."""
    depth = 0
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if not args:
                return None, depth
            annotation = args[0]
        elif origin in (dict, list):
            depth += 1
            annotation = typing.get_args(annotation)[-1]
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            return annotation, depth
        else:
            return None, depth


def _known_keys(path: Any) -> list[str]:
    """The keys allowed where ``path`` (up to its last step) leads: the vocabulary of
    "did you mean"."""
    model: type[BaseModel] = ComposeFile
    skip = 0
    for step in list(path)[:-1]:
        if skip:
            skip -= 1
            continue
        field = model.model_fields.get(step) if isinstance(step, str) else None
        if field is None:
            break
        inner, skip = _unwrap(field.annotation)
        if inner is None:
            return []
        model = inner
    return [k for k in model.model_fields if k != "extensions"]


def validate(raw: RawProject, *, consistency: bool = True, env_files: bool = True,
             lazy_env_files: bool = False) -> Project:
    """Validate and normalise ``raw``; raise one ComposeError for the first problem.

    ``consistency=False`` skips the checks across the project (undefined networks,
    volumes, secrets, dependencies, a service without image or build), as ``config
    --no-consistency`` does; ``env_files=False`` leaves ``env_file`` unread and in
    the model (``--no-env-resolution``); ``lazy_env_files`` keeps an unreadable env
    file's error for when its service is selected (:meth:`Project.selected`,
    :meth:`Project.check_env_files`)."""
    data = raw.data
    if not isinstance(data, dict):
        raise ComposeError("a compose file must be a mapping of top-level keys "
                           "(services, networks, ...)",
                           file=raw.config_files[0] if raw.config_files else None)
    _check_names(data)
    try:
        doc = ComposeFile.model_validate(data)
    except ValidationError as e:
        raise translate(e, data, known_keys=_known_keys)
    warnings = list(raw.warnings)
    if doc.version is not None:
        where = data.key_mark("version") if isinstance(data, MDict) else None
        prefix = f"{where.file}: " if where else ""
        _warn(warnings, f"{prefix}the attribute `version` is obsolete, it will be "
                        "ignored, please remove it to avoid potential confusion")
    env_errors: dict[str, ComposeError] = {}
    for name, svc in doc.services.items():
        try:
            _resolve_environment(name, svc, raw, data, read_env_files=env_files)
        except ComposeError as e:
            if not lazy_env_files:
                raise
            env_errors[name] = e
        for ref in svc.secrets or []:
            # docker compose's default, written out (config prints it)
            if ref.target is None:
                ref.target = f"/run/secrets/{ref.source}"
    enabled, disabled = _split_profiles(doc.services, raw.profiles)
    project = Project(
        name=raw.name, working_dir=raw.working_dir,
        config_files=[str(f) for f in raw.config_files],
        environment=dict(raw.environment), profiles=set(raw.profiles),
        services=enabled, disabled=disabled,
        networks=doc.networks, volumes=doc.volumes, secrets=doc.secrets,
        configs=doc.configs, models=doc.models, extensions=doc.extensions or {},
        warnings=warnings, source=data if isinstance(data, MDict) else MDict(data),
        env_errors=env_errors,
    )
    if not consistency:
        return project
    _check_project(project)
    from .dependencies import check_dependencies

    project.warnings.extend(w for w in check_dependencies(project)
                            if w not in project.warnings)
    return project


_NAME = re.compile(r"^[a-zA-Z0-9._-]+$")


def _check_names(data: Any) -> None:
    """Names of services, networks, ... as the spec allows them, reported at the name
    itself (pydantic would only see the whole mapping)."""
    for section in ("services", "networks", "volumes", "secrets", "configs"):
        entries = data.get(section)
        if not isinstance(entries, MDict):
            continue
        for key in entries:
            if not isinstance(key, str) or not _NAME.match(key):
                mark = entries.key_mark(key)
                raise ComposeError(
                    f"invalid {section[:-1]} name {key!r}: use only letters, digits, "
                    "'.', '_' and '-'", file=mark.file if mark else None,
                    line=mark.line if mark else None, column=mark.column if mark else None,
                    key=f"{section}.{key}")


def _warn(warnings: list[str], message: str) -> None:
    if message not in warnings:
        warnings.append(message)


def _split_profiles(services: dict[str, Service], active: set[str]
                    ) -> tuple[dict[str, Service], dict[str, Service]]:
    enabled: dict[str, Service] = {}
    disabled: dict[str, Service] = {}
    for name, svc in services.items():
        if not svc.profiles or "*" in active or active.intersection(svc.profiles):
            enabled[name] = svc
        else:
            disabled[name] = svc
    return enabled, disabled


def _read_text(path: str, where: Any, data: Any, what: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise error_at(data, where, f"cannot read the {what} {path}: {reason}")


def _parse_raw_env(text: str) -> dict[str, str]:
    """``format: raw``: ``KEY=VALUE`` lines taken as written, no quotes, no ``${}``."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            out[key.strip()] = value
    return out


def _resolve_environment(name: str, svc: Service, raw: RawProject, data: Any, *,
                         read_env_files: bool = True) -> None:
    """The container environment, as compose-go resolves it: a bare ``VAR`` takes the
    project environment's value (shell, then ``.env``); ``env_file`` values come under
    ``environment`` ones; ``${X}`` in an env file looks in the project environment,
    then in the service's ``environment``. A bare name that nothing sets is kept with
    no value (``KEY: null``).
    ``env_file``/``label_file`` are dropped once read, as ``docker compose config``
    drops them (``WithDiscardEnvFile``); with ``read_env_files=False`` they stay,
    unread, with absolute paths (``config --no-env-resolution``)."""
    project_env = raw.environment
    if not read_env_files:
        for ef in svc.env_file or []:
            if not os.path.isabs(ef.path):
                ef.path = str(raw.working_dir / ef.path)
        if svc.environment is not None:
            svc.environment = {k: (v if v is not None else project_env.get(k))
                               for k, v in svc.environment.items()}
        _resolve_build_args(svc, project_env)
        _resolve_label_files(name, svc, raw, data)
        return
    own: dict[str, str | None] = {
        k: (v if v is not None else project_env.get(k))
        for k, v in (svc.environment or {}).items()}
    env: dict[str, str | None] = {}
    read: list[tuple[str, dict[str, str]]] = []
    for i, ef in enumerate(svc.env_file or []):
        where = ("services", name, "env_file", i)
        path = ef.path if os.path.isabs(ef.path) else str(raw.working_dir / ef.path)
        text = _read_text(path, where, data, "env file")
        if text is None:
            if ef.required:
                raise error_at(data, where, f"env file {path} not found")
            continue
        if ef.format == "raw":
            values = _parse_raw_env(text)
        else:
            def lookup(k: str) -> str | None:
                v = project_env.get(k)
                return v if v is not None else own.get(k)

            values = parse_dotenv(text, file=path, lookup=lookup)
        env.update(values)
        read.append((path, {k: v for k, v in values.items() if v is not None}))
    # ``environment`` is laid over the env files whole: a bare key that nothing set
    # stays as ``KEY: null`` (docker compose config prints it so, and the container
    # does not get it), even over an env file's value, as compose-go's OverrideBy
    env.update(own)
    svc._env_files = read
    if svc.environment is not None or svc.env_file:
        svc.environment = env
    svc.env_file = None
    _resolve_build_args(svc, project_env)
    _resolve_label_files(name, svc, raw, data)


def _resolve_build_args(svc: Service, project_env: dict[str, str]) -> None:
    if svc.build is not None and svc.build.args:
        # a bare build arg takes the project environment's value; one nothing sets
        # is dropped (unlike environment keys), as compose-go's Normalize drops it
        args = {k: (v if v is not None else project_env.get(k))
                for k, v in svc.build.args.items()}
        svc.build.args = {k: v for k, v in args.items() if v is not None}


def _resolve_label_files(name: str, svc: Service, raw: RawProject, data: Any) -> None:
    if svc.label_file:
        labels: dict[str, str] = {}
        for i, lf in enumerate(svc.label_file):
            where = ("services", name, "label_file", i)
            path = lf if os.path.isabs(lf) else str(raw.working_dir / lf)
            text = _read_text(path, where, data, "label file")
            if text is None:
                raise error_at(data, where, f"label file {path} not found")
            labels.update(parse_dotenv(text, file=path, interpolate=False))
        labels.update(svc.labels or {})
        svc.labels = labels
        svc.label_file = None


def _check_project(p: Project) -> None:
    """Checks across keys that pydantic cannot see one model at a time."""
    declared_nets = set(p.networks) | {"default"}
    for name, svc in p.all_services().items():
        at = ("services", name)
        if svc.image is None and svc.build is None and svc.provider is None:
            raise p.error_at(at, f"service {name!r} has neither an image nor a build "
                                 "context specified")
        if svc.scale is not None and svc.deploy is not None and \
                svc.deploy.replicas is not None and svc.scale != svc.deploy.replicas:
            raise p.error_at((*at, "scale"), f"service {name!r}: scale ({svc.scale}) and "
                             f"deploy.replicas ({svc.deploy.replicas}) disagree")
        if svc.network_mode is not None and svc.networks:
            raise p.error_at((*at, "network_mode"), f"service {name!r} declares both "
                             "network_mode and networks, which exclude each other")
        for net in svc.networks or {}:
            if net not in declared_nets:
                raise p.error_at((*at, "networks", net),
                                 f"service {name!r} refers to undefined network {net!r}: "
                                 "declare it under the top-level networks")
        for i, vol in enumerate(svc.volumes or []):
            if vol.type == "volume" and vol.source and vol.source not in p.volumes:
                raise p.error_at((*at, "volumes", i),
                                 f"service {name!r} refers to undefined volume "
                                 f"{vol.source!r}: declare it under the top-level volumes")
        for kind, declared in (("secrets", p.secrets), ("configs", p.configs)):
            for i, ref in enumerate(getattr(svc, kind) or []):
                if ref.source not in declared:
                    raise p.error_at((*at, kind, i),
                                     f"service {name!r} refers to undefined "
                                     f"{kind[:-1]} {ref.source!r}: declare it under the "
                                     f"top-level {kind}")
    # container names that clash are an error of the commands that would create them
    # (compose/plan.py check_container_names), not of down or config
