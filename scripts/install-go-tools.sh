#!/usr/bin/env bash
# Builds the Go tools the tests drive into .tools/ (git-ignored), once: a current amtool (Debian's
# 0.25 does not know discord_configs.webhook_url_file) and tools/alloy-check (Alloy's own parser).
set -euo pipefail
cd "$(dirname "$0")/.."

AMTOOL_VERSION=v0.28.1
TOOLS="$PWD/.tools"
mkdir -p "$TOOLS"

if ! command -v go >/dev/null 2>&1; then
  echo "install-go-tools: go is not installed; install Go 1.22+ (or the Debian package golang-go)" >&2
  exit 1
fi

# amtool, pinned; the stamp records the version so a bump rebuilds it.
if [ ! -x "$TOOLS/amtool" ] || [ "$(cat "$TOOLS/amtool.version" 2>/dev/null)" != "$AMTOOL_VERSION" ]; then
  echo "install-go-tools: go install github.com/prometheus/alertmanager/cmd/amtool@$AMTOOL_VERSION"
  GOBIN="$TOOLS" GOFLAGS=-mod=mod go install "github.com/prometheus/alertmanager/cmd/amtool@$AMTOOL_VERSION"
  echo "$AMTOOL_VERSION" > "$TOOLS/amtool.version"
fi

# alloy-check, rebuilt when its source changes.
src=(tools/alloy-check/main.go tools/alloy-check/go.mod tools/alloy-check/go.sum)
if [ ! -x "$TOOLS/alloy-check" ] || [ -n "$(find "${src[@]}" -newer "$TOOLS/alloy-check" 2>/dev/null)" ]; then
  echo "install-go-tools: go build tools/alloy-check"
  (cd tools/alloy-check && go build -o "$TOOLS/alloy-check" .)
fi
