"""From the command line and the folder to one merged compose document.

The steps, in docker compose's order:

1. find the files: ``-f`` (``-`` is stdin), else ``COMPOSE_FILE``, else
   ``compose.yaml`` & co. in the working folder or its parents, with the matching
   ``*.override.yaml``;
2. the project directory: ``--project-directory``, else the first file's folder;
3. the environment for interpolation: the shell, then ``.env`` (or ``--env-file``,
   ``COMPOSE_ENV_FILES``) for names the shell does not set;
4. the project name: ``-p``, ``COMPOSE_PROJECT_NAME``, else the last top-level
   ``name:`` of the files (a first pass that reads only the names, interpolated), else
   the folder's name; ``${COMPOSE_PROJECT_NAME}`` in the files is that final name;
5. each YAML document of each file, as if it were one more file: interpolate, make
   relative paths absolute (against the project directory, an include's
   ``project_directory``, or an extended file's own folder), apply ``include`` (its
   ``env_file`` feeds its interpolation and bare ``environment`` keys) and
   ``extends``;
6. merge the documents in order, settle ``!reset``/``!override``, default a
   ``build`` without ``context`` to the project directory; active profiles:
   ``--profile``, else ``COMPOSE_PROFILES``.

The result, :class:`RawProject`, is still a tree of MDict/MList: the model
(``compose.model``) validates and normalises it, reporting errors with the marks kept
here.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .dotenv import parse_dotenv
from .errors import ComposeError
from .interpolate import interpolate_tree
from .merge import merge_documents, merge_service, resolve_wrappers
from .paths import default_build_context, resolve_paths
from .yamlsrc import Mark, MDict, MList, load_yaml_documents

DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
OVERRIDE_FILES = ("compose.override.yml", "compose.override.yaml",
                  "docker-compose.override.yml", "docker-compose.override.yaml")
STDIN = "-"

_VALID_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


@dataclass
class LoadOptions:
    """What the command line says about where the project is."""

    files: Sequence[str] = ()
    project_name: str | None = None
    project_directory: str | None = None
    env_files: Sequence[str] = ()
    profiles: Sequence[str] = ()
    #: The shell environment; defaults to ``os.environ``.
    environ: Mapping[str, str] | None = None
    #: The folder the command runs in; defaults to the process's.
    cwd: str | None = None
    #: Read for ``-f -``; defaults to ``sys.stdin``.
    stdin: Callable[[], str] | None = None
    interpolate: bool = True


@dataclass
class RawProject:
    name: str
    working_dir: Path
    config_files: list[str]
    environment: dict[str, str]
    data: MDict
    profiles: set[str]
    warnings: list[str] = field(default_factory=list)
    #: Env files read for interpolation (``.env`` or ``--env-file``), absolute.
    env_files: list[Path] = field(default_factory=list)


def normalize_project_name(name: str) -> str:
    """docker compose's normalisation of ``name:`` and folder names."""
    name = re.sub(r"[^a-z0-9_-]", "", name.lower())
    return name.lstrip("_-")


def check_project_name(name: str, source: str) -> str:
    if not _VALID_NAME.match(name):
        raise ComposeError(
            f"invalid project name {name!r} (from {source}): it must consist only of "
            "lowercase letters, digits, hyphens and underscores, and start with a letter "
            "or digit")
    return name


