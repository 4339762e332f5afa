# Developer entry points. The scripts hold the real logic; this file only names it.
SWIFT ?= swift
BENCH_ARGS ?=
# install/uninstall: where (PREFIX, absolute) and a staging root for packagers (DESTDIR).
PREFIX ?= /usr/local
DESTDIR ?=
EXAMPLES := $(wildcard examples/*.ezflow examples/*.ezflow.yaml)

.PHONY: setup build test bench example clean install uninstall

## setup: install missing Debian packages, `make install` (PREFIX=/usr/local: ezc, ezrun on PATH), run the CI example
setup:
	PREFIX="$(PREFIX)" SWIFT="$(SWIFT)" bash scripts/setup.sh

## install: release build (Swift runtime linked in), then bin/ezc ezrun ezguard, share/ezflow/stdlib,
## completions and man pages under $(DESTDIR)$(PREFIX)
install:
	PREFIX="$(PREFIX)" DESTDIR="$(DESTDIR)" SWIFT="$(SWIFT)" bash scripts/install.sh install

## uninstall: remove exactly what `make install` put under $(DESTDIR)$(PREFIX)
uninstall:
	PREFIX="$(PREFIX)" DESTDIR="$(DESTDIR)" bash scripts/install.sh uninstall

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
