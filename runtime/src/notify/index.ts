export * from './discord.js';
