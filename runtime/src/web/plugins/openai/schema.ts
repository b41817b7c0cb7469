import { z } from 'zod';
import type { ChatMessage, ToolChoice, ToolSpec } from '../../../providers/types.js';
import { invalidParam } from './errors.js';

/*
 * The request bodies of /v1/chat/completions and /v1/embeddings, as OpenAI documents them, with
 * bounds. Fields the platform cannot honour (images, n > 1, logprobs, json_schema) are refused
 * with a 400 naming them rather than silently dropped; fields that only tune a provider's
 * behaviour and have no counterpart here (user, seed, penalties, parallel_tool_calls) are
 * accepted and ignored, since every client sends some of them.
 */

export const MAX_MESSAGES = 2_000;
export const MAX_TOOLS = 128;
export const MAX_EMBED_INPUTS = 2_048;

const TextPart = z.object({ type: z.literal('text'), text: z.string() });
const AnyPart = z.looseObject({ type: z.string() });
const Content = z.union([z.string(), z.array(AnyPart).max(1_000)]);

const ToolCallIn = z.object({
  id: z.string().min(1).max(200),
  type: z.literal('function').default('function'),
  function: z.object({ name: z.string().min(1).max(200), arguments: z.string().max(1_000_000) }),
});

const Message = z.discriminatedUnion('role', [
  z.object({ role: z.literal('system'), content: Content, name: z.string().optional() }),
  z.object({ role: z.literal('developer'), content: Content, name: z.string().optional() }),
  z.object({ role: z.literal('user'), content: Content, name: z.string().optional() }),
  z.object({
    role: z.literal('assistant'),
    content: Content.nullable().optional(),
    name: z.string().optional(),
    tool_calls: z.array(ToolCallIn).max(MAX_TOOLS).optional(),
    refusal: z.string().nullable().optional(),
  }),
  z.object({ role: z.literal('tool'), content: Content, tool_call_id: z.string().min(1).max(200) }),
]);

const FunctionName = z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, _ or -');

const Tool = z.object({
  type: z.literal('function'),
  function: z.object({
    name: FunctionName,
    description: z.string().max(10_000).optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
    strict: z.boolean().nullable().optional(),
  }),
});

const ToolChoiceIn = z.union([
  z.enum(['none', 'auto', 'required']),
  z.object({ type: z.literal('function'), function: z.object({ name: FunctionName }) }),
]);

export const ChatCompletionBody = z.looseObject({
  model: z.string().min(1).max(200),
  messages: z.array(Message).min(1).max(MAX_MESSAGES),
  stream: z.boolean().nullable().optional(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).nullable().optional(),
  max_tokens: z.number().int().min(1).max(1_000_000).nullable().optional(),
  max_completion_tokens: z.number().int().min(1).max(1_000_000).nullable().optional(),
  temperature: z.number().min(0).max(2).nullable().optional(),
  top_p: z.number().min(0).max(1).nullable().optional(),
  stop: z
    .union([z.string().min(1), z.array(z.string().min(1)).max(4)])
    .nullable()
    .optional(),
  n: z.number().int().nullable().optional(),
  tools: z.array(Tool).max(MAX_TOOLS).optional(),
  tool_choice: ToolChoiceIn.optional(),
  response_format: z
    .object({ type: z.enum(['text', 'json_object', 'json_schema']) })
    .loose()
    .optional(),
  logprobs: z.boolean().nullable().optional(),
});
export type ChatCompletionBody = z.output<typeof ChatCompletionBody>;

export const EmbeddingsBody = z.looseObject({
  model: z.string().min(1).max(200),
  input: z.union([z.string(), z.array(z.string()).min(1).max(MAX_EMBED_INPUTS), z.array(z.number()), z.array(z.array(z.number()))]),
  encoding_format: z.enum(['float', 'base64']).optional(),
  dimensions: z.number().int().min(1).optional(),
  user: z.string().optional(),
});
export type EmbeddingsBody = z.output<typeof EmbeddingsBody>;

