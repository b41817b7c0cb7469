# The platform's entry points. `make render` and `make test` work from a fresh clone.
SHELL := /bin/bash
.DEFAULT_GOAL := render

# Node 24 for everything below: the system Node when it is 24, else the official build that
# scripts/install-node.sh unpacks once into ~/.cache/llm-platform/node-v24.22.3/ (npm, node-gyp
# and every `node` a recipe or test spawns resolve through this PATH).
NODE_HOME := $(shell bash scripts/install-node.sh)
ifeq ($(NODE_HOME),)
$(error no Node 24: scripts/install-node.sh failed (its message is above))
endif
export PATH := $(NODE_HOME)/bin:$(PATH)
# node-gyp builds native modules (better-sqlite3) against this Node's headers.
export npm_config_nodedir := $(NODE_HOME)
NODE_VERSION := $(shell $(NODE_HOME)/bin/node -p process.version)
# Rewritten only when the Node version changes, so that a switch reinstalls node_modules.
$(shell mkdir -p .build && [ "$$(cat .build/node-version 2>/dev/null)" = "$(NODE_VERSION)" ] || echo "$(NODE_VERSION)" > .build/node-version)
# onnxruntime-node's install script fetches from a host no build here reaches; its npm package
# already carries the linux-x64 binaries the in-process embedder uses.
export ONNXRUNTIME_NODE_INSTALL := skip
TSX := node_modules/.bin/tsx
# The compiled render CLI; V8's code cache for its 2 MB bundle saves about 0.1 s per run.
RENDER := NODE_COMPILE_CACHE=.build/compile-cache node .build/render.mjs

.PHONY: install tools build render check test lint typecheck format format-check bench FORCE

