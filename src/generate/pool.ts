/**
 * Sampling on several cores in Node.js: one worker thread per core (worker.ts), each loading the
 * checkpoint with its own backend, driven by the shared pool (dispatch.ts).
 */
import type { BackendName } from '../backend.js';
import { startWorker } from '../workers.js';
import { type PoolWorker, type WorkerReply, runPool } from './dispatch.js';
import { Assembler } from './plan.js';
import type { SampleResult, SamplingPlan } from './types.js';

/**
 * Run a plan on `workers` threads, loading the model from `checkpoint` in each.
 * @param backend what each worker starts (`onnx`: its network in ONNX Runtime on `threads` threads)
 * @param onProgress molecules finished, and denoising steps done summed over running batches
 * @param signal stops the workers after their current denoising step (the promise rejects with InterruptedError)
 * @throws UserError with the worker's message if a batch fails
 */
export async function sampleInWorkers(
  checkpoint: string,
  backend: BackendName,
  plan: SamplingPlan,
  workers: number,
  onProgress?: (doneMolecules: number, stepsDone: number) => void,
  assembler = new Assembler(plan),
  threads = 1,
  signal?: AbortSignal,
): Promise<SampleResult> {
  // a stop request the workers read between denoising steps
  const stop = new Int32Array(new SharedArrayBuffer(4));
  const pool: PoolWorker[] = Array.from({ length: workers }, () => {
    const w = startWorker(import.meta.url, 'worker', { checkpoint, backend, threads, stop });
    return {
      post: (msg) => w.postMessage(msg),
      onReply: (handler) => void w.on('message', (msg: WorkerReply) => handler(msg)),
      onCrash: (handler) => void w.on('error', handler),
      terminate: () => void w.terminate(),
    };
  });
  const { result } = await runPool(plan, pool, assembler, { onProgress, signal, requestStop: () => Atomics.store(stop, 0, 1) });
  return result;
}
