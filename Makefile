# The two commands a new user needs, plus a plain build. Each installs what it needs first (scripts/bootstrap.sh
# does nothing when everything is present).

JOBS ?= $(shell nproc)

.PHONY: all build configure bootstrap demo test debug fuzz clean

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

# Everything (tests included), then every test: unit tests in release and against the sanitizer build, the
# model, hostile and conformance suites, and the bounded fuzz run.
test: configure
	@cmake --build --preset release -j $(JOBS)
	@ctest --preset release -j $(JOBS)

fuzz: bootstrap
	@bash scripts/fuzz.sh $${SECONDS_TO_FUZZ:-600}

debug: bootstrap
	@cmake --preset debug >/dev/null
	@cmake --build --preset debug -j $(JOBS)

clean:
	rm -rf build build-debug build-fuzz out
