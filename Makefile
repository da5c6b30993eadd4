# The two commands a new user needs, plus a plain build. Each installs what it needs first (scripts/bootstrap.sh
# does nothing when everything is present).

JOBS ?= $(shell nproc)

.PHONY: all build configure bootstrap demo test python bench bench-serve compare-optimizers debug fuzz clean

all: build

bootstrap:
	@bash scripts/bootstrap.sh

configure: bootstrap
	@cmake --preset release >/dev/null

# The kiln tool only: what a first command needs. The tests build under `make test`.
build: configure
	@cmake --build --preset release -j $(JOBS) --target kiln

demo: build
	@bash scripts/demo.sh

# The Python package (python/) into the venv: the release build's module, which .venv is pointed at
# (python/install_build_tree.py). `make test` does the same. `pip install .` builds a standalone copy.
python: configure
	@cmake --build --preset release -j $(JOBS) --target _kiln
	@.venv/bin/python python/install_build_tree.py build/python

# Everything (tests included), then every test: unit tests in release and against the sanitizer build, the
# model, hostile and conformance suites, and the bounded fuzz run.
test: configure
	@cmake --build --preset release -j $(JOBS)
	@ctest --preset release -j $(JOBS) || { bash scripts/ctest_failures.sh build; exit 1; }

# kiln beside ONNX Runtime on a suite of PyTorch models (scripts/bench, docs/performance.md). Never part of
# `make test`. QUICK=1: four models, 1 thread, batch 1, 1 s each. Narrow or widen with MODELS=a,b THREADS=1,2
# BATCHES=1,8 RUNS=N (or BENCH_SECONDS=S) WARMUP=N; UPDATE_DOC=1 writes the tables into docs/performance.md.
bench: bootstrap
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS) --target kiln
	@.venv/bin/python scripts/bench/run_bench.py --kiln build/kiln $(if $(QUICK),--quick) \
	  $(if $(MODELS),--models $(MODELS)) $(if $(THREADS),--threads $(THREADS)) \
	  $(if $(BATCHES),--batches $(BATCHES)) $(if $(RUNS),--runs $(RUNS)) \
	  $(if $(BENCH_SECONDS),--seconds $(BENCH_SECONDS)) $(if $(WARMUP),--warmup $(WARMUP)) \
	  $(if $(UPDATE_DOC),--update-doc docs/performance.md)

# kiln serve under load on loopback (scripts/bench/serve_bench.py): per protocol (JSON, binary HTTP, gRPC) and
# client count (1, 4, 16), bounded in requests and time, beside KServe's own Python model server on onnxruntime
# (kserve, installed by bootstrap) and in-process `kiln bench`; the load from kiln-loadgen (tools/loadgen), or
# CLIENT=python for tritonclient threads. Never part of `make test`.
bench-serve: build
	@cmake --build --preset release -j $(JOBS) --target kiln-loadgen
	@.venv/bin/python scripts/bench/serve_bench.py --kiln build/kiln --loadgen build/kiln-loadgen \
	  $(if $(THREADS),--threads $(THREADS)) $(if $(CLIENT),--client $(CLIENT)) \
	  $(if $(MODEL),--model $(MODEL)) $(if $(SHAPE),--shape $(SHAPE)) $(if $(SERVERS),--servers $(SERVERS))

# `kiln optimize` beside onnxsim and onnxslim (installed into the venv on first use): node counts on the bench
# models, each output checked on ONNX Runtime. MODELS=a,b narrows; UPDATE_DOC=1 writes docs/performance.md.
compare-optimizers: build
	@.venv/bin/python scripts/bench/compare_optimizers.py --kiln build/kiln $(if $(MODELS),--models $(MODELS)) \
	  $(if $(UPDATE_DOC),--update-doc docs/performance.md)

fuzz: bootstrap
	@bash scripts/fuzz.sh $${SECONDS_TO_FUZZ:-600}

debug: bootstrap
	@cmake --preset debug >/dev/null
	@cmake --build --preset debug -j $(JOBS)

clean:
	rm -rf build build-debug build-fuzz out