class _Loader:
    def __init__(self, opts: LoadOptions) -> None:
        self.opts = opts
        self.shell: dict[str, str] = dict(os.environ if opts.environ is None else opts.environ)
        self.cwd = Path(opts.cwd or os.getcwd()).absolute()
        self.warnings: list[str] = []
        #: Files read for extends, per environment they were interpolated with (the
        #: same file extended from an include with its own env_file reads differently).
        self._file_cache: dict[tuple[Path, frozenset[tuple[str, str]]], Any] = {}
        #: Parsed documents of the top-level files: the project name's first pass
        #: reads them, the load proper uses them again (and stdin can be read once).
        self._parsed: dict[str, tuple[list[Any], str]] = {}

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def display(self, path: Path) -> str:
        """A file's name as messages show it: relative to the folder the user is in."""
        try:
            rel = os.path.relpath(path, self.cwd)
        except ValueError:  # pragma: no cover - other drive (not on Linux)
            return str(path)
        return rel if not rel.startswith("../../..") else str(path)

    # --- 1. files -------------------------------------------------------------------

    def find_files(self, dotenv: Mapping[str, str]) -> list[str]:
        if self.opts.files:
            return [f if f == STDIN else str(self._abs(f, self.cwd)) for f in self.opts.files]
        env_files = self.shell.get("COMPOSE_FILE") or dotenv.get("COMPOSE_FILE")
        if env_files:
            sep = self.shell.get("COMPOSE_PATH_SEPARATOR") or dotenv.get(
                "COMPOSE_PATH_SEPARATOR") or os.pathsep
            return [str(self._abs(f, self.cwd)) for f in env_files.split(sep) if f]
        start = Path(self.opts.project_directory).absolute() if self.opts.project_directory \
            else self.cwd
        for folder in [start, *start.parents]:
            found = [folder / n for n in DEFAULT_FILES if (folder / n).is_file()]
            if found:
                if len(found) > 1:
                    self.warn(f"Found multiple config files with supported names: "
                              f"{', '.join(self.display(f) for f in found)}; "
                              f"using {self.display(found[0])}")
                files = [str(found[0])]
                override = next((folder / n for n in OVERRIDE_FILES
                                 if (folder / n).is_file()), None)
                if override is not None:
                    files.append(str(override))
                return files
        raise ComposeError(
            f"no configuration file provided: no {', '.join(DEFAULT_FILES)} found in "
            f"{self.display(start) if start != self.cwd else 'this folder'} or its parents "
            "(use -f FILE)")

    @staticmethod
    def _abs(path: str, base: Path) -> Path:
        p = Path(os.path.expanduser(path))
        return p if p.is_absolute() else (base / p)

    # --- 3. environment ---------------------------------------------------------------

    def read_env_files(self, project_dir: Path, known: Mapping[str, str] | None = None
                       ) -> tuple[dict[str, str], list[Path]]:
        """The env files for interpolation and their values; ``${X}`` in them looks
        in the shell, then in ``known`` (what an earlier pass read)."""
        if self.opts.env_files:
            paths = [self._abs(p, self.cwd) for p in self.opts.env_files]
            required = True
        elif self.shell.get("COMPOSE_ENV_FILES"):
            paths = [self._abs(p, self.cwd)
                     for p in self.shell["COMPOSE_ENV_FILES"].split(",") if p]
            required = True
        elif self.shell.get("COMPOSE_DISABLE_ENV_FILE", "").lower() in ("1", "true"):
            return {}, []
        else:
            paths = [project_dir / ".env"]
            required = False
        values: dict[str, str] = {}
        used: list[Path] = []
        for path in paths:
            if path.is_dir() and not required:
                continue
            try:
                text = path.read_text(encoding="utf-8")
            except FileNotFoundError:
                if required:
                    raise ComposeError(f"env file {self.display(path)} not found")
                continue
            except (OSError, UnicodeDecodeError) as e:
                raise ComposeError(f"cannot read env file {self.display(path)}: {_why(e)}")
            def lookup(k: str) -> str | None:
                v = self.shell.get(k)
                return v if v is not None or known is None else known.get(k)

            parsed = parse_dotenv(text, file=self.display(path), lookup=lookup,
                                  earlier=dict(values))
            values.update(parsed)
            used.append(path)
        return values, used

    # --- 4. one file ----------------------------------------------------------------------

    def read_file(self, file: str) -> tuple[str, str]:
        """The text and display name of one compose file."""
        if file == STDIN:
            reader = self.opts.stdin or sys.stdin.read
            return reader(), "<stdin>"
        path = Path(file)
        shown = self.display(path)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ComposeError(f"compose file {shown} not found")
        except IsADirectoryError:
            raise ComposeError(f"compose file {shown} is a directory")
        except OSError as e:
            raise ComposeError(f"cannot read compose file {shown}: {_why(e)}")
        try:
            return data.decode("utf-8-sig"), shown
        except UnicodeDecodeError as e:
            raise ComposeError(f"compose file {shown} is not UTF-8 text "
                               f"(byte {e.start}: {data[e.start:e.start + 1]!r})")

    def parse_file(self, file: str) -> tuple[list[Any], str]:
        """The YAML documents of one file (parsed once) and its display name."""
        if file not in self._parsed:
            text, shown = self.read_file(file)
            self._parsed[file] = (load_yaml_documents(text, shown), shown)
        return self._parsed[file]

    def declared_name(self, files: Sequence[str], env: Mapping[str, str]) -> str | None:
        """The project name the files declare: the last top-level ``name:`` of every
        document of every file, interpolated, then normalised (compose-go's first
        pass). None when no file names it or the name normalises to nothing."""
        found: tuple[str, Mark | None, str] | None = None
        for f in files:
            docs, shown = self.parse_file(f)
            for doc in docs:
                if not isinstance(doc, MDict) or doc.get("name") in (None, ""):
                    continue
                value = doc["name"]
                if not isinstance(value, str):
                    raise _at(doc.value_mark("name"), shown, "name",
                              f"expected a string, found {_type_name(value)}")
                found = (value, doc.value_mark("name"), shown)
        if found is None:
            return None
        value, mark, shown = found
        if self.opts.interpolate:
            holder = MDict()
            holder.set("name", value, (mark, mark))
            value = interpolate_tree(holder, env.get, file=shown, warn=self.warn)["name"]
        return normalize_project_name(value) or None

    def load_file(self, file: str, *, base_dir: Path, env: Mapping[str, str],
                  stack: tuple[str, ...] = ()) -> list[MDict]:
        """Parse, interpolate, resolve paths, include and extends, for one file.

        One tree per YAML document: docker compose reads each document of a file as
        one more ``-f`` file, so the caller merges them in order like files. An empty
        file has none (an empty override is fine; a project with nothing at all is
        "empty compose file", said by the caller).
        """
        docs, shown = self.parse_file(file)
        out: list[MDict] = []
        for doc in docs:
            if not isinstance(doc, MDict):
                raise ComposeError(
                    f"the top level of a compose file must be a mapping, found "
                    f"{_type_name(doc)}", file=shown, line=1, column=1)
            if self.opts.interpolate:
                doc = interpolate_tree(doc, env.get, file=shown, warn=self.warn)
            resolve_paths(doc, base_dir, shown, self.shell.get("HOME"))
            if "include" in doc:
                doc = self.apply_include(doc, file=file, shown=shown, base_dir=base_dir,
                                         env=env, stack=(*stack, file))
            self.apply_extends(doc, file=file, shown=shown, base_dir=base_dir, env=env)
            out.append(doc)
        return out

    # --- include -----------------------------------------------------------------------

    def apply_include(self, doc: MDict, *, file: str, shown: str, base_dir: Path,
                      env: Mapping[str, str], stack: tuple[str, ...]) -> MDict:
        entries = doc.pop("include")
        mark = doc.value_mark("include")
        if not isinstance(entries, list):
            raise _at(mark, shown, "include", "expected a list of files or "
                      "{path, project_directory, env_file} entries")
        for i, entry in enumerate(entries):
            emark = entries.item_mark(i) if isinstance(entries, MList) else mark
            where = f"include[{i}]"
            paths: Any
            if isinstance(entry, str):
                paths, project_dir, env_files = [entry], None, None
            elif isinstance(entry, dict):
                unknown = set(entry) - {"path", "project_directory", "env_file"}
                if unknown:
                    raise _at(emark, shown, where,
                              f"unknown key {sorted(unknown)[0]!r} (expected path, "
                              "project_directory, env_file)")
                raw_paths = entry.get("path")
                paths = [raw_paths] if isinstance(raw_paths, str) else raw_paths
                if not isinstance(paths, list) or not paths or \
                        not all(isinstance(p, str) for p in paths):
                    raise _at(emark, shown, f"{where}.path", "expected a path or a list of paths")
                project_dir = entry.get("project_directory")
                env_files = entry.get("env_file")
                if isinstance(env_files, str):
                    env_files = [env_files]
            else:
                raise _at(emark, shown, where, f"expected a path or a mapping, found "
                          f"{_type_name(entry)}")
            abs_paths = [os.path.normpath(self._abs(p, base_dir)) for p in paths]
            for p in abs_paths:
                if p in stack:
                    chain = " -> ".join(self.display(Path(s)) for s in (*stack, p)
                                        if s != STDIN)
                    raise _at(emark, shown, where, f"include cycle: {chain}")
            inc_dir = Path(os.path.normpath(self._abs(project_dir, base_dir))) \
                if isinstance(project_dir, str) else Path(abs_paths[0]).parent
            # The included project has its own .env; the including environment wins.
            inc_env_values: dict[str, str] = {}
            env_paths = [self._abs(e, base_dir) for e in env_files if e != "/dev/null"] \
                if env_files else [inc_dir / ".env"]
            for ep in env_paths:
                if ep.is_file():
                    try:
                        text = ep.read_text(encoding="utf-8")
                    except (OSError, UnicodeDecodeError) as e:
                        raise _at(emark, shown, where,
                                  f"cannot read env file {self.display(ep)}: {_why(e)}")
                    # like --env-file: each file sees the ones before it
                    inc_env_values.update(parse_dotenv(
                        text, file=self.display(ep), lookup=env.get,
                        earlier=dict(inc_env_values)))
                elif env_files:
                    raise _at(emark, shown, where, f"env file {self.display(ep)} not found")
            inc_env = {**inc_env_values, **env}
            included: MDict | None = None
            for p in abs_paths:
                if not Path(p).is_file():
                    raise _at(emark, shown, where,
                              f"included file {self.display(Path(p))} not found")
                for one in self.load_file(p, base_dir=inc_dir, env=inc_env, stack=stack):
                    included = one if included is None else merge_documents(included, one)
            if included is None:
                continue  # empty included files bring nothing
            default_build_context(included, inc_dir)
            _resolve_bare_environment(included, inc_env)
            included.pop("name", None)
            # each include is imported in turn; what is already there (the including
            # file's own definitions, then earlier includes') is merged over it
            doc = _import_resources(included, doc)
        return doc

    # --- extends -----------------------------------------------------------------------

    def apply_extends(self, doc: MDict, *, file: str, shown: str, base_dir: Path,
                      env: Mapping[str, str]) -> None:
        services = doc.get("services")
        if not isinstance(services, MDict):
            return
        resolved: dict[str, MDict] = {}
        for name in list(services):
            if isinstance(services[name], MDict) and "extends" in services[name]:
                services.set(name, self._extend(
                    (file, name), services, shown, base_dir, env, resolved, ()),
                    services.key_marks.get(name))

    def _extend(self, key: tuple[str, str], services: MDict, shown: str, base_dir: Path,
                env: Mapping[str, str], resolved: dict[str, MDict],
                chain: tuple[tuple[str, str], ...]) -> MDict:
        file, name = key
        if name in resolved:
            return resolved[name]
        svc = services[name]
        if not isinstance(svc, MDict) or "extends" not in svc:
            return svc
        if key in chain:
            names = " -> ".join(f"{n}" for _, n in (*chain, key))
            raise _at(svc.value_mark("extends"), shown, f"services.{name}.extends",
                      f"extends cycle: {names}")
        ext = svc["extends"]
        emark = svc.value_mark("extends")
        where = f"services.{name}.extends"
        base_name: Any
        base_file: Any
        if isinstance(ext, str):
            base_name, base_file = ext, None
        elif isinstance(ext, dict):
            unknown = set(ext) - {"service", "file"}
            if unknown:
                raise _at(emark, shown, where, f"unknown key {sorted(unknown)[0]!r} "
                          "(expected service, file)")
            base_name, base_file = ext.get("service"), ext.get("file")
            if not isinstance(base_name, str):
                raise _at(emark, shown, f"{where}.service", "expected a service name")
            if base_file is not None and not isinstance(base_file, str):
                raise _at(emark, shown, f"{where}.file", "expected a file path")
        else:
            raise _at(emark, shown, where, "expected a service name or "
                      "{service, file}")
        if base_file is None:
            if base_name not in services:
                raise _at(emark, shown, where,
                          f"service {name!r} extends {base_name!r}, which is not defined "
                          "in this file")
            base = self._extend((file, base_name), services, shown, base_dir, env, resolved,
                                (*chain, key))
        else:
            # relative to the working folder of what is being loaded (the project's, an
            # include's project_directory, an extended file's own folder), not to the
            # declaring file's folder: compose-go's resource loader
            path = Path(os.path.normpath(self._abs(base_file, base_dir)))
            other = self._load_for_extends(path, emark, shown, where, env)
            other_services = other.get("services")
            if not isinstance(other_services, MDict) or base_name not in other_services:
                raise _at(emark, shown, where,
                          f"service {base_name!r} not found in {self.display(path)}")
            base = self._extend((str(path), base_name), other_services,
                                self.display(path), path.parent, env, {}, (*chain, key))
        if base is None:
            base = MDict()  # 'base:' left empty extends as nothing, as compose-go does
        if not isinstance(base, MDict):
            raise _at(emark, shown, where, f"service {base_name!r} is not a mapping")
        local = MDict(mark=svc.mark)
        for k, v in svc.items():
            if k != "extends":
                local.set(k, v, svc.key_marks.get(k))
        result = merge_service(base, local)
        resolved[name] = result
        return result

    def _load_for_extends(self, path: Path, mark: Mark | None, shown: str, where: str,
                          env: Mapping[str, str]) -> MDict:
        cache_key = (path, frozenset(env.items()))
        if cache_key not in self._file_cache:
            if not path.is_file():
                raise _at(mark, shown, where, f"file {self.display(path)} not found")
            text, other_shown = self.read_file(str(path))
            doc: MDict | None = None
            for one in load_yaml_documents(text, other_shown):
                if not isinstance(one, MDict):
                    raise ComposeError("the top level of a compose file must be a mapping",
                                       file=other_shown, line=1, column=1)
                if self.opts.interpolate:
                    one = interpolate_tree(one, env.get, file=other_shown, warn=self.warn)
                resolve_paths(one, path.parent, other_shown, self.shell.get("HOME"))
                doc = one if doc is None else merge_documents(doc, one)
            if doc is None:
                raise _at(mark, shown, where, f"file {self.display(path)} is empty")
            self._file_cache[cache_key] = doc
        return self._file_cache[cache_key]

    # --- the whole project ---------------------------------------------------------------

    def load(self) -> RawProject:
        opts = self.opts
        # .env of the working folder may name COMPOSE_FILE; read it from the folder the
        # project is run from before the files are known, as docker compose does.
        pre_dir = Path(opts.project_directory).absolute() if opts.project_directory \
            else self.cwd
        pre_env, pre_paths = self.read_env_files(pre_dir) if not opts.files else ({}, [])
        files = self.find_files(pre_env)
        if opts.project_directory:
            project_dir = self._abs(opts.project_directory, self.cwd)
        elif files[0] == STDIN:
            project_dir = self.cwd
        else:
            project_dir = Path(files[0]).parent
        if opts.files or opts.env_files or self.shell.get("COMPOSE_ENV_FILES"):
            dotenv, env_paths = self.read_env_files(project_dir)
        else:
            # docker compose reads the working folder's .env first (it may name
            # COMPOSE_FILE), then, the files known, the .env of the project's folder
            # (a compose.yaml found in a parent folder, or where COMPOSE_FILE points):
            # under what the first set, and seeing it (IMAGE=${IMAGE:-x} there keeps
            # the working folder's IMAGE)
            dotenv, env_paths = dict(pre_env), list(pre_paths)
            if project_dir / ".env" not in pre_paths:
                more, more_paths = self.read_env_files(project_dir, known=pre_env)
                for k, v in more.items():
                    dotenv.setdefault(k, v)
                env_paths += more_paths
        env: dict[str, str] = {**dotenv, **self.shell}

        # The project name comes first (-p, COMPOSE_PROJECT_NAME, the files' last
        # `name:`, the folder), so that ${COMPOSE_PROJECT_NAME} in the files is the
        # name as finally decided: compose-go's two passes.
        if opts.project_name:
            name = check_project_name(opts.project_name, "-p")
        elif env.get("COMPOSE_PROJECT_NAME"):
            name = check_project_name(env["COMPOSE_PROJECT_NAME"], "COMPOSE_PROJECT_NAME")
        else:
            name = self.declared_name(files, env) or normalize_project_name(project_dir.name)
            if not name:
                raise ComposeError(
                    f"cannot derive a project name from the folder {project_dir.name!r}:"
                    " use -p NAME or a top-level name:")
        interp_env = {**env, "COMPOSE_PROJECT_NAME": name}

        merged: MDict | None = None
        for f in files:
            for doc in self.load_file(f, base_dir=project_dir, env=interp_env):
                merged = doc if merged is None else merge_documents(merged, doc)
        if not merged:
            first = files[0]
            raise ComposeError("empty compose file",
                               file="<stdin>" if first == STDIN else self.display(Path(first)))
        data = resolve_wrappers(merged)
        default_build_context(data, project_dir)
        data["name"] = name

        if opts.profiles:
            profiles = {p for p in opts.profiles for p in p.split(",") if p}
        else:
            profiles = {p.strip() for p in env.get("COMPOSE_PROFILES", "").split(",")
                        if p.strip()}
        return RawProject(
            name=name,
            working_dir=project_dir,
            config_files=files,
            environment=interp_env,
            data=data,
            profiles=profiles,
            warnings=self.warnings,
            env_files=env_paths,
        )


