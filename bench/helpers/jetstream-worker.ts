/*
 * A JetStream worker with the instant provider, in its own process, for bench/queue.ts: workers
 * run on other hosts than the gateway, so the bench does not make them share its event loop.
 *
 *   node --import tsx bench/helpers/jetstream-worker.ts '<RuntimeJetStream JSON>' <concurrency>
 *
 * Prints "ready" once pulling; stops on SIGTERM.
 */
import type { RuntimeJetStream } from '@platform/contract';
import type { RuntimeConfig } from '../../runtime/src/config/index.js';
import { connectNats } from '../../runtime/src/jetstream/setup.js';
import { JetStreamWorker } from '../../runtime/src/jetstream/worker.js';
import type { ChatRouter } from '../../runtime/src/jobs/index.js';
import { silentLogger } from '../../runtime/src/log.js';
import type { ChatEvent } from '../../runtime/src/providers/types.js';

const js = JSON.parse(process.argv[2]!) as RuntimeJetStream;
const concurrency = Number(process.argv[3] ?? 4);

const router: ChatRouter = {
  async *chat(_model, req): AsyncGenerator<ChatEvent> {
    const prompt = req.messages.at(-1)?.content ?? '';
    yield { type: 'text', delta: `answer to ${prompt.length} chars` };
    yield { type: 'usage', usage: { inputTokens: 10, outputTokens: 4, durationMs: 0 } };
    yield { type: 'done', reason: 'stop' };
  },
};

const config = {
  host: 'contabo',
  queue: { backend: 'jetstream', jetstream: js },
  routing: { default: 'qwen2.5:14b' },
  dataDir: '/nonexistent',
  vault: {
    path: '/nonexistent',
    worker: {
      concurrency,
      graceMs: 2_000,
      maxJobBytes: 1_048_576,
      maxAnswerChars: 200_000,
      maxChainSteps: 20,
      firstTokenTimeoutMs: 60_000,
      idleTimeoutMs: 60_000,
      jobTimeoutMs: 600_000,
    },
  },
} as unknown as RuntimeConfig;

const nc = await connectNats({ js, role: 'worker', password: undefined, name: `bench-worker-${process.pid}`, log: silentLogger });
const worker = new JetStreamWorker({ config, nc, router, log: silentLogger });
await worker.start();
process.stdout.write('ready\n');
process.once('SIGTERM', () => {
  void worker
    .stop()
    .then(() => nc.close())
    .then(() => process.exit(0));
});
