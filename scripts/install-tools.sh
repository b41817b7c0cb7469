#!/usr/bin/env bash
# Installs the system tools the tests use for real, when missing. Idempotent and quiet when all is there.
set -euo pipefail
cd "$(dirname "$0")/.."

# command -> Debian package
declare -A APT=(
  [docker-compose]=docker-compose
  [chromium]=chromium
  [promtool]=prometheus
  [flock]=util-linux
  [prlimit]=util-linux
  [bwrap]=bubblewrap
  [python3]=python3
  [ansible-playbook]=ansible
  [ansible-lint]=ansible-lint
  # The runtime image: built and run in containers (tests/image, make image, bench/image.ts).
  [podman]=podman
  [buildah]=buildah
  [podman-compose]=podman-compose
  [debootstrap]=debootstrap
)

missing=()
for cmd in "${!APT[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${APT[$cmd]}")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-tools: need root to install: ${missing[*]}" >&2
    exit 1
  fi
  echo "install-tools: apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Go-built tools (a current amtool, tools/alloy-check), cached in .tools/.
bash scripts/install-go-tools.sh

# A real Ollama and a real small model (SmolLM2-135M) for the runtime's tests, in ~/.cache/llm-platform.
bash scripts/install-ollama.sh

# The MCP conformance suite (runs on Node >= 22), cached outside the repository.
bash scripts/install-conformance.sh

# A real Neo4j 5.26 (graph-store tests) and the in-process MiniLM embedding model (retrieval tests).
bash scripts/install-neo4j.sh
bash scripts/install-embedding-model.sh

# A real nats-server (JetStream queue backend tests, generated NATS config check).
bash scripts/install-nats.sh
