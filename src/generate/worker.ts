/**
 * A sampling worker: loads the checkpoint once, then denoises the batches it is sent.
 * Messages in: { kind: 'batch', index, batch, nNodes, settings, chain }; out: progress and results.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type BackendName, initBackend } from '../backend.js';
import { loadCheckpoint } from '../checkpoint/format.js';
import { makeModel } from '../diffusion/model.js';
import { type BatchSettings, sampleBatch } from './batch.js';

const { checkpoint, backend } = workerData as { checkpoint: string; backend: BackendName };
await initBackend(backend);
const ck = loadCheckpoint(checkpoint);
const model = makeModel(ck.config, ck.params);
parentPort!.on('message', (msg: { kind: 'batch'; index: number; batch: number; nNodes: Int32Array; settings: BatchSettings; chain: number }) => {
  try {
    // `batch` is the batch's place in the whole run (its random stream); `index` its place here
    const out = sampleBatch(model, msg.nNodes, msg.batch, msg.settings, msg.chain, (step) =>
      parentPort!.postMessage({ kind: 'progress', index: msg.index, step }),
    );
    parentPort!.postMessage({ kind: 'result', index: msg.index, out });
  } catch (e) {
    parentPort!.postMessage({ kind: 'error', index: msg.index, message: (e as Error).message });
  }
});
parentPort!.postMessage({ kind: 'ready' });
