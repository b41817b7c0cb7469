/*
 * What the model and the runtime share: the runtime's slice of the model, the metric catalog, the
 * provider kinds, the secret-name rule and the error-catalogue helper. Depends on zod only.
 */
export * from './errors.js';
export * from './metrics.js';
export * from './providers.js';
export * from './queue.js';
export * from './runtime-config.js';
export * from './secrets.js';
