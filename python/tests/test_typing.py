"""The package's stubs (kiln/_kiln.pyi, py.typed): mypy --strict passes on the examples, mypy on the package."""
from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import kiln

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


def mypy(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, MYPYPATH=str(pathlib.Path(kiln.__file__).parent.parent))
    config = pathlib.Path(__file__).resolve().parents[2] / "pyproject.toml"
    return subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", "--cache-dir", os.devnull,
                           "--config-file", str(config), *args],
                          capture_output=True, text=True, env=env, timeout=600)


def test_py_typed_and_stubs_ship():
    folder = pathlib.Path(kiln.__file__).parent
    assert (folder / "py.typed").exists() and (folder / "_kiln.pyi").exists()


def test_mypy_strict_on_the_examples():
    proc = mypy("--strict", *sorted(str(p) for p in EXAMPLES.glob("*.py")))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_on_the_package():
    proc = mypy("-p", "kiln")
    assert proc.returncode == 0, proc.stdout + proc.stderr