/** zod's result as a 400 naming the first bad field, `messages[1].role` style. */
export function parseOpenAi<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw invalidParam('body', 'the request body must be a JSON object', 'send Content-Type: application/json with an object body');
  }
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const param = issue.path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('');
  let message = issue.message;
  if (issue.code === 'invalid_union' && issue.path.at(-1) === 'role')
    message = 'role must be one of system, developer, user, assistant, tool';
  if (issue.code === 'invalid_union' && /messages\[\d+\]$/.test(param))
    message = 'role must be one of system, developer, user, assistant, tool';
  throw invalidParam(param || 'body', `${param || 'body'}: ${message}`, 'fix the field named and send again');
}

function text(content: z.output<typeof Content> | null | undefined, where: string): string {
  if (content === null || content === undefined) return '';
  if (typeof content === 'string') return content;
  return content
    .map((p, i) => {
      const t = TextPart.safeParse(p);
      if (!t.success)
        throw invalidParam(`${where}[${i}].type`, `${where}[${i}]: content parts of type "${p.type}" are not supported`, 'send text only');
      return t.data.text;
    })
    .join('');
}

/** OpenAI messages -> the platform's, with system/developer text pulled into `system`. */
export function toChatMessages(body: ChatCompletionBody): { system?: string; messages: ChatMessage[] } {
  const system: string[] = [];
  const messages: ChatMessage[] = [];
  const callNames = new Map<string, string>();
  body.messages.forEach((m, i) => {
    const where = `messages[${i}].content`;
    switch (m.role) {
      case 'system':
      case 'developer':
        system.push(text(m.content, where));
        break;
      case 'user':
        messages.push({ role: 'user', content: text(m.content, where) });
        break;
      case 'assistant': {
        const msg: ChatMessage = { role: 'assistant', content: text(m.content, where) };
        if (m.tool_calls?.length) {
          msg.toolCalls = m.tool_calls.map((c, j) => {
            callNames.set(c.id, c.function.name);
            return {
              id: c.id,
              name: c.function.name,
              arguments: toolArguments(c.function.arguments, `messages[${i}].tool_calls[${j}].function.arguments`),
            };
          });
        }
        messages.push(msg);
        break;
      }
      case 'tool': {
        const name = callNames.get(m.tool_call_id);
        if (!name)
          throw invalidParam(
            `messages[${i}].tool_call_id`,
            `messages[${i}].tool_call_id: "${m.tool_call_id}" answers no tool call of an earlier assistant message`,
          );
        messages.push({ role: 'tool', content: text(m.content, where), toolCallId: m.tool_call_id, toolName: name });
        break;
      }
    }
  });
  if (messages.length === 0) throw invalidParam('messages', 'messages: at least one user, assistant or tool message is needed');
  return { ...(system.length ? { system: system.join('\n\n') } : {}), messages };
}

function toolArguments(json: string, where: string): Record<string, unknown> {
  if (json.trim() === '') return {};
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    throw invalidParam(where, `${where}: not valid JSON`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw invalidParam(where, `${where}: must be a JSON object`);
  return v as Record<string, unknown>;
}

export function toTools(body: ChatCompletionBody): ToolSpec[] | undefined {
  if (!body.tools?.length) return undefined;
  return body.tools.map((t) => ({
    name: t.function.name,
    description: t.function.description ?? '',
    parameters: t.function.parameters ?? { type: 'object', properties: {} },
  }));
}

export function toToolChoice(body: ChatCompletionBody): ToolChoice | undefined {
  const c = body.tool_choice;
  if (c === undefined) return undefined;
  if (typeof c === 'string') return c;
  if (!body.tools?.some((t) => t.function.name === c.function.name)) {
    throw invalidParam('tool_choice', `tool_choice names "${c.function.name}", which is not in tools`);
  }
  return { name: c.function.name };
}
