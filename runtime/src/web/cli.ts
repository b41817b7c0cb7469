import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Env } from '../config/index.js';
import type { Logger } from '../log.js';
import type { TokenScope } from './token-store.js';

/*
 * `runtime web [--no-auth]` and `runtime token create|revoke|list`. Kept apart from cli.ts so
 * the service's imports load only when it starts.
 */

export interface WebCliIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

export const WEB_USAGE = `usage: runtime web [--no-auth]
       runtime token create <name> [--scope read|write]
       runtime token revoke <id>
       runtime token list

web environment (besides the runtime's):
  WEB_HOST, WEB_PORT        listen address (default 0.0.0.0 and ports.web from runtime.json)
  WEB_AUTH                  access (default) | off (the same as --no-auth: local development only)
  CF_ACCESS_TEAM_DOMAIN     Cloudflare Access team domain, e.g. myteam.cloudflareaccess.com
  CF_ACCESS_AUD             the Access application's audience tag
  CF_ACCESS_JWKS_URL        signing keys (default https://<team domain>/cdn-cgi/access/certs)
  WEB_UI_DIR                the built control panel (default runtime/ui/dist when it exists)
  WEB_HEARTBEAT_MS, WEB_UNWATCHED_STOP_MS, WEB_RATE_PER_MINUTE (per identity)
`;

/** The built UI next to this package, if it has been built. */
export function defaultUiDir(): string | undefined {
  for (const c of [resolve(import.meta.dirname, '../../ui/dist'), resolve(import.meta.dirname, '../ui/dist')])
    if (existsSync(join(c, 'index.html'))) return c;
  return undefined;
}

/** Runs the web service until SIGINT/SIGTERM; resolves with the exit code. */
export async function runWebService(argv: readonly string[], env: Env, log: Logger, io: WebCliIo): Promise<number> {
  const flags = argv.slice(1);
  const unknown = flags.filter((f) => f !== '--no-auth');
  if (unknown.length) {
    io.stderr(`runtime web: unknown option ${unknown.join(' ')}\n\n${WEB_USAGE}`);
    return 2;
  }
  const [{ loadConfig }, { webSettingsFromEnv }, { startTelemetry }, { UsageStore }, { Router }, { createWebServer }, { SkillRegistry }] =
    await Promise.all([
      import('../config/index.js'),
      import('./settings.js'),
      import('../telemetry/index.js'),
      import('../store/usage.js'),
      import('../router/index.js'),
      import('./server.js'),
      import('../skills/registry.js'),
    ]);
  const config = loadConfig(env);
  for (const w of config.warnings) log.warn(w);
  const uiDir = defaultUiDir();
  const settings = webSettingsFromEnv(env, config, { authOff: flags.includes('--no-auth'), ...(uiDir ? { uiDir } : {}) });
  if (!settings.uiDir)
    log.warn('the control panel is not built: only the API is served', { hint: 'run `make build` (it builds runtime/ui/dist)' });
  const telemetry = startTelemetry(config, 'web', log);
  const usage = new UsageStore(config.dataDir);
  const router = new Router({ config, log, metrics: telemetry.metrics, usage });
  const skills = new SkillRegistry({ dir: join(config.vault.path, config.vault.folders.skills), log });
  await router.start();
  await skills
    .start()
    .catch((e: unknown) =>
      log.warn('skills could not be loaded; sessions run without them', { error: e instanceof Error ? e : String(e) }),
    );
  const server = await createWebServer({ config, settings, log, router, usage, skills });
  await server.listen();
  await new Promise<void>((done) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      done();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  log.info('web stopping');
  await server.close();
  await skills.stop();
  await router.stop();
  usage.close();
  await telemetry.shutdown();
  return 0;
}

/** `runtime token ...` against DATA_DIR/chat.db. */
export async function runTokenCommand(argv: readonly string[], env: Env, io: WebCliIo): Promise<number> {
  const [, sub, ...rest] = argv;
  const { ChatStore } = await import('./chat-store.js');
  const { TokenStore } = await import('./token-store.js');
  const { resolve: res } = await import('node:path');
  const chats = new ChatStore(res(env.DATA_DIR || './.data'));
  try {
    const tokens = new TokenStore(chats.db);
    if (sub === 'create') {
      const name = rest.find((a) => !a.startsWith('--'));
      const si = rest.indexOf('--scope');
      const scope = (si >= 0 ? rest[si + 1] : 'read') as TokenScope;
      if (!name || (scope !== 'read' && scope !== 'write')) {
        io.stderr(`runtime token create: a name is needed and --scope is read or write\n\n${WEB_USAGE}`);
        return 2;
      }
      const { token, info } = tokens.create(name, scope);
      io.stdout(`${token}\n`);
      io.stderr(`created token ${info.id} "${info.name}" (${info.scope}); it is shown only now, keep it in a secret store\n`);
      return 0;
    }
    if (sub === 'revoke') {
      const id = rest[0];
      if (!id) {
        io.stderr(`runtime token revoke: which token id?\n\n${WEB_USAGE}`);
        return 2;
      }
      const t = tokens.get(id);
      if (!t) {
        io.stderr(`runtime token revoke: no token ${id} (runtime token list shows them)\n`);
        return 1;
      }
      tokens.revoke(id);
      io.stdout(`revoked ${id} "${t.name}"\n`);
      return 0;
    }
    if (sub === 'list') {
      const list = tokens.list();
      io.stdout(
        list.length
          ? `${list.map((t) => [t.id, t.scope, t.revokedAt ? 'revoked' : 'active', t.lastUsedAt ?? 'never used', t.name].join('\t')).join('\n')}\n`
          : 'no tokens\n',
      );
      return 0;
    }
    io.stderr(`runtime token: ${sub ? `unknown command "${sub}"` : 'which command?'}\n\n${WEB_USAGE}`);
    return 2;
  } finally {
    chats.close();
  }
}
