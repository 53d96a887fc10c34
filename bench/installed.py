"""pycompose as a user installs it, for the benchmarks: its files copied into a virtual
environment of their own and byte-compiled, as ``pip install`` leaves them.

Why not the repository's ``.venv``: ``scripts/setup`` installs pycompose editable, and
setuptools' editable finder runs at every interpreter start (a ``.pth`` that imports
``pathlib``, ``re`` and ``fnmatch`` and installs an import hook: ~5-8 ms of every
command here). No user of an installed pycompose pays that, and a whole-command
benchmark measures it on every command. The copy's interpreter finds the
dependencies in ``.venv``'s site-packages through a plain path (``.pth`` of one line),
whose own ``.pth`` files (the editable finder among them) are then not run.

Use: ``python bench/installed.py DIR`` prints the path of its ``pycompose``;
``installed(DIR)`` returns it (a folder of the caller's, removed with it).
"""

from __future__ import annotations

import compileall
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def installed(where: Path) -> Path:
    """The ``pycompose`` console script of a fresh install of this checkout under
    ``where`` (made once; a second call reuses it)."""
    venv = where / "pycompose-installed"
    script = venv / "bin" / "pycompose"
    if script.exists():
        return script
    base = Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    subprocess.run([str(base), "-m", "venv", "--without-pip", str(venv)], check=True)
    site = Path(subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True).stdout.strip())
    deps = Path(sysconfig.get_paths()["purelib"])  # the dev venv's: httpx, trio, ...
    (site / "_pycompose_deps.pth").write_text(f"{deps}\n")
    # the layers are symlinks in the checkout (pycompose/engine -> ../engine): copied as
    # the wheel holds them, as folders
    shutil.copytree(REPO / "pycompose", site / "pycompose", symlinks=False,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    compileall.compile_dir(site / "pycompose", quiet=1)
    for name, target in (("pycompose", "pycompose.cli"),
                         ("pycompose-runtime", "pycompose.cli.runtime")):
        path = venv / "bin" / name
        path.write_text(f"#!{venv / 'bin' / 'python'}\nimport sys\n"
                        f"from {target} import main\nsys.exit(main())\n")
        os.chmod(path, 0o755)
    return script


if __name__ == "__main__":
    print(installed(Path(sys.argv[1]).resolve()))
