export { SkillRegistry, SkillFrontmatterSchema, type Skill, type SkillResolver, type SkillRegistryProps } from './registry.js';
