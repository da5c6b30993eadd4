#!/usr/bin/env python3
"""Points a Python environment at the kiln package in a build tree (what `make test` and `make python` do):

    .venv/bin/python python/install_build_tree.py build/python

writes kiln-build-tree.pth into the environment's site-packages naming that folder (as an editable install
does), then checks from a fresh interpreter that `import kiln` loads the build tree's module. The module is
the release build's target `_kiln`; `pip install .` is the way to a standalone copy."""
import pathlib
import subprocess
import sys
import sysconfig


def main() -> int:
    tree = pathlib.Path(sys.argv[1]).resolve()
    if not (tree / "kiln" / "__init__.py").exists() or not list((tree / "kiln").glob("_kiln*.so")):
        print(f"install_build_tree: {tree}/kiln has no built module; build the target _kiln first "
              "(scripts/bootstrap.sh installs nanobind, which it needs)", file=sys.stderr)
        return 1
    pth = pathlib.Path(sysconfig.get_paths()["purelib"]) / "kiln-build-tree.pth"
    pth.write_text(f"{tree}\n")
    check = subprocess.run([sys.executable, "-c", "import kiln, kiln._kiln; print(kiln.__file__)"],
                           capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    if check.returncode != 0 or not check.stdout.strip().startswith(str(tree)):
        print(f"install_build_tree: import kiln after writing {pth} gave: {check.stdout}{check.stderr}",
              file=sys.stderr)
        return 1
    print(f"kiln: {pth} -> {tree}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
