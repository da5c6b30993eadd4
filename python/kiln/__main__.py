"""python -m kiln TOOL ...: the package's tools (`kiln compare` and `kiln reduce` hand over to these)."""
import sys

from .tools import main

sys.exit(main(sys.argv[1:]))
