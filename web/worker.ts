/**
 * The page's generator, in Web Workers so the page stays responsive and every core works: each
 * worker reads the checkpoint's bytes the page fetched and checked once (web/main.ts; the
 * shapes are checked here), makes the same plan as `edm sample`
 * (src/generate/plan.ts) and samples the batches it is given (src/generate/batch.ts: per-molecule
 * random streams from the seed, so which worker makes a molecule changes nothing), on tfjs's
 * WebAssembly backend.
 *
 * Messages in: `GenerateRequest`. Out: `progress` after every denoising step, `batch` with each
 * finished batch (plain data), then `done`, or `error` with a one-line message.
 */
import * as tf from '@tensorflow/tfjs';
import { getThreadsCount, setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { checkpointFromBytes, makeModel, type Molecule, type PlanOptions, planSampling, sampleBatch, withElementModel } from '../src/browser.js';

/** What the page asks for. */
export interface GenerateRequest {
  /** the checkpoint's URL or folder name, for messages */
  checkpoint: string;
  /** its config.json and weights file, the weights' SHA-256 already checked; its element model's (elements/) too when it ships one */
  files: { config: Uint8Array; weights: Uint8Array; elements?: { config: Uint8Array; weights: Uint8Array } };
  /** type atoms with the element model from this diffusion time on (0..1; absent: not used) */
  elementFrom?: number;
  /** a property-conditioned checkpoint's asked values (`parseCondition`: a value, or `draw`) */
  condition?: Record<string, number | 'draw'>;
  n: number;
  seed: number;
  /** denoising steps (1..T) */
  steps: number;
  /** keep the denoising trajectory of the first molecule */
  chain: boolean;
  /** indices of the plan's batches this worker makes */
  batches: number[];
}

/** What the worker reports. */
export type WorkerMessage =
  | { kind: 'progress'; moleculeSteps: number }
  | { kind: 'batch'; index: number; molecules: Molecule[]; chains: Molecule[][] }
  | { kind: 'done'; backend: string; threads: number }
  | { kind: 'error'; message: string };

const post = (m: WorkerMessage): void => (self as unknown as { postMessage(m: WorkerMessage): void }).postMessage(m);

let backendReady: Promise<void> | undefined;

/** tfjs's WebAssembly backend, its .wasm files served beside this script. */
function startBackend(): Promise<void> {
  backendReady ??= (async () => {
    setWasmPaths(new URL('./', self.location.href).href);
    // one worker per core, each on one thread: WebAssembly threads inside a worker would only
    // compete with the other workers (measured in the README)
    if (self.location.search.includes('threads=0')) tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    else setThreadsCount(navigator.hardwareConcurrency || 1);
    if (!(await tf.setBackend('wasm'))) throw new Error('the WebAssembly backend of TensorFlow.js did not start');
    await tf.ready();
  })();
  return backendReady;
}

/** The plan's options of a request: the page and every worker plan alike. */
export function planOptions(req: Omit<GenerateRequest, 'batches'>): PlanOptions {
  return { n: req.n, seed: req.seed, steps: req.steps, chain: req.chain ? 1 : 0, ...(req.elementFrom !== undefined ? { elements: { from: req.elementFrom } } : {}), ...(req.condition ? { condition: req.condition } : {}) };
}

async function generate(req: GenerateRequest): Promise<void> {
  await startBackend();
  const ck = checkpointFromBytes(new TextDecoder().decode(req.files.config), req.files.weights, req.checkpoint);
  let model = makeModel(ck.config, ck.params);
  const e = req.elementFrom !== undefined && req.files.elements ? checkpointFromBytes(new TextDecoder().decode(req.files.elements.config), req.files.elements.weights, `${req.checkpoint}elements`) : undefined;
  if (e) model = withElementModel(model, e.config, e.params, `${req.checkpoint}elements`, req.checkpoint);
  const plan = planSampling(model, planOptions(req));
  for (const index of req.batches) {
    const batch = plan.batches[index];
    const result = sampleBatch(model, batch, plan, () => post({ kind: 'progress', moleculeSteps: batch.ids.length }));
    post({ kind: 'batch', index, ...result });
  }
  tf.dispose([...Object.values(ck.params), ...Object.values(e?.params ?? {})]);
  post({ kind: 'done', backend: tf.getBackend(), threads: getThreadsCount() });
}

self.onmessage = (e: MessageEvent<GenerateRequest>) => {
  generate(e.data).catch((err: unknown) => post({ kind: 'error', message: err instanceof Error ? err.message : String(err) }));
};
