#!/usr/bin/env bash
# Builds the runtime image with podman, named and tagged as platform.yaml's runtimeImage says.
#
#   scripts/image-build.sh                 # local base (scripts/image-base.sh): no registry needed
#   IMAGE_BASE=official scripts/image-build.sh   # the Dockerfile's pinned node:24-bookworm-slim
#   IMAGE_BASE=<image> scripts/image-build.sh    # any other base with the same layout
#
# Layers are cached by podman, so a rebuild with unchanged sources takes seconds. Prints the image
# reference on the last line of stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/podman-env.sh
source scripts/podman-env.sh

command -v podman >/dev/null || { echo "image-build: podman is missing (apt-get install -y podman)" >&2; exit 1; }
[[ -f generated/runtime/runtime.json ]] || { echo "image-build: generated/runtime/runtime.json is missing (make render)" >&2; exit 1; }

# One build at a time on a machine (test files and benchmarks build in parallel): the others wait,
# then find every layer cached.
lock_dir=${LLM_PLATFORM_CACHE:-$HOME/.cache/llm-platform}
mkdir -p "$lock_dir"
exec 9>"$lock_dir/image-build.lock"
flock 9

# The control panel is copied into the image as built: make rebuilds it when a source changed.
make -s runtime/ui/dist/index.html >&2

ref=${IMAGE_REF:-$(node_modules/.bin/tsx scripts/image-ref.ts)}
version=${ref##*:}
base_args=()
case "${IMAGE_BASE:-local}" in
  local) base_args=(--build-arg "BASE=$(bash scripts/image-base.sh)") ;;
  official) ;;
  *) base_args=(--build-arg "BASE=$IMAGE_BASE") ;;
esac
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
# The commit's time, not the clock's: the same revision gives the same labels.
created=$(git log -1 --format=%cI 2>/dev/null || echo "")
source_url=${IMAGE_SOURCE:-$(git config --get remote.origin.url 2>/dev/null || echo "")}

# Where TLS is intercepted, npm inside the build needs the CA the host trusts (a build secret).
secret_args=()
if [[ -n ${NODE_EXTRA_CA_CERTS:-} && -r $NODE_EXTRA_CA_CERTS ]]; then
  secret_args=(--secret "id=npm-ca,src=$NODE_EXTRA_CA_CERTS")
fi

# The labels go on the command line too: buildah reuses a cached LABEL step whose build args
# changed, which would leave an old revision on a new image.
echo "image-build: $ref (base ${IMAGE_BASE:-local}, revision ${revision:0:12})" >&2
# --format docker: the OCI format drops HEALTHCHECK.
podman build --format docker --layers \
  ${base_args[@]+"${base_args[@]}"} ${secret_args[@]+"${secret_args[@]}"} \
  --build-arg "VERSION=$version" \
  --build-arg "REVISION=$revision" \
  --build-arg "CREATED=$created" \
  --build-arg "SOURCE=$source_url" \
  --label "org.opencontainers.image.version=$version" \
  --label "org.opencontainers.image.revision=$revision" \
  --label "org.opencontainers.image.created=$created" \
  --label "org.opencontainers.image.source=$source_url" \
  --tag "$ref" \
  ${IMAGE_BUILD_QUIET:+--quiet} \
  . >&2
echo "$ref"
