#!/usr/bin/env bash
# `make demo`: what kiln does, on the bundled SuperResolutionNet (exported from PyTorch with dynamic h/w).
set -euo pipefail
cd "$(dirname "$0")/.."
model=models/super_resolution.onnx
out=out/demo
echo "== kiln inspect $model"
build/kiln inspect "$model"
echo
echo "== kiln run $model at 224x224 (random input)"
build/kiln run "$model" --shape input=1x1x224x224 --output-dir "$out"
echo
echo "== the same model at another size: the file declares height and width as symbols"
build/kiln run "$model" --shape input=2x1x96x128 --output-dir "$out"
echo
echo "== a mistake kiln explains: a rank-3 input"
build/kiln run "$model" --shape input=1x224x224 --output-dir "$out" || true
