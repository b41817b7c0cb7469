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

# ---- build: the compiled runtime, and the few npm packages it loads at run time
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
# Manifests first: the dependency layers are rebuilt only when they change.
COPY package.json package-lock.json ./
COPY runtime/package.json runtime/
COPY packages/contract/package.json packages/contract/
# The runtime's production tree, at the locked versions, for esbuild to bundle from (no install
# scripts: nothing here runs, so no addon needs building). `npm install` rather than `npm ci`: npm
# 11 leaves other platforms' optional packages (rollup's) out of the lockfile, and `npm ci` then
# refuses it (see the Makefile).
# A network that intercepts TLS needs its CA: the build passes it as the secret npm-ca (never a layer).
RUN --mount=type=secret,id=npm-ca \
    if [ -s /run/secrets/npm-ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm-ca; fi \
 && npm install --omit=dev --workspace runtime --ignore-scripts --no-save
# What the image ships instead: only the packages the bundle leaves external (native addons and
# prebuilt binaries), with their own dependencies, at the lockfile's versions and hashes
# (scripts/runtime-deps.mjs writes the manifest and the lock; `npm ci` installs exactly that).
COPY scripts/runtime-deps.mjs scripts/
RUN --mount=type=secret,id=npm-ca \
    if [ -s /run/secrets/npm-ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm-ca; fi \
 && node scripts/runtime-deps.mjs /deploy \
 && cd /deploy \
 && npm ci --omit=dev --ignore-scripts \
 && npm rebuild better-sqlite3 \
 && node -e "new (require('better-sqlite3'))(':memory:').close()"
# Left out of what ships, each unused at run time:
# - better-sqlite3's sources and build objects: only its compiled addon is loaded;
# - onnxruntime-node's binaries for other systems: it loads bin/napi-v6/<platform>/<arch> only;
# - onnxruntime-web: @huggingface/transformers carries its own copy inside its Node build, and on
#   Node it runs onnxruntime-node (the package is a dependency for browsers).
# Then every external loads: the ONNX runtime's addon and sharp (both loaded by transformers on
# import), SQLite with the sqlite-vec extension.
RUN cd /deploy/node_modules \
 && mv better-sqlite3/build/Release/better_sqlite3.node /tmp/ \
 && rm -rf better-sqlite3/build better-sqlite3/deps better-sqlite3/src \
 && mkdir -p better-sqlite3/build/Release && mv /tmp/better_sqlite3.node better-sqlite3/build/Release/ \
 && keep="linux/$(node -p process.arch)" \
 && test -d "onnxruntime-node/bin/napi-v6/$keep" \
 && for d in onnxruntime-node/bin/napi-v6/*/*; do [ "${d#onnxruntime-node/bin/napi-v6/}" = "$keep" ] || rm -rf "$d"; done \
 && rm -rf onnxruntime-web \
 && cd /deploy \
 && node --input-type=module -e " \
      const { default: Database } = await import('better-sqlite3'); \
      const db = new Database(':memory:'); (await import('sqlite-vec')).load(db); \
      db.prepare('select vec_version()').pluck().get(); db.close(); \
      await import('onnxruntime-node'); await import('@huggingface/transformers');"
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
# `make build`: the runtime compiled to runtime/dist/ (its npm dependencies bundled, the externals
# left as imports), started by runtime/bin/runtime.js with plain node; checked against the
# node_modules the image ships, not the tree it was bundled from.
RUN node scripts/build.mjs runtime \
 && rm node_modules/esbuild \
 && mv node_modules /tmp/bundled-from \
 && ln -s /deploy/node_modules node_modules \
 && node runtime/bin/runtime.js --help >/dev/null \
 && rm node_modules && mv /tmp/bundled-from node_modules

# ---- runtime: Node, bubblewrap, the runtime's external packages and the compiled runtime
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
# The manifest and lock of exactly what node_modules holds (scripts/runtime-deps.mjs).
COPY --from=build /deploy/package.json /deploy/package-lock.json ./
COPY --from=build /deploy/node_modules/ node_modules/
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
# The web service's check (the compose file gives each service its own, with the same script: the
# worker's is its status port, ports.metrics).
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
