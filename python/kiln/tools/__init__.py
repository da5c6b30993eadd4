"""The package's command-line tools: compare (kiln vs a reference, per output or per intermediate tensor)."""
from __future__ import annotations

import sys
from typing import List

TOOLS = ("compare",)


def main(argv: List[str]) -> int:
    if not argv or argv[0] not in TOOLS:
        print(f"usage: python -m kiln {{{','.join(TOOLS)}}} ...", file=sys.stderr)
        return 2
    if argv[0] == "compare":
        from . import compare
        return compare.main(argv[1:])
    return 2
