# The platform's entry points. `make render` and `make test` work from a fresh clone.
SHELL := /bin/bash
.DEFAULT_GOAL := render
export npm_config_nodedir := /usr
TSX := node_modules/.bin/tsx

.PHONY: install tools render check test lint typecheck bench

# Node dependencies, reinstalled when the lockfile changes.
node_modules/.install-stamp: package.json package-lock.json runtime/package.json
	npm ci --no-fund --no-audit
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
