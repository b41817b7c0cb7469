import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../runtime/src/config/index.js';
import { isRuntimeError } from '../../runtime/src/errors.js';
import {
  JobMessageSchema,
  ResultMessageSchema,
  decode,
  encode,
  jobKey,
  msgId,
  resultError,
  resultSubject,
} from '../../runtime/src/jetstream/messages.js';
import { freePort, ROOT, tempDir } from '../helpers.js';
import { testJetStream, writeJetStreamConfig } from './helpers/jetstream.js';

/* The JetStream queue's config, CLI entry and message rules, without a server. */

const BIN = resolve(ROOT, 'runtime/bin/runtime.js');

function run(args: string[], env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((r) => child.on('close', (code) => r({ code, stderr })));
}

describe('JetStream queue: config and CLI', () => {
  it('reads the NATS passwords by the secret names queue.jetstream gives', () => {
    const root = tempDir('js-config-');
    const { env } = writeJetStreamConfig({
      root,
      vault: root,
      dataDir: root,
      ollamaUrl: 'http://127.0.0.1:1',
      servers: ['nats://127.0.0.1:4222'],
    });
    const c = loadConfig({ ...env, NATS_GATEWAY_PASSWORD: 'g-secret', NATS_WORKER_PASSWORD: 'w-secret' });
    expect(c.queue.backend).toBe('jetstream');
    expect(c.secrets.nats).toEqual({ gatewayPassword: 'g-secret', workerPassword: 'w-secret' });
    expect(loadConfig(env).secrets.nats).toEqual({ gatewayPassword: undefined, workerPassword: undefined });
  });

  it('`runtime gateway` with the folder queue exits 1 saying what to set', async () => {
    const r = await run(['gateway'], { RUNTIME_CONFIG: join(ROOT, 'generated/runtime/runtime.json'), DATA_DIR: tempDir('js-cli-') });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('runtime: CONFIG_INVALID: runtime gateway needs queue.backend jetstream (runtime.json has "folder")');
  });

  it('`runtime gateway` and `runtime worker` exit 1 with BROKER_UNAVAILABLE when no NATS server answers', async () => {
    const root = tempDir('js-cli-');
    const port = await freePort();
    const { env } = writeJetStreamConfig({
      root,
      vault: root,
      dataDir: root,
      ollamaUrl: 'http://127.0.0.1:1',
      servers: [`nats://127.0.0.1:${port}`],
    });
    for (const service of ['gateway', 'worker']) {
      const r = await run([service], { ...env, LOG_LEVEL: 'error' });
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toContain(`runtime: BROKER_UNAVAILABLE: cannot connect to NATS at nats://127.0.0.1:${port}`);
    }
  });

  it('`runtime --help` lists the gateway', async () => {
    const child = spawn(process.execPath, [BIN, '--help'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await new Promise((r) => child.on('close', r));
    expect(out).toMatch(/^ {2}gateway {2}queue.backend jetstream: claims vault queue files/m);
  });
});

describe('JetStream queue: messages', () => {
  const js = testJetStream([]);

  it('a job id that is one subject token names its result subject; any other id is hashed', () => {
    expect(resultSubject(js, 'davas', '01JABCDEF')).toBe('jobs.result.davas.01JABCDEF');
    expect(jobKey('preset-3')).toBe('preset-3');
    for (const id of ['a.b', 'with space', 'x>', '*', 'h-looks-like-a-hash', 'x'.repeat(65)]) {
      expect(jobKey(id), id).toMatch(/^h-[0-9a-f]{40}$/);
    }
    expect(jobKey('a.b')).not.toBe(jobKey('a.c'));
    expect(msgId('j1', 0)).toBe('j1');
    expect(msgId('j1', 2)).toBe('j1.r2');
  });

  it('decode refuses what is too large, not JSON, or off the schema, with BROKER_MESSAGE_INVALID', () => {
    const good = encode({ v: 1, jobId: 'j', name: 'a.md', group: 'davas', run: 0, job: Buffer.from('hi').toString('base64') });
    expect(decode(JobMessageSchema, good, 1_000).jobId).toBe('j');
    const cases: [Uint8Array, RegExp][] = [
      [good, /at most 10 are read/],
      [Buffer.from('{'), /not JSON/],
      [Buffer.from(JSON.stringify({ v: 1, jobId: 'j', name: 'a.md', group: 'a.b', run: 0, job: '' })), /group/],
      [Buffer.from(JSON.stringify({ v: 1, jobId: 'j', name: 'a.md', group: 'g', run: 0, job: 'not base64!' })), /job/],
      [Buffer.from(JSON.stringify({ v: 2, jobId: 'j', name: 'a.md', group: 'g', run: 0, job: '' })), /v/],
      [Buffer.from(JSON.stringify({ v: 1, jobId: 'j', name: 'a.md', group: 'g', run: 0, job: '', extra: 1 })), /extra|Unrecognized/],
    ];
    for (const [data, why] of cases) {
      let err: unknown;
      try {
        decode(JobMessageSchema, data, data === good ? 10 : 1_000);
      } catch (e) {
        err = e;
      }
      expect(isRuntimeError(err, 'BROKER_MESSAGE_INVALID'), String(err)).toBe(true);
      expect((err as Error).message).toMatch(why);
    }
  });

  it("a failed result's error becomes a RuntimeError; an unknown code becomes INTERNAL and keeps its text", () => {
    const r = decode(
      ResultMessageSchema,
      encode({
        v: 1,
        jobId: 'j',
        run: 0,
        status: 'failed',
        error: { code: 'PROVIDER_ERROR', message: 'boom', hint: 'h' },
        durationMs: 1,
        worker: 'davas',
      }),
      10_000,
    );
    expect(r.status).toBe('failed');
    if (r.status !== 'failed') return;
    expect(resultError(r)).toMatchObject({ code: 'PROVIDER_ERROR', message: 'boom', hint: 'h' });
    expect(resultError({ ...r, error: { code: 'NOPE', message: 'odd' } })).toMatchObject({ code: 'INTERNAL', message: 'NOPE: odd' });
  });
});
