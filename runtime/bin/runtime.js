#!/usr/bin/env node
// Runs the TypeScript CLI through tsx (no build step): `runtime web|worker|mcp|rag|index`.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli.ts');
const code = await main(process.argv.slice(2), process.env);
// Exit explicitly: services have shut down by now, and stray handles must not keep the process.
process.exit(code);
