#!/usr/bin/env node
// `runtime web|worker|mcp|rag|index`: runs the compiled CLI (dist/, from `make build`) with plain node.
import { existsSync } from 'node:fs';
import { enableCompileCache } from 'node:module';

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write(
    `runtime: ${cli.pathname} is missing: the runtime is not built; run \`make build\` in the repository (it compiles runtime/src to runtime/dist)\n`,
  );
  process.exit(1);
}
// V8 code cache for every module this process loads (ours and node_modules), kept in
// NODE_COMPILE_CACHE or the temp dir: later starts skip parsing and compiling them again.
enableCompileCache();
// Stack traces name the TypeScript sources (dist/ carries source maps).
process.setSourceMapsEnabled(true);
const { main } = await import(cli.href);
const code = await main(process.argv.slice(2), process.env);
// Exit explicitly: services have shut down by now, and stray handles must not keep the process.
process.exit(code);
