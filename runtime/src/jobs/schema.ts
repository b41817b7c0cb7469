import { z } from 'zod';

/*
 * A job file's frontmatter. Keys not listed here (title, tags, anything Obsidian adds) are kept
 * and ignored. Defaults live here, once.
 */

export const JOB_TYPES = ['text', 'chain', 'research', 'memory', 'reindex'] as const;
export type JobType = (typeof JOB_TYPES)[number];

/** A vault-relative folder: no leading "/", no "." or ".." segment, no dot-folder, no backslash. */
export const VaultFolderSchema = z
  .string()
  .trim()
  .min(1)
  .max(200)
  .regex(
    /^(?!\/)(?!.*(^|\/)\.)(?!.*\/$)(?!.*\/\/)[^\0\\:*?"<>|]+$/,
    'a vault-relative folder such as "briefings" (no leading "/", no "..")',
  );

const Instant = z.union([z.iso.datetime({ offset: true }), z.date().transform((d) => d.toISOString())]);

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
    /**
     * text: one call, the body is the prompt. chain: ordered steps. research: needs the MCP server.
     * memory: consolidates recent chats and job outputs into notes (in `output`) and graph facts.
     * reindex: the incremental retrieval index; no model call.
     */
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
    /**
     * Vault folder the answer is written to instead of the outputs folder; for memory, the folder
     * of its notes (required).
     */
    output: VaultFolderSchema.optional(),
    /** memory: consolidate what changed after this instant (default: the last day). */
    since: Instant.optional(),
    /** A previous answer (vault-relative markdown path): the output gains a line diff against it. */
    previous_output: z
      .string()
      .trim()
      .min(1)
      .max(400)
      .regex(/^(?!\/)(?!.*(^|\/)\.\.?(\/|$))[^\0\\]+\.md$/, 'a vault-relative markdown path')
      .optional(),
    /** Notices for this job wait until this instant (a schedule's quiet hours). */
    notify_after: Instant.optional(),
  })
  .superRefine((v, ctx) => {
    if (v.type === 'chain' && (!v.steps || v.steps.length === 0)) {
      ctx.addIssue({ code: 'custom', path: ['steps'], message: 'a chain job needs `steps`: a list of {prompt, model?}' });
    }
    if (v.type === 'memory' && v.output === undefined) {
      ctx.addIssue({ code: 'custom', path: ['output'], message: 'a memory job needs `output`: the vault folder its notes go to' });
    }
    if (v.type !== 'chain' && v.steps !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['steps'], message: `\`steps\` only applies to type chain, this job is type ${v.type}` });
    }
  });

export type JobFrontmatter = z.output<typeof JobFrontmatterSchema>;
export type ChainStep = z.output<typeof ChainStepSchema>;
