# The platform runtime: one image for `runtime web|worker|mcp|rag|index`.
#
#   make image                      # podman, with the local base (scripts/image-base.sh)
#   podman build --format docker \
#     --build-arg VERSION=0.1.0 --build-arg REVISION=$(git rev-parse HEAD) -t IMAGE .
#
# BASE is the official Node 24 image, pinned to an exact release; CI may pin it further by digest
# (BASE=docker.io/library/node:24.22.3-bookworm-slim@sha256:...). Machines that reach no container
# registry pass a local stand-in with the same layout (scripts/image-base.sh).
# Build with `--format docker`: the OCI image format has no HEALTHCHECK.
ARG BASE=docker.io/library/node:24.22.3-bookworm-slim

# ---- build: production dependencies (better-sqlite3 compiles from source) and the compiled runtime
FROM ${BASE} AS build
ENV DEBIAN_FRONTEND=noninteractive
# Headers come with Node itself (/usr/local/include/node): node-gyp must not download them.
ENV npm_config_nodedir=/usr/local \
    npm_config_fund=false \
    npm_config_audit=false \
    npm_config_update_notifier=false
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends python3 make g++ >/dev/null \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# Manifests first: the dependency layer is rebuilt only when they change.
COPY package.json package-lock.json ./
COPY runtime/package.json runtime/
COPY packages/contract/package.json packages/contract/
# `npm install` at the locked versions rather than `npm ci`: npm 11 leaves other platforms' optional
# packages (rollup's) out of the lockfile, and `npm ci` then refuses it (see the Makefile).
# A network that intercepts TLS needs its CA: the build passes it as the secret npm-ca (never a layer).
RUN --mount=type=secret,id=npm-ca \
    if [ -s /run/secrets/npm-ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm-ca; fi \
 && npm install --omit=dev --workspace runtime --ignore-scripts --no-save \
 && npm rebuild better-sqlite3 \
 && node -e "new (require('better-sqlite3'))(':memory:').close()"
# better-sqlite3 needs only its compiled addon at run time: its sources and objects stay here.
RUN cd node_modules/better-sqlite3 \
 && mv build/Release/better_sqlite3.node /tmp/ \
 && rm -rf build deps src \
 && mkdir -p build/Release && mv /tmp/better_sqlite3.node build/Release/ \
 && node -e "new (require('better-sqlite3'))(':memory:').close()"
# esbuild, a dev dependency of the repository, at the version the lockfile pins: installed beside
# the tree and linked in for the compile only.
RUN --mount=type=secret,id=npm-ca \
    if [ -s /run/secrets/npm-ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm-ca; fi \
 && version=$(node -p "require('./package-lock.json').packages['node_modules/esbuild'].version") \
 && npm install --prefix /opt/esbuild --no-save --no-package-lock "esbuild@$version" \
 && ln -s /opt/esbuild/node_modules/esbuild node_modules/esbuild
COPY scripts/build.mjs scripts/
COPY runtime/ runtime/
COPY model/ model/
# The workspace package the runtime shares with the model (TypeScript sources, bundled by esbuild).
COPY packages/contract/ packages/contract/
# `make build`: the runtime compiled to runtime/dist/ (its npm dependencies bundled, native addons
# external), started by runtime/bin/runtime.js with plain node.
RUN node scripts/build.mjs runtime \
 && rm node_modules/esbuild \
 && node runtime/bin/runtime.js --help >/dev/null

# ---- runtime: Node, bubblewrap, the production node_modules and the compiled runtime
FROM ${BASE} AS runtime
ENV DEBIAN_FRONTEND=noninteractive
# bubblewrap: the MCP code tool runs untrusted code in its own user, mount, PID and network
# namespaces. tini as PID 1: a stop signal ends the runtime even before its own handlers exist
# (PID 1 ignores signals it has no handler for), and sandboxed children get reaped. Nothing else:
# no shell tools beyond the base, no compilers. python3: the interpreter run_code offers (with its
# standard library, which sandboxed programs expect); node is the image's own.
# Compose runs the services as the vault's owner, whose uid the image cannot know: a fresh named
# volume copies /data's mode, so any uid may create its files there (sticky, like /tmp).
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends bubblewrap tini python3 >/dev/null \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/*.deb /var/log/apt /var/log/dpkg.log \
 && groupadd --gid 10001 runtime \
 && useradd --uid 10001 --gid runtime --home-dir /data --no-create-home --shell /usr/sbin/nologin runtime \
 && mkdir -p /data /vault \
 && chmod 1777 /data \
 && chown runtime:runtime /vault
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules/ node_modules/
COPY --from=build /app/runtime/package.json runtime/
COPY --from=build /app/runtime/bin/ runtime/bin/
COPY --from=build /app/runtime/dist/ runtime/dist/
# The control panel `runtime web` serves: static files built on the host by `make build` (vite is a
# dev dependency, so it stays out of the image; scripts/image-build.sh builds them first).
COPY runtime/ui/dist/ runtime/ui/dist/
# The runtime's slice of the model at this revision; compose may mount a newer one over it.
COPY generated/runtime/runtime.json generated/runtime/runtime.json
ENV NODE_ENV=production \
    NODE_OPTIONS=--enable-source-maps \
    RUNTIME_CONFIG=/app/generated/runtime/runtime.json \
    DATA_DIR=/data \
    VAULT_DIR=/vault \
    HOME=/tmp \
    HEALTHCHECK_URL=http://127.0.0.1:8000/healthz
# Writes go to /data (volume), /vault (bind mount) and /tmp (tmpfs) only: the root can be read-only.
VOLUME ["/data"]
USER 10001:10001
# The web service's check (the compose file gives each service its own, with the same script);
# services without an HTTP health endpoint disable it in compose.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD node /app/runtime/bin/healthcheck.js "$HEALTHCHECK_URL" 5000
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/runtime/bin/runtime.js"]
CMD ["--help"]
# Last, so a new revision relabels the image without rebuilding a layer.
ARG BASE
ARG VERSION=0.0.0-dev
ARG REVISION=unknown
ARG SOURCE=
ARG CREATED=
LABEL org.opencontainers.image.title="platform-runtime" \
      org.opencontainers.image.description="The platform runtime: web chat, vault queue worker, MCP tool server, retrieval" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="${BASE}"
