/**
 * A sampling worker: loads the checkpoint once, then denoises the batches it is sent.
 * Messages in: { kind: 'batch', index, batch, settings }; out: progress and results, or
 * 'stopped' when the pool's stop flag (shared memory, read between denoising steps) is set.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type BackendName, initBackend, withRuntime } from '../backend.js';
import { loadSamplingModel } from '../elements/load.js';
import { type BatchSettings, sampleBatch } from './batch.js';
import type { PlannedBatch } from './types.js';

const { checkpoint, backend, threads, stop } = workerData as { checkpoint: string; backend: BackendName; threads: number; stop: Int32Array };

/** Thrown between denoising steps once the pool asks its workers to stop. */
class Stopped extends Error {}
await initBackend(backend);
// on onnx, each worker's network runs in its own ONNX Runtime session on `threads` threads
const model = withRuntime(loadSamplingModel(checkpoint), { engine: backend === 'onnx' ? 'onnx' : 'tfjs', name: backend, threads });
parentPort!.on('message', (msg: { kind: 'batch'; index: number; batch: PlannedBatch; settings: BatchSettings }) => {
  try {
    // `index` is the batch's place in the plan
    const out = sampleBatch(model, msg.batch, msg.settings, (step) => {
      if (Atomics.load(stop, 0) === 1) throw new Stopped();
      parentPort!.postMessage({ kind: 'progress', index: msg.index, step });
    });
    parentPort!.postMessage({ kind: 'result', index: msg.index, out });
  } catch (e) {
    if (e instanceof Stopped) return void parentPort!.postMessage({ kind: 'stopped', index: msg.index });
    parentPort!.postMessage({ kind: 'error', index: msg.index, message: (e as Error).message });
  }
});
parentPort!.postMessage({ kind: 'ready' });
