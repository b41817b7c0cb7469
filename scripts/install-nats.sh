#!/usr/bin/env bash
# Builds a real nats-server from the Go module proxy into ~/.cache/llm-platform, once, for the
# JetStream queue tests and the generated-config check (`nats-server --config FILE -t`).
#
#   ~/.cache/llm-platform/nats-server-v2.15.2/nats-server
#
# Idempotent: silent when the binary is there. Tests find it through NATS_SERVER_BIN or that path.
set -euo pipefail
cd "$(dirname "$0")/.."

NATS_VERSION=v2.15.2
CACHE="${LLM_PLATFORM_CACHE:-$HOME/.cache/llm-platform}"
DIR="$CACHE/nats-server-$NATS_VERSION"
BIN="$DIR/nats-server"

[ -x "$BIN" ] && exit 0
if ! command -v go >/dev/null 2>&1; then
  echo "install-nats: go is not installed; install Go 1.24+ (or the Debian package golang-go)" >&2
  exit 1
fi
mkdir -p "$CACHE"
exec 9>"$CACHE/.install-nats.lock"
flock 9
[ -x "$BIN" ] && exit 0
echo "install-nats: go install github.com/nats-io/nats-server/v2@$NATS_VERSION"
tmp="$(mktemp -d "$CACHE/.nats-build.XXXXXX")"
GOBIN="$tmp" GOFLAGS=-mod=mod CGO_ENABLED=0 go install "github.com/nats-io/nats-server/v2@$NATS_VERSION"
mkdir -p "$DIR"
mv "$tmp/nats-server" "$BIN"
rmdir "$tmp"
"$BIN" --version
