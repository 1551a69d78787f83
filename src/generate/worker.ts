/**
 * A sampling worker: loads the checkpoint once, then denoises the batches it is sent.
 * Messages in: { kind: 'batch', index, batch, settings }; out: progress and results.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type BackendName, initBackend, withRuntime } from '../backend.js';
import { loadCheckpoint } from '../checkpoint/format.js';
import { makeModel } from '../diffusion/model.js';
import { type BatchSettings, sampleBatch } from './batch.js';
import type { PlannedBatch } from './types.js';

const { checkpoint, backend, threads } = workerData as { checkpoint: string; backend: BackendName; threads: number };
await initBackend(backend);
const ck = loadCheckpoint(checkpoint);
// on onnx, each worker's network runs in its own ONNX Runtime session on `threads` threads
const model = withRuntime(makeModel(ck.config, ck.params), { engine: backend === 'onnx' ? 'onnx' : 'tfjs', name: backend, threads });
parentPort!.on('message', (msg: { kind: 'batch'; index: number; batch: PlannedBatch; settings: BatchSettings }) => {
  try {
    // `index` is the batch's place in the plan
    const out = sampleBatch(model, msg.batch, msg.settings, (step) =>
      parentPort!.postMessage({ kind: 'progress', index: msg.index, step }),
    );
    parentPort!.postMessage({ kind: 'result', index: msg.index, out });
  } catch (e) {
    parentPort!.postMessage({ kind: 'error', index: msg.index, message: (e as Error).message });
  }
});
parentPort!.postMessage({ kind: 'ready' });
