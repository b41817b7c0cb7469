# Sourced by the image scripts: podman reads the project's containers.conf (default ulimits a
# sandboxed machine accepts) unless the caller points CONTAINERS_CONF elsewhere.
CONTAINERS_CONF=${CONTAINERS_CONF:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/containers.conf}
export CONTAINERS_CONF
