/*
 * The runtime's public surface: what services and tests import.
 */
export * from './errors.js';
export * from './log.js';
export * from './config/index.js';
export * from './providers/index.js';
export * from './router/index.js';
export * from './notify/index.js';
export * from './store/index.js';
export * from './telemetry/index.js';
export * from './vault/index.js';
