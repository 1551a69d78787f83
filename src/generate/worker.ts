/**
 * A sampling worker: loads the checkpoint once, then denoises the batches it is sent.
 * Messages in: dispatch.ts's BatchRequest; out: its WorkerReply (progress and results, or
 * 'stopped' when the pool's stop flag, shared memory read between denoising steps, is set).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type BackendName, initBackend, withRuntime } from '../backend.js';
import { loadSamplingModel } from '../elements/load.js';
import { sampleBatch } from './batch.js';
import type { BatchRequest, WorkerReply } from './dispatch.js';

const { checkpoint, backend, threads, stop } = workerData as { checkpoint: string; backend: BackendName; threads: number; stop: Int32Array };

/** Thrown between denoising steps once the pool asks its workers to stop. */
class Stopped extends Error {}
await initBackend(backend);
// on onnx, each worker's network runs in its own ONNX Runtime session on `threads` threads
const model = withRuntime(loadSamplingModel(checkpoint), { engine: backend === 'onnx' ? 'onnx' : 'tfjs', name: backend, threads });
const reply = (m: WorkerReply): void => parentPort!.postMessage(m);
parentPort!.on('message', (msg: BatchRequest) => {
  try {
    // `index` is the batch's place in the plan
    const out = sampleBatch(model, msg.batch, msg.settings, (step) => {
      if (Atomics.load(stop, 0) === 1) throw new Stopped();
      reply({ kind: 'progress', index: msg.index, step });
    });
    reply({ kind: 'result', index: msg.index, out });
  } catch (e) {
    if (e instanceof Stopped) return reply({ kind: 'stopped', index: msg.index });
    reply({ kind: 'error', index: msg.index, message: (e as Error).message });
  }
});
reply({ kind: 'ready', backend, threads });
