"""The layers of DESIGN.md, checked rather than hoped for: engine and netplug never
import compose; netplug never imports engine; nothing but the CLI imports the CLI or
kube; the front ends (the CLI, compose, kube) reach the engine only through its face
(``engine/api``) and never netplug; inside the engine, netplug has a narrow door."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

FORBIDDEN = {
    "engine": ["pycompose.compose", "pycompose.cli", "pycompose.kube"],
    "netplug": ["pycompose.compose", "pycompose.engine", "pycompose.cli", "pycompose.kube"],
    "compose": ["pycompose.cli", "pycompose.kube"],
    "kube": ["pycompose.cli"],
    # the Docker Engine API service is a front end: the engine's face and util only
    "dockerapi": ["pycompose.compose", "pycompose.cli", "pycompose.kube",
                  "pycompose.netplug"],
}


def package_of(path: Path) -> list[str]:
    """The dotted package a file's relative imports start from: the layers at the root
    are installed as ``pycompose.<layer>``."""
    rel = list(path.relative_to(ROOT).with_suffix("").parts)
    dotted = rel if rel[0] == "pycompose" else ["pycompose", *rel]
    return dotted[:-1]  # a module's package; an __init__'s is its own folder's


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every module a file imports, by its absolute name: relative imports are resolved
    (the layers import each other relatively, so that a reader resolving by folder sees
    the arrows), so that the rules below hold for both spellings."""
    tree = ast.parse(path.read_text(), filename=str(path))
    pkg = package_of(path)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                assert node.level <= len(pkg), f"{path}:{node.lineno} leaves pycompose"
                base = pkg[:len(pkg) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                assert node.module is not None
                module = node.module
            found.append((node.lineno, module))
            found += [(node.lineno, f"{module}.{a.name}") for a in node.names]
    return found


def test_relative_imports_resolve() -> None:
    """The resolution above, checked on what it must give."""
    assert package_of(ROOT / "compose" / "plan.py") == ["pycompose", "compose"]
    assert package_of(ROOT / "engine" / "api" / "__init__.py") == [
        "pycompose", "engine", "api"]
    assert ("pycompose.engine.api" in
            [m for _, m in imported_modules(ROOT / "compose" / "observed.py")])


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_layer_imports(package: str) -> None:
    bad = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for lineno, name in imported_modules(path):
            for prefix in FORBIDDEN[package]:
                if name == prefix or name.startswith(prefix + "."):
                    bad.append(f"{path.relative_to(ROOT)}:{lineno} imports {name}")
    assert not bad, "layering broken:\n" + "\n".join(bad)


def test_every_package_is_installed() -> None:
    """A subpackage missing from pyproject's list works in an editable install and is
    lost from a wheel; keep the list complete."""
    import tomllib

    declared = set(tomllib.loads((ROOT / "pyproject.toml").read_text())
                   ["tool"]["setuptools"]["packages"])
    present = {"pycompose"}
    for top, dotted in [("pycompose", "pycompose"), ("compose", "pycompose.compose"),
                        ("engine", "pycompose.engine"), ("netplug", "pycompose.netplug"),
                        ("kube", "pycompose.kube"), ("dockerapi", "pycompose.dockerapi")]:
        for init in (ROOT / top).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / top).parts
            if top == "pycompose" and rel and rel[0] in {"compose", "engine", "netplug",
                                                         "kube", "dockerapi"}:
                continue  # the symlinks to the three layers
            present.add(".".join([dotted, *rel]))
    assert present == declared


#: the engine's face: what front ends may import of the engine
FACE = ("pycompose.engine.api", "pycompose.engine.errors")
FRONT_ENDS = {"compose": "compose", "pycompose/cli": "pycompose/cli", "kube": "kube",
              "dockerapi": "dockerapi"}
#: the engine's modules that may import netplug (its narrow door)
NETPLUG_DOORS = {"engine/networks.py", "engine/neterrors.py", "engine/supervisor/net.py",
                 "engine/api/requests.py", "engine/api/networks.py"}


def _files(folder: str) -> list[Path]:
    base = ROOT / folder
    return sorted(base.rglob("*.py")) if base.is_dir() else []


def test_front_ends_use_only_the_engines_face() -> None:
    bad = []
    for folder in FRONT_ENDS:
        for path in _files(folder):
            for lineno, name in imported_modules(path):
                if name == "pycompose.engine" or (name.startswith("pycompose.engine.")
                                                  and not name.startswith(FACE)):
                    bad.append(f"{path.relative_to(ROOT)}:{lineno} imports {name}")
                if name == "pycompose.netplug" or name.startswith("pycompose.netplug."):
                    bad.append(f"{path.relative_to(ROOT)}:{lineno} imports {name}")
    assert not bad, "front ends reaching past the engine's face:\n" + "\n".join(bad)


def test_netplug_is_reached_through_a_narrow_door() -> None:
    bad = []
    for path in _files("engine"):
        rel = str(path.relative_to(ROOT))
        for lineno, name in imported_modules(path):
            if (name == "pycompose.netplug" or name.startswith("pycompose.netplug.")) \
                    and rel not in NETPLUG_DOORS:
                bad.append(f"{rel}:{lineno} imports {name}")
    assert not bad, "netplug imported outside its doors:\n" + "\n".join(bad)


def test_the_docker_api_service_reaches_only_the_face() -> None:
    """dockerapi/ is a front end: of pycompose it imports the engine's face, util and
    the root's version and error base, nothing else; only the CLI imports it."""
    allowed = ("pycompose.engine.api", "pycompose.engine.errors", "pycompose.util",
               "pycompose.dockerapi")
    bad = []
    for path in _files("dockerapi"):
        for lineno, name in imported_modules(path):
            if not name.startswith("pycompose"):
                continue
            if name in ("pycompose", "pycompose.errors", "pycompose.__version__",
                        "pycompose.errors.PycomposeError") or name.startswith(allowed):
                continue
            bad.append(f"{path.relative_to(ROOT)}:{lineno} imports {name}")
    for folder in ("engine", "compose", "netplug", "kube"):
        for path in _files(folder):
            for lineno, name in imported_modules(path):
                if name.startswith("pycompose.dockerapi"):
                    bad.append(f"{path.relative_to(ROOT)}:{lineno} imports {name}")
    assert not bad, "the Docker API service's layering broken:\n" + "\n".join(bad)
