/**
 * The page's generator, in a Web Worker so the page stays responsive: the checkpoint fetched and
 * checked (SHA-256, shapes), then the same planning and batch sampling as `edm sample`
 * (src/generate/plan.ts, src/generate/batch.ts: per-molecule random streams from the seed), on
 * tfjs's WebAssembly backend (threads when the page is cross-origin isolated, else one).
 *
 * Messages in: `GenerateRequest`. Out: `progress` after every denoising step, then `done` with
 * the molecules (plain data) or `error` with a one-line message.
 */
import * as tf from '@tensorflow/tfjs';
import { getThreadsCount, setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { checkpointFromBytes } from '../src/checkpoint/parse.js';
import type { Molecule } from '../src/data/molecule.js';
import { makeModel } from '../src/diffusion/model.js';
import { sampleBatch } from '../src/generate/batch.js';
import { Assembler, planSampling } from '../src/generate/plan.js';
import { fetchBytes, sha256Hex } from './fetch.js';

/** What the page asks for. */
export interface GenerateRequest {
  /** URL of the checkpoint folder (config.json and its weights file) */
  checkpoint: string;
  n: number;
  seed: number;
  /** denoising steps (1..T) */
  steps: number;
  /** keep the denoising trajectory of the first molecule */
  chain: boolean;
}

/** What the worker reports. */
export type WorkerMessage =
  | { kind: 'progress'; done: number; n: number; step: number; steps: number; moleculeSteps: number; seconds: number }
  | { kind: 'done'; molecules: Molecule[]; chain?: Molecule[]; seconds: number; backend: string; threads: number; config: unknown }
  | { kind: 'error'; message: string };

const post = (m: WorkerMessage): void => (self as unknown as { postMessage(m: WorkerMessage): void }).postMessage(m);

let backendReady: Promise<void> | undefined;

/** tfjs's WebAssembly backend, its .wasm files served beside this script. */
function startBackend(): Promise<void> {
  backendReady ??= (async () => {
    setWasmPaths(new URL('./', self.location.href).href);
    // XNNPACK's default pool is half the cores: use them all (threads only when cross-origin isolated)
    setThreadsCount(navigator.hardwareConcurrency || 1);
    if (!(await tf.setBackend('wasm'))) throw new Error('the WebAssembly backend of TensorFlow.js did not start');
    await tf.ready();
  })();
  return backendReady;
}

/**
 * Load a checkpoint folder by URL.
 * @throws Error naming the file for a failed fetch, a checksum mismatch or an invalid checkpoint
 */
async function loadCheckpoint(base: string): Promise<ReturnType<typeof checkpointFromBytes>> {
  const root = base.endsWith('/') ? base : `${base}/`;
  const configText = new TextDecoder().decode(await fetchBytes(`${root}config.json`));
  const file = (JSON.parse(configText) as { weights?: { file?: string; sha256?: string } }).weights;
  if (!file?.file) throw new Error(`${root}config.json: no weights manifest`);
  const weights = await fetchBytes(`${root}${file.file}`);
  if ((await sha256Hex(weights)) !== file.sha256) throw new Error(`${root}${file.file}: checksum mismatch (file corrupt or truncated)`);
  return checkpointFromBytes(configText, weights, root);
}

async function generate(req: GenerateRequest): Promise<void> {
  await startBackend();
  const ck = await loadCheckpoint(req.checkpoint);
  const model = makeModel(ck.config, ck.params);
  const plan = planSampling(model, { n: req.n, seed: req.seed, steps: req.steps, chain: req.chain ? 1 : 0 });
  const assembler = new Assembler(plan);
  const t0 = performance.now();
  let done = 0;
  let moleculeSteps = 0;
  for (const batch of plan.batches) {
    const result = sampleBatch(model, batch, plan, (step, steps) => {
      moleculeSteps += batch.ids.length;
      post({ kind: 'progress', done, n: req.n, step, steps, moleculeSteps, seconds: (performance.now() - t0) / 1000 });
    });
    assembler.add(result, batch.ids);
    done += batch.ids.length;
  }
  const out = assembler.result();
  tf.dispose(Object.values(ck.params));
  const threads = getThreadsCount();
  post({ kind: 'done', molecules: out.molecules, chain: out.chains[0], seconds: (performance.now() - t0) / 1000, backend: tf.getBackend(), threads, config: ck.config });
}

self.onmessage = (e: MessageEvent<GenerateRequest>) => {
  generate(e.data).catch((err: unknown) => post({ kind: 'error', message: err instanceof Error ? err.message : String(err) }));
};
