# The two commands a new user needs, plus a plain build. Each installs what it needs first (scripts/bootstrap.sh
# does nothing when everything is present).

JOBS ?= $(shell nproc)

.PHONY: all build bootstrap demo test debug fuzz clean

all: build

bootstrap:
	@bash scripts/bootstrap.sh

build: bootstrap
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS)

demo: build
	@bash scripts/demo.sh

test: build
	@ctest --preset release -j $(JOBS)

fuzz: bootstrap
	@bash scripts/fuzz.sh $${SECONDS_TO_FUZZ:-600}

debug: bootstrap
	@cmake --preset debug >/dev/null
	@cmake --build --preset debug -j $(JOBS)

clean:
	rm -rf build build-debug out
