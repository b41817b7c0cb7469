#!/usr/bin/env bash
# Installs the MCP conformance suite once into ~/.cache/llm-platform/mcp-conformance-<version>/
# (outside the repository; it runs on Node >= 22, see scripts/install-node.sh). Idempotent.
set -euo pipefail
VERSION=0.1.16
DEST="${LLM_PLATFORM_CACHE:-$HOME/.cache/llm-platform}/mcp-conformance-$VERSION"
BIN="$DEST/node_modules/@modelcontextprotocol/conformance/dist/index.js"
if [ -f "$BIN" ]; then exit 0; fi
mkdir -p "$DEST"
echo "install-conformance: @modelcontextprotocol/conformance@$VERSION -> $DEST"
( cd "$DEST" && [ -f package.json ] || echo '{"name":"mcp-conformance-cache","private":true}' > "$DEST/package.json" )
npm install --prefix "$DEST" --no-fund --no-audit --ignore-scripts --loglevel=error "@modelcontextprotocol/conformance@$VERSION" >/dev/null
test -f "$BIN"
