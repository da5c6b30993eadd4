#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks to build, test and demo kiln.
# Idempotent: when everything is present it only checks and returns.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libgtest-dev libgmock-dev libbenchmark-dev
  libcpuinfo-dev libfp16-dev
  libcli11-dev nlohmann-json3-dev libfmt-dev
  clang libclang-rt-14-dev
  python3-venv python3-dev python3-torch python3-torchvision
  strace ccache
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler rapidjson-dev libboost-dev python3-yaml
)
# The Python package (python/, pyproject.toml) builds with nanobind and scikit-build-core; its tests use pytest
# and mypy. Pinned so the bindings build the same everywhere; onnxruntime is the reference the tests compare with.
# tritonclient is the server's test client (tests/serve): Triton's own HTTP and gRPC clients, written by others.
# kserve is KServe's Python model server (`make bench-serve` runs it beside kiln serve) and its v2 clients
# (tests/serve); 0.21.0 is pinned because it resolves with numpy<2 (it lifts Debian's numpy 1.24 to 1.26.4)
# and the protobuf tritonclient's gRPC client uses, where older releases pull in ray and protobuf 3.
PIP_PACKAGES=("onnx==1.23.2" "onnxruntime" "numpy<2" "nanobind==2.9.2" "scikit-build-core==0.11.6" "pytest" "mypy"
              "tritonclient[http,grpc]" "kserve==0.21.0")

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

stamp=.venv/.kiln-bootstrap
want="${PIP_PACKAGES[*]}"
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "bootstrap: creating .venv with ${want}"
  # --system-site-packages so the venv sees Debian's torch and torchvision.
  [ -x .venv/bin/python ] || /usr/bin/python3 -m venv --system-site-packages .venv
  .venv/bin/pip install -q --disable-pip-version-check "${PIP_PACKAGES[@]}"
  echo "$want" > "$stamp"
fi
