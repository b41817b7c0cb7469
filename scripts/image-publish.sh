#!/usr/bin/env bash
# CI: builds the runtime image on the official base and pushes it to the registry platform.yaml
# names (runtimeImage), then prints the pushed digest, which the deploy pins:
#
#   podman login ghcr.io -u "$GITHUB_ACTOR" --password-stdin <<<"$GITHUB_TOKEN"
#   scripts/image-publish.sh                       # -> runtime-image.digest (sha256:...)
#   ansible-playbook generated/ansible/site.yml -e runtime_image_digest=$(cat runtime-image.digest)
#
# IMAGE_PUSH_DEST overrides where it goes (any podman transport, e.g. dir:/tmp/out) and
# IMAGE_BASE the base (default: the official image the Dockerfile pins).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/podman-env.sh
source scripts/podman-env.sh

ref=$(IMAGE_BASE=${IMAGE_BASE:-official} bash scripts/image-build.sh | tail -1)
dest=${IMAGE_PUSH_DEST:-docker://$ref}
digest_file=${IMAGE_DIGEST_FILE:-runtime-image.digest}
podman push --quiet --digestfile "$digest_file" "$ref" "$dest" >&2
digest=$(cat "$digest_file")
[[ $digest =~ ^sha256:[0-9a-f]{64}$ ]] || { echo "image-publish: podman wrote no digest to $digest_file" >&2; exit 1; }
echo "image-publish: $ref pushed to $dest as ${ref%:*}@$digest" >&2
echo "$digest"
