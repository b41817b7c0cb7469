import type { RuntimeConfig } from '../config/index.js';

/** What the MCP server needs from the runtime config: its slice plus the vault layout. */
export type McpSettings = RuntimeConfig['mcp'];
