"""The layers of DESIGN.md, checked rather than hoped for: engine and netplug never
import compose; netplug never imports engine; nothing but the CLI imports the CLI or
kube; kube reaches the engine only through its public face (errors, and api.py)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

FORBIDDEN = {
    "engine": ["pycompose.compose", "pycompose.cli", "pycompose.kube"],
    "netplug": ["pycompose.compose", "pycompose.engine", "pycompose.cli", "pycompose.kube"],
    "compose": ["pycompose.cli", "pycompose.kube"],
    "kube": ["pycompose.cli", "pycompose.netplug"],
}

#: What kube may import of the engine: its face, not its insides (compose drives it).
ENGINE_FACE = ("pycompose.engine.errors", "pycompose.engine.api")


def imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_layer_imports(package: str) -> None:
    bad = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for lineno, name in imported_modules(path):
            for prefix in FORBIDDEN[package]:
                if name == prefix or name.startswith(prefix + "."):
                    bad.append(f"{path.relative_to(ROOT)}:{lineno} imports {name}")
            if package == "kube" and (name == "pycompose.engine" or name.startswith(
                    "pycompose.engine.")) and not name.startswith(ENGINE_FACE):
                bad.append(f"{path.relative_to(ROOT)}:{lineno} imports {name} (kube "
                           "reaches the engine through compose or the engine's face)")
    assert not bad, "layering broken:\n" + "\n".join(bad)


def test_no_relative_imports_across_layers() -> None:
    """``from ..engine import x`` would dodge the check above; only same-package
    relative imports are allowed."""
    bad = []
    for package in FORBIDDEN:
        for path in (ROOT / package).rglob("*.py"):
            depth = len(path.relative_to(ROOT / package).parts)  # 1 = top of the package
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and node.level >= depth + 1:
                    bad.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not bad, "relative imports leaving their package:\n" + "\n".join(bad)


def test_every_package_is_installed() -> None:
    """A subpackage missing from pyproject's list works in an editable install and is
    lost from a wheel; keep the list complete."""
    import tomllib

    declared = set(tomllib.loads((ROOT / "pyproject.toml").read_text())
                   ["tool"]["setuptools"]["packages"])
    present = {"pycompose"}
    for top, dotted in [("pycompose", "pycompose"), ("compose", "pycompose.compose"),
                        ("engine", "pycompose.engine"), ("netplug", "pycompose.netplug"),
                        ("kube", "pycompose.kube")]:
        for init in (ROOT / top).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / top).parts
            if top == "pycompose" and rel and rel[0] in {"compose", "engine", "netplug",
                                                         "kube"}:
                continue  # the symlinks to the three layers
            present.add(".".join([dotted, *rel]))
    assert present == declared
