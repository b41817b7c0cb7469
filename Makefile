# The platform's entry points. `make render` and `make test` work from a fresh clone.
SHELL := /bin/bash
.DEFAULT_GOAL := render
export npm_config_nodedir := /usr
TSX := node_modules/.bin/tsx

.PHONY: install tools render check test lint typecheck bench

# Node dependencies at the locked versions, reinstalled when the manifests change. `npm install`
# rather than `npm ci`: npm 11 leaves other platforms' optional packages (rollup's) out of the
# lockfile and `npm ci` then refuses it; `install` honours the lock all the same.
node_modules/.install-stamp: package.json package-lock.json runtime/package.json packages/contract/package.json
	npm install --no-fund --no-audit
	@touch $@

install: node_modules/.install-stamp

# System tools the tests drive for real (Debian packages, Go-built checkers).
tools:
	@bash scripts/install-tools.sh

render: install
	@$(TSX) render/cli.ts

check: install
	@$(TSX) render/cli.ts --check

typecheck: install
	node_modules/.bin/tsc --noEmit -p tsconfig.json

lint: install
	node_modules/.bin/eslint .

test: install tools
	@$(TSX) render/cli.ts --check
	node_modules/.bin/tsc --noEmit -p tsconfig.json
	node_modules/.bin/eslint .
	node_modules/.bin/vitest run

bench: install
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
