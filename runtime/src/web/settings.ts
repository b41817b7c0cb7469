import { z } from 'zod';
import type { Env, RuntimeConfig } from '../config/index.js';
import { RuntimeError } from '../errors.js';

/*
 * The web service's own settings: what runtime.json does not hold. The Access audience (AUD) is
 * minted by Cloudflare when the Access application is created, so it arrives through the
 * environment (secrets/web.env) with the team domain, not through the model.
 * Defaults live here, once.
 */

export const AccessAuthSchema = z.strictObject({
  mode: z.literal('access'),
  /** `<team>.cloudflareaccess.com`: the JWT issuer is `https://<teamDomain>`. */
  teamDomain: z.string().regex(/^[a-z0-9.-]+(:\d+)?$/i, 'a host name such as myteam.cloudflareaccess.com'),
  /** The Access application's audience tag. */
  aud: z.string().min(1),
  /** Where the signing keys are; `https://<teamDomain>/cdn-cgi/access/certs` when absent. */
  jwksUrl: z.url({ protocol: /^https?$/ }).optional(),
  /** After a JWKS fetch, how long an unknown `kid` waits before it may trigger another. */
  jwksCooldownMs: z.number().int().min(0).default(30_000),
});

export const WebSettingsSchema = z.strictObject({
  host: z.string().default('0.0.0.0'),
  port: z.number().int().min(0).max(65535).default(8000),
  auth: z.discriminatedUnion('mode', [AccessAuthSchema, z.strictObject({ mode: z.literal('off') })]),
  /** SSE comment line interval; well under Cloudflare's 100 s idle cut. */
  heartbeatMs: z.number().int().positive().default(15_000),
  /** A generation nobody follows is stopped after this long. */
  unwatchedStopMs: z.number().int().positive().default(120_000),
  /** How long a finished generation's events stay replayable for a late re-attach. */
  retentionMs: z.number().int().positive().default(300_000),
  /** How often the health snapshot is refreshed in the background. */
  healthIntervalMs: z.number().int().positive().default(15_000),
  /** How long one dependency probe may take before it counts as down. */
  healthTimeoutMs: z.number().int().positive().default(3_000),
  /** Folder of the built UI (index.html and assets); no UI routes when absent. */
  uiDir: z.string().optional(),
  limits: z
    .strictObject({
      bodyBytes: z.number().int().positive().default(1_048_576),
      messageChars: z.number().int().positive().default(100_000),
      titleChars: z.number().int().positive().default(200),
      systemChars: z.number().int().positive().default(20_000),
      pageMax: z.number().int().positive().default(100),
      pageDefault: z.number().int().positive().default(50),
      searchChars: z.number().int().positive().default(200),
      /** Requests per minute per identity (token bucket, bursts up to this many). */
      ratePerMinute: z.number().int().positive().default(600),
      jobBytes: z.number().int().positive().default(262_144),
      /** Generations running at once, over every session. */
      maxGenerations: z.number().int().positive().default(500),
    })
    .prefault({}),
});

export type WebSettings = z.output<typeof WebSettingsSchema>;
export type WebSettingsInput = z.input<typeof WebSettingsSchema>;
export type AccessAuth = z.output<typeof AccessAuthSchema>;

export function parseWebSettings(input: WebSettingsInput): WebSettings {
  const r = WebSettingsSchema.safeParse(input);
  if (!r.success)
    throw new RuntimeError('CONFIG_INVALID', `web settings are invalid:\n${z.prettifyError(r.error)}`, {
      hint: 'see `runtime web --help` for the variables',
    });
  return r.data;
}

/**
 * Settings from the environment: WEB_HOST, WEB_PORT, WEB_AUTH (`access` or `off`),
 * CF_ACCESS_TEAM_DOMAIN, CF_ACCESS_AUD, CF_ACCESS_JWKS_URL, WEB_UI_DIR, WEB_HEARTBEAT_MS,
 * WEB_UNWATCHED_STOP_MS, WEB_RATE_PER_MINUTE. `authOff` is the `--no-auth` flag.
 */
export function webSettingsFromEnv(
  env: Env,
  config: Pick<RuntimeConfig, 'ports' | 'webAccess'> & { secrets?: Pick<RuntimeConfig['secrets'], 'accessAudience'> },
  opts: { authOff?: boolean; uiDir?: string } = {},
): WebSettings {
  const problems: string[] = [];
  const num = (name: string): number | undefined => {
    const v = env[name];
    if (v === undefined || v === '') return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) problems.push(`${name}: "${v}" is not a whole number`);
    return n;
  };
  const mode = opts.authOff ? 'off' : (env.WEB_AUTH ?? 'access');
  let auth: WebSettingsInput['auth'];
  if (mode === 'off') auth = { mode: 'off' };
  else if (mode === 'access') {
    // The model names the team domain and the secret the edge stack writes the audience tag to;
    // CF_ACCESS_TEAM_DOMAIN and CF_ACCESS_AUD override them (a local run against a test team).
    const teamDomain = env.CF_ACCESS_TEAM_DOMAIN || config.webAccess?.teamDomain;
    const aud = env.CF_ACCESS_AUD || config.secrets?.accessAudience;
    if (!teamDomain)
      problems.push(
        'no Access team domain: set cloudflare.access.teamDomain in platform.yaml (or CF_ACCESS_TEAM_DOMAIN, e.g. myteam.cloudflareaccess.com)',
      );
    if (!aud)
      problems.push(
        `no Access audience tag: ${config.webAccess ? `${config.webAccess.audienceSecret} is not set (the edge stack writes it to Infisical)` : 'name audienceSecret on the web hostname in platform.yaml'} (or set CF_ACCESS_AUD)`,
      );
    auth = {
      mode: 'access',
      teamDomain: teamDomain ?? '',
      aud: aud ?? '',
      ...(env.CF_ACCESS_JWKS_URL ? { jwksUrl: env.CF_ACCESS_JWKS_URL } : {}),
    };
  } else {
    problems.push(`WEB_AUTH: "${mode}" is not one of access, off`);
    auth = { mode: 'off' };
  }
  const input: WebSettingsInput = {
    host: env.WEB_HOST || '0.0.0.0',
    port: num('WEB_PORT') ?? config.ports.web,
    auth,
    ...(num('WEB_HEARTBEAT_MS') !== undefined ? { heartbeatMs: num('WEB_HEARTBEAT_MS') } : {}),
    ...(num('WEB_UNWATCHED_STOP_MS') !== undefined ? { unwatchedStopMs: num('WEB_UNWATCHED_STOP_MS') } : {}),
    ...(num('WEB_RATE_PER_MINUTE') ? { limits: { ratePerMinute: num('WEB_RATE_PER_MINUTE') } } : {}),
    ...((env.WEB_UI_DIR ?? opts.uiDir) ? { uiDir: env.WEB_UI_DIR ?? opts.uiDir } : {}),
  };
  if (problems.length) {
    throw new RuntimeError('CONFIG_INVALID', `web settings are invalid:\n${problems.map((p) => `  - ${p}`).join('\n')}`, {
      hint: 'set the Access variables, or run locally with `runtime web --no-auth` (WEB_AUTH=off)',
    });
  }
  return parseWebSettings(input);
}
