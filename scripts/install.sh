#!/usr/bin/env bash
# `make install` / `make uninstall`: release binaries with the Swift runtime linked in
# (--static-swift-stdlib: they run where the toolchain is absent), the stdlib, the
# diagnostic codes' reference (share/ezflow/doc/DIAGNOSTICS.md), shell
# completions and man pages, under $DESTDIR$PREFIX (README, "Installing").
#   bash scripts/install.sh install     build, then copy          (make install)
#   bash scripts/install.sh build       only the release build    (as the user who owns .build)
#   bash scripts/install.sh copy        only the copy; EZ_BIN names the built binaries
#   bash scripts/install.sh uninstall   remove exactly what `copy` installs (make uninstall)
# Variables: PREFIX (default /usr/local, absolute), DESTDIR (default empty: a staging
# root for packagers, prepended to every installed path), SWIFT (default swift).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

PREFIX="${PREFIX:-/usr/local}"
DESTDIR="${DESTDIR:-}"
SWIFT="${SWIFT:-swift}"
case "$PREFIX" in /*) ;; *) ez_die "PREFIX must be an absolute path (got '$PREFIX')" ;; esac
ROOT="$DESTDIR$PREFIX"
TOOLS=(ezc ezrun ezguard)
# Generated from the just-built tools (bash zsh fish completions, then the man pages).
COMPLETIONS=(
    "share/bash-completion/completions/ezc" "share/bash-completion/completions/ezrun"
    "share/zsh/site-functions/_ezc" "share/zsh/site-functions/_ezrun"
    "share/fish/vendor_completions.d/ezc.fish" "share/fish/vendor_completions.d/ezrun.fish"
)
MANPAGES=("share/man/man1/ezc.1" "share/man/man1/ezrun.1")
STDLIB_DIR="share/ezflow/stdlib"
# The diagnostic codes' reference, which `ezc lsp` links each diagnostic to.
DOC_DIR="share/ezflow/doc"

# One `swift build` per product (SwiftPM builds one --product per call); the second and
# third reuse the first's objects. FoundationNetworking's static archive does not name
# libcurl, so ezrun's link adds it (Debian's libcurl4-openssl-dev, scripts/lib.sh).
ez_release_build() {
    local p extra
    ez_require_swift
    ez_pkg_installed libcurl4-openssl-dev || ez_die "Debian package libcurl4-openssl-dev is missing: run 'make setup' first"
    for p in "${TOOLS[@]}"; do
        extra=()
        [ "$p" = ezrun ] && extra=(-Xlinker -lcurl)
        ez_log "$SWIFT build -c release --static-swift-stdlib ${extra[*]:+${extra[*]} }--product $p"
        "$SWIFT" build -c release --static-swift-stdlib "${extra[@]}" --product "$p"
    done
}

ez_release_bin() { "$SWIFT" build -c release --static-swift-stdlib --show-bin-path; }

# Writes what a command of the just-installed tools prints to $ROOT/$1.
ez_generate() {
    local dest="$ROOT/$1"
    shift
    install -d "$(dirname "$dest")"
    "$@" >"$dest.tmp" || { rm -f "$dest.tmp"; ez_die "'${*##*/}' failed: $dest not written"; }
    chmod 0644 "$dest.tmp"
    mv "$dest.tmp" "$dest"
}

ez_copy() {
    local bin="${EZ_BIN:-$(ez_release_bin)}" t f
    for t in "${TOOLS[@]}"; do
        [ -x "$bin/$t" ] || ez_die "$bin/$t is missing: run 'bash scripts/install.sh build' first"
    done
    ez_log "installing into $ROOT"
    install -d "$ROOT/bin" "$ROOT/$STDLIB_DIR"
    for t in "${TOOLS[@]}"; do install -m 0755 -s "$bin/$t" "$ROOT/bin/$t"; done
    rm -f "$ROOT/$STDLIB_DIR"/*.ezflow
    install -m 0644 stdlib/*.ezflow "$ROOT/$STDLIB_DIR/"
    install -d "$ROOT/$DOC_DIR"
    install -m 0644 docs/DIAGNOSTICS.md "$ROOT/$DOC_DIR/DIAGNOSTICS.md"
    local shells=(bash bash zsh zsh fish fish) tools=(ezc ezrun ezc ezrun ezc ezrun) i
    for i in "${!COMPLETIONS[@]}"; do
        ez_generate "${COMPLETIONS[$i]}" "$ROOT/bin/${tools[$i]}" completions "${shells[$i]}"
    done
    ez_generate "${MANPAGES[0]}" "$ROOT/bin/ezc" help --man
    ez_generate "${MANPAGES[1]}" "$ROOT/bin/ezrun" help --man
    for f in "${TOOLS[@]}"; do ez_log "  bin/$f ($(du -h "$ROOT/bin/$f" | cut -f1))"; done
}

ez_uninstall() {
    local t f
    ez_log "removing ezflow from $ROOT"
    for t in "${TOOLS[@]}"; do rm -f "$ROOT/bin/$t"; done
    for f in "${COMPLETIONS[@]}" "${MANPAGES[@]}"; do rm -f "$ROOT/$f"; done
    # share/ezflow is ours alone; bin, share/man and the completion directories are shared.
    rm -rf "${ROOT:?}/$STDLIB_DIR" "${ROOT:?}/$DOC_DIR"
    rmdir "$ROOT/share/ezflow" 2>/dev/null || true
}

case "${1:-install}" in
    install) ez_release_build; ez_copy ;;
    build) ez_release_build ;;
    copy) ez_copy ;;
    uninstall) ez_uninstall ;;
    *) ez_die "usage: bash scripts/install.sh install|build|copy|uninstall" ;;
esac
