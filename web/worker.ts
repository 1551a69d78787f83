/**
 * The page's generator, in Web Workers so the page stays responsive and every core works: each
 * worker reads the checkpoint's bytes the page fetched and checked once (web/main.ts; the
 * shapes are checked here), then makes the batches the page's pool deals it (the same pool as
 * `edm sample`'s worker threads, src/generate/dispatch.ts; per-molecule random streams from the
 * seed, so which worker makes a molecule changes nothing), on tfjs's WebAssembly backend.
 *
 * Messages in: `ModelRequest` once, then the pool's `BatchRequest`s. Out: the pool's
 * `WorkerReply`s (`ready`, `progress` after every denoising step, `result`, or `error` with a
 * one-line message).
 */
import * as tf from '@tensorflow/tfjs';
import { getThreadsCount, setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { type BatchRequest, checkpointFromBytes, type EdmModel, makeModel, sampleBatch, type WorkerReply, withElementModel } from '../src/browser.js';

/** The model a worker loads: what the page sends first. */
export interface ModelRequest {
  /** the checkpoint's URL or folder name, for messages */
  checkpoint: string;
  /** its config.json and weights file, the weights' SHA-256 already checked; its element model's (elements/) too when it ships one */
  files: { config: Uint8Array; weights: Uint8Array; elements?: { config: Uint8Array; weights: Uint8Array } };
  /** type atoms with the element model from this diffusion time on (0..1; absent: not used) */
  elementFrom?: number;
}

const post = (m: WorkerReply): void => (self as unknown as { postMessage(m: WorkerReply): void }).postMessage(m);

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

/** The model of a request (and its element model when asked for), loaded once per worker. */
async function load(req: ModelRequest): Promise<EdmModel> {
  await startBackend();
  const ck = checkpointFromBytes(new TextDecoder().decode(req.files.config), req.files.weights, req.checkpoint);
  const model = makeModel(ck.config, ck.params);
  const e = req.elementFrom !== undefined && req.files.elements ? checkpointFromBytes(new TextDecoder().decode(req.files.elements.config), req.files.elements.weights, `${req.checkpoint}elements`) : undefined;
  return e ? withElementModel(model, e.config, e.params, `${req.checkpoint}elements`, req.checkpoint) : model;
}

let model: Promise<EdmModel> | undefined;

self.onmessage = (e: MessageEvent<ModelRequest | BatchRequest>) => {
  const msg = e.data;
  if (!('kind' in msg)) {
    model = load(msg);
    model.then(
      () => post({ kind: 'ready', backend: tf.getBackend(), threads: getThreadsCount() }),
      (err: unknown) => post({ kind: 'error', message: err instanceof Error ? err.message : String(err) }),
    );
    return;
  }
  void model!.then((m) => {
    try {
      post({ kind: 'result', index: msg.index, out: sampleBatch(m, msg.batch, msg.settings, (step) => post({ kind: 'progress', index: msg.index, step })) });
    } catch (err) {
      post({ kind: 'error', index: msg.index, message: err instanceof Error ? err.message : String(err) });
    }
  });
};
