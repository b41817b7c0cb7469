export * from './discord.js';
export type * from './notices.js';