# Node dependencies at the locked versions, reinstalled when the manifests or the Node version
# change. `npm install` rather than `npm ci`: npm 11 leaves other platforms' optional packages
# (rollup's) out of the lockfile and `npm ci` then refuses it; `install` honours the lock all the
# same. The stamp holds the Node version the native modules were built for: `npm install` does not
# rebuild them when only Node changed, so a stamp from another version triggers `npm rebuild`.
node_modules/.install-stamp: package.json package-lock.json runtime/package.json $(wildcard packages/*/package.json) .build/node-version
	npm install --no-fund --no-audit
	@if [ -f $@ ] && [ "$$(cat $@)" != "$(NODE_VERSION)" ]; then echo "rebuilding native modules for node $(NODE_VERSION)"; npm rebuild --no-fund --no-audit; fi
	@echo "$(NODE_VERSION)" > $@

install: node_modules/.install-stamp

# The runtime compiled to runtime/dist/ (started by runtime/bin/runtime.js with plain node) and the
# render CLI to .build/render.mjs; each rebuilt only when a file it was built from changed.
build: install runtime/ui/dist/index.html
	@node scripts/build.mjs --if-stale

# The control panel's static assets (React + Vite), served by `runtime web`.
UI_SOURCES := $(shell find runtime/ui -path runtime/ui/dist -prune -o -type f -print)
runtime/ui/dist/index.html: $(UI_SOURCES) node_modules/.install-stamp
	@npm run -s build:ui -w runtime >/dev/null && echo "build: ui: runtime/ui/dist"

.build/render.mjs: FORCE install
	@node scripts/build.mjs --if-stale render
FORCE:

# System tools the tests drive for real (Debian packages, Go-built checkers).
tools:
	@bash scripts/install-tools.sh

render: .build/render.mjs
	@$(RENDER)

check: .build/render.mjs
	@$(RENDER) --check

typecheck: install
	node_modules/.bin/tsc --noEmit -p tsconfig.json
	node_modules/.bin/tsc --noEmit -p runtime/ui/tsconfig.json

lint: install
	node_modules/.bin/eslint .

# One layout for every source file (Prettier, .prettierrc.json); generated files keep their generators' format.
PRETTIER_FILES := "**/*.{ts,tsx,js,mjs,cjs,css}"
format: install
	@node_modules/.bin/prettier --log-level warn --write $(PRETTIER_FILES)

format-check: install
	@node_modules/.bin/prettier --check --log-level warn $(PRETTIER_FILES) || { echo "format-check: run \`make format\`" >&2; exit 1; }

test: install tools build
	@$(RENDER) --check
	@$(MAKE) -s format-check
	node_modules/.bin/tsc --noEmit -p tsconfig.json
	node_modules/.bin/tsc --noEmit -p runtime/ui/tsconfig.json
	node_modules/.bin/eslint .
	node_modules/.bin/vitest run

bench: install build
	@for b in bench/*.ts; do echo "== $$b"; $(TSX) $$b || exit 1; done

# observability
.PHONY: obs-check obs-test alloy-check
ALERTS := generated/alerts

# Alert rules and routing through the real tools; Alloy configs through Alloy's own parser.
obs-check: install tools
	promtool check rules $(ALERTS)/rules.yml
	promtool test rules $(ALERTS)/tests/*.yml
	.tools/amtool check-config $(ALERTS)/alertmanager.yml
	.tools/alloy-check generated/hosts/*/config.alloy

alloy-check: tools
	.tools/alloy-check generated/hosts/*/config.alloy

obs-test: install tools
	node_modules/.bin/vitest run tests/observability

# stacks
# CDKTF: `make synth` writes cdktf.out/ for every stack (no credentials needed). Deploying reads
# credentials from the environment; see docs/deploy-cloud.md for the first-time bootstrap.
.PHONY: synth bootstrap bootstrap-migrate deploy deploy-plan

synth: install
	@node --max-semi-space-size=2 --import tsx stacks/main.ts && echo "synthesized bootstrap storage identities edge hosts observability into cdktf.out/"

# First time only: the state bucket, with the bootstrap stack's own state in a local file.
bootstrap: install
	@node --import tsx stacks/deploy.ts --bootstrap -- $(DEPLOY_ARGS)

# Second step: move that local state into the bucket it created (cdktf deploy --migrate-state).
bootstrap-migrate: install
	@node --import tsx stacks/deploy.ts --migrate -- $(DEPLOY_ARGS)

# Every stack in order (bootstrap, storage, identities, edge, hosts, observability), or
# `make deploy STACKS="edge hosts"`. Extra cdktf flags: DEPLOY_ARGS=--auto-approve
deploy: install
	@node --import tsx stacks/deploy.ts $(STACKS) -- $(DEPLOY_ARGS)

# What deploy would do and which credentials are missing; runs nothing.
deploy-plan: install
	@node --import tsx stacks/deploy.ts --dry-run $(STACKS)

# ansible
# The generated inventory and playbooks through Ansible's own checks; roles come from ansible/roles.
.PHONY: ansible-check ansible-test
ANSIBLE_ENV := ANSIBLE_CONFIG=ansible/ansible.cfg
ANSIBLE_DIR := generated/ansible

ansible-check: tools
	$(ANSIBLE_ENV) ansible-inventory -i $(ANSIBLE_DIR)/inventory.yml --list >/dev/null
	$(ANSIBLE_ENV) ansible-playbook -i $(ANSIBLE_DIR)/inventory.yml --syntax-check $(ANSIBLE_DIR)/site.yml $(ANSIBLE_DIR)/restore.yml
	$(ANSIBLE_ENV) ansible-lint $(ANSIBLE_DIR)/site.yml $(ANSIBLE_DIR)/restore.yml ansible/roles tests/ansible/fixtures/*.yml

ansible-test: install tools
	node_modules/.bin/vitest run tests/ansible

# image
# The runtime image, built with podman and tagged as platform.yaml's runtimeImage says. The base is
# a local stand-in for node:24-bookworm-slim (scripts/image-base.sh) unless IMAGE_BASE=official or
# IMAGE_BASE=<image>. See README, "Deploy", for how CI publishes it and the hosts pull it.
.PHONY: image
image: install
	@bash scripts/image-build.sh
