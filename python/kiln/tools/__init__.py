"""The package's command-line tools: compare (kiln vs a reference, per output or per intermediate tensor) and
reduce (a failing model cut to the smallest failing subgraph)."""
from __future__ import annotations

import sys
from typing import List

TOOLS = ("compare", "reduce")


def main(argv: List[str]) -> int:
    if not argv or argv[0] not in TOOLS:
        print(f"usage: python -m kiln {{{','.join(TOOLS)}}} ...", file=sys.stderr)
        return 2
    if argv[0] == "compare":
        from . import compare
        return compare.main(argv[1:])
    if argv[0] == "reduce":
        from . import reduce
        return reduce.main(argv[1:])
    return 2
