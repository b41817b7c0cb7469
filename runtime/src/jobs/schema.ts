import { z } from 'zod';

/*
 * A job file's frontmatter. Keys not listed here (title, tags, anything Obsidian adds) are kept
 * and ignored. Defaults live here, once.
 */

export const JOB_TYPES = ['text', 'chain', 'research'] as const;
export type JobType = (typeof JOB_TYPES)[number];

export const ChainStepSchema = z.strictObject({
  prompt: z.string().trim().min(1, 'a chain step needs a non-empty prompt'),
  /** This step's model; the job's model when absent. */
  model: z.string().min(1).optional(),
});

export const JobFrontmatterSchema = z
  .looseObject({
    /** Stable identity across restarts and Syncthing copies; the worker writes one in when absent. */
    id: z
      .union([z.string().trim().min(1), z.number()])
      .transform(String)
      .optional(),
    /** text: one call, the body is the prompt. chain: ordered steps. research: needs the MCP server. */
    type: z.enum(JOB_TYPES).default('text'),
    /** A routing model id; the routing default when absent. */
    model: z.string().min(1).optional(),
    /** Skill names from the vault's skills folder; their instructions join the system prompt. */
    skills: z.array(z.string().min(1)).default([]),
    system: z.string().optional(),
    steps: z.array(ChainStepSchema).optional(),
    /** Send a Discord notice when the job completes or fails. */
    notify: z.boolean().default(true),
    title: z.string().optional(),
  })
  .superRefine((v, ctx) => {
    if (v.type === 'chain' && (!v.steps || v.steps.length === 0)) {
      ctx.addIssue({ code: 'custom', path: ['steps'], message: 'a chain job needs `steps`: a list of {prompt, model?}' });
    }
    if (v.type !== 'chain' && v.steps !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['steps'], message: `\`steps\` only applies to type chain, this job is type ${v.type}` });
    }
  });

export type JobFrontmatter = z.output<typeof JobFrontmatterSchema>;
export type ChainStep = z.output<typeof ChainStepSchema>;
