# Developer entry points. The scripts hold the real logic; this file only names it.
SWIFT ?= swift
BENCH_ARGS ?=
EXAMPLES := $(wildcard examples/*.ezflow examples/*.ezflow.yaml)

.PHONY: setup build test bench example clean

## setup: install missing Debian packages, build ezc (release), check the CI example
setup:
	bash scripts/setup.sh

## build: debug build of every product
build:
	$(SWIFT) build

## test: install missing packages, build the tests, run XCTest + Swift Testing
test:
	bash scripts/test.sh

## bench: time `ezc check` on generated 1k/10k/100k-task workflows (BENCH_ARGS="--sizes 1000")
bench:
	$(SWIFT) run -c release ezbench check $(BENCH_ARGS)

## example: `ezc check` every workflow in examples/
example:
	$(SWIFT) build -c release --product ezc
	@test -n "$(EXAMPLES)" || { echo "no examples found in examples/"; exit 1; }
	"$$($(SWIFT) build -c release --show-bin-path)/ezc" check $(EXAMPLES)

## clean: remove build products
clean:
	rm -rf .build
