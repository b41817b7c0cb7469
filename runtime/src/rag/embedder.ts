import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { RuntimeError, describeError } from '../errors.js';
import type { Embedder } from './types.js';

/*
 * Embedders. `OnnxEmbedder` runs all-MiniLM-L6-v2 (int8 ONNX, 384 dimensions) in-process from
 * the local model folder scripts/install-embedding-model.sh fills, never from a hub; `remote`
 * wraps a provider's embed call (Ollama's /api/embed through the router in production).
 */

export const ONNX_MODEL_NAME = 'all-MiniLM-L6-v2-int8';
export const ONNX_DIMENSIONS = 384;

export function defaultModelsDir(env: Record<string, string | undefined> = {}): string {
  return join(env.LLM_PLATFORM_CACHE ?? join(homedir(), '.cache/llm-platform'), 'models');
}

type FeatureExtractor = (texts: string[], opts: { pooling: 'mean'; normalize: boolean }) => Promise<{ tolist(): number[][] }>;

export class OnnxEmbedder implements Embedder {
  readonly model = `onnx:${ONNX_MODEL_NAME}`;
  readonly dimensions = ONNX_DIMENSIONS;
  private extractor: Promise<FeatureExtractor> | undefined;
  /** Texts per ONNX run: larger batches pad to the longest text and waste work. */
  private readonly batch: number;

  constructor(
    private readonly modelsDir: string,
    opts: { batch?: number } = {},
  ) {
    this.batch = opts.batch ?? 16;
  }

  private load(): Promise<FeatureExtractor> {
    this.extractor ??= (async () => {
      const dir = join(this.modelsDir, ONNX_MODEL_NAME);
      if (!existsSync(join(dir, 'onnx', 'model.onnx'))) {
        throw new RuntimeError('RAG_EMBEDDER', `the embedded embedding model is not in ${dir}`, {
          hint: 'run `bash scripts/install-embedding-model.sh` (make test does), or set retrieval.embedder: ollama',
        });
      }
      const { env, pipeline } = await import('@huggingface/transformers');
      env.allowRemoteModels = false;
      env.allowLocalModels = true;
      env.localModelPath = this.modelsDir.endsWith('/') ? this.modelsDir : `${this.modelsDir}/`;
      const pipe = await pipeline('feature-extraction', ONNX_MODEL_NAME, { dtype: 'fp32' });
      return pipe as unknown as FeatureExtractor;
    })();
    return this.extractor;
  }

  async embed(texts: readonly string[]): Promise<number[][]> {
    const fe = await this.load();
    const out: number[][] = [];
    try {
      for (let i = 0; i < texts.length; i += this.batch) {
        const res = await fe(
          texts.slice(i, i + this.batch).map((t) => t.slice(0, 4000)),
          { pooling: 'mean', normalize: true },
        );
        out.push(...res.tolist());
      }
    } catch (e) {
      throw new RuntimeError('RAG_EMBEDDER', `the ONNX embedder failed: ${describeError(e)}`, { cause: e });
    }
    return out;
  }
}

/** A provider's embedding endpoint (Ollama /api/embed); checks every vector's size. */
export class RemoteEmbedder implements Embedder {
  readonly model: string;
  constructor(
    name: string,
    readonly dimensions: number,
    private readonly call: (texts: string[]) => Promise<number[][]>,
    private readonly batch = 32,
  ) {
    this.model = `ollama:${name}`;
  }

  async embed(texts: readonly string[]): Promise<number[][]> {
    const out: number[][] = [];
    for (let i = 0; i < texts.length; i += this.batch) {
      const part = texts.slice(i, i + this.batch);
      const vs = await this.call([...part]);
      if (vs.length !== part.length)
        throw new RuntimeError('RAG_EMBEDDER', `${this.model} returned ${vs.length} vectors for ${part.length} texts`);
      for (const v of vs) {
        if (v.length !== this.dimensions) {
          throw new RuntimeError('RAG_EMBEDDER', `${this.model} returned ${v.length} dimensions, the model says ${this.dimensions}`, {
            hint: 'fix routing.embedding.dimensions in platform.yaml, render, then `runtime index --full`',
          });
        }
        out.push(normalise(v));
      }
    }
    return out;
  }
}

export function normalise(v: readonly number[]): number[] {
  let n = 0;
  for (const x of v) n += x * x;
  n = Math.sqrt(n) || 1;
  return v.map((x) => x / n);
}