def load(opts: LoadOptions) -> RawProject:
    """Load a project as docker compose would (see the module's docstring)."""
    return _Loader(opts).load()


# --- helpers -------------------------------------------------------------------------


def _resolve_bare_environment(doc: MDict, env: Mapping[str, str]) -> None:
    """Give the bare ``environment: [VAR]`` entries of an included project the values
    of the environment it was loaded with (its env_file, its .env, the including
    one's): compose-go resolves them so before the include is merged, so they see
    what the include's own interpolation saw."""
    services = doc.get("services")
    if not isinstance(services, MDict):
        return
    for svc in services.values():
        entries = svc.get("environment") if isinstance(svc, MDict) else None
        if not isinstance(entries, MList):
            continue
        for i, item in enumerate(entries):
            if isinstance(item, str) and "=" not in item and item in env:
                entries[i] = f"{item}={env[item]}"


_RESOURCES = ("services", "networks", "volumes", "configs", "secrets", "models")


def _import_resources(imported: MDict, into: MDict) -> MDict:
    """The resources of an included project brought into ``into``: a definition
    ``into`` lacks is copied; one it has too is merged, ``into``'s over the included
    one, as compose-go's ``importResources`` does. Other top-level keys of the
    included files (``x-*``, ``name``) stay behind."""
    out = MDict(mark=into.mark or imported.mark)
    for k, v in into.items():
        out.set(k, v, into.key_marks.get(k))
    for key in _RESOURCES:
        theirs = imported.get(key)
        if not isinstance(theirs, MDict):
            continue
        ours = out.get(key)
        section = MDict(mark=getattr(ours, "mark", None) or theirs.mark)
        if isinstance(ours, MDict):
            section.update(ours)
            section.key_marks.update(ours.key_marks)
        for name, definition in theirs.items():
            if name in section and isinstance(section[name], MDict) \
                    and isinstance(definition, MDict):
                pair = [MDict(), MDict()]
                pair[0].set(key, MDict(), None)
                pair[0][key].set(name, definition, theirs.key_marks.get(name))
                pair[1].set(key, MDict(), None)
                pair[1][key].set(name, section[name], section.key_marks.get(name))
                section[name] = merge_documents(*pair)[key][name]
            elif name not in section:
                section.set(name, definition, theirs.key_marks.get(name))
        out.set(key, section, into.key_marks.get(key) or imported.key_marks.get(key))
    return out


def _at(mark: Mark | None, file: str | None, key: str, message: str) -> ComposeError:
    return ComposeError(message, file=mark.file if mark else file,
                        line=mark.line if mark else None,
                        column=mark.column if mark else None, key=key)


def _type_name(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if value is None:
        return "nothing (null)"
    return f"the string {value!r}" if isinstance(value, str) else type(value).__name__


def _why(e: BaseException) -> str:
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    return str(e)
