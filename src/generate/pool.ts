/**
 * Sampling on several cores: one worker thread per core, each with its own WebAssembly backend
 * (tfjs-wasm runs single-threaded in Node.js), each taking whole batches of a SamplingPlan.
 */
import type { Worker } from 'node:worker_threads';
import type { BackendName } from '../backend.js';
import { InterruptedError, UserError } from '../errors.js';
import { startWorker } from '../workers.js';
import type { BatchSettings } from './batch.js';
import { Assembler } from './plan.js';
import type { BatchResult, SampleResult, SamplingPlan } from './types.js';

/**
 * Run a plan on `workers` threads, loading the model from `checkpoint` in each.
 * @param backend what each worker starts (`onnx`: its network in ONNX Runtime on `threads` threads)
 * @param onProgress molecules finished, and denoising steps done summed over running batches
 * @param signal stops the workers at once (the promise rejects with InterruptedError)
 * @throws UserError with the worker's message if a batch fails
 */
export function sampleInWorkers(
  checkpoint: string,
  backend: BackendName,
  plan: SamplingPlan,
  workers: number,
  onProgress?: (doneMolecules: number, stepsDone: number) => void,
  assembler = new Assembler(plan),
  threads = 1,
  signal?: AbortSignal,
): Promise<SampleResult> {
  // batches finish in any order; they are handed to the assembler in plan order
  const results: (BatchResult | undefined)[] = new Array(plan.batches.length);
  let nextInOrder = 0;
  const stepsOf = new Array<number>(plan.batches.length).fill(0);
  let next = 0;
  let finished = 0;
  let doneMolecules = 0;
  const settings: BatchSettings = { seed: plan.seed, steps: plan.steps, temperature: plan.temperature, corrector: plan.corrector, chain: plan.chain, pocket: plan.pocket, elements: plan.elements };
  // a stop request the workers read between denoising steps: a worker is never terminated inside
  // a native call (ONNX Runtime aborts the process when torn down mid-run)
  const stop = new Int32Array(new SharedArrayBuffer(4));
  return new Promise((resolve, reject) => {
    const pool: Worker[] = [];
    // workers starting up or denoising a batch
    const busy = new Set<Worker>();
    let aborting = false;
    const stopAll = (): void => {
      signal?.removeEventListener('abort', onAbort);
      for (const w of pool) void w.terminate();
    };
    const settleAbort = (): void => {
      if (aborting && busy.size === 0) {
        stopAll();
        reject(new InterruptedError('sampling stopped'));
      }
    };
    const onAbort = (): void => {
      aborting = true;
      Atomics.store(stop, 0, 1);
      settleAbort();
    };
    signal?.addEventListener('abort', onAbort);
    const feed = (w: Worker): void => {
      if (aborting || next >= plan.batches.length) return;
      const index = next++;
      busy.add(w);
      w.postMessage({ kind: 'batch', index, batch: plan.batches[index], settings });
    };
    for (let k = 0; k < workers; k++) {
      const w = startWorker(import.meta.url, 'worker', { checkpoint, backend, threads, stop });
      pool.push(w);
      busy.add(w);
      w.on('message', (msg: { kind: string; index: number; step?: number; out?: BatchResult; message?: string }) => {
        if (msg.kind !== 'progress') busy.delete(w);
        if (aborting) return settleAbort();
        if (msg.kind === 'ready') feed(w);
        else if (msg.kind === 'progress') {
          stepsOf[msg.index] = msg.step!;
          onProgress?.(doneMolecules, stepsOf.reduce((a, b) => a + b, 0));
        } else if (msg.kind === 'result') {
          results[msg.index] = msg.out!;
          while (nextInOrder < results.length && results[nextInOrder]) {
            assembler.add(results[nextInOrder]!, plan.batches[nextInOrder].ids);
            results[nextInOrder++] = undefined;
          }
          doneMolecules += plan.batches[msg.index].ids.length;
          finished++;
          onProgress?.(doneMolecules, stepsOf.reduce((a, b) => a + b, 0));
          if (finished === plan.batches.length) {
            stopAll();
            resolve(assembler.result());
          } else feed(w);
        } else if (msg.kind === 'error') {
          stopAll();
          reject(new UserError(`sampling batch ${msg.index + 1} failed: ${msg.message}`));
        }
      });
      w.on('error', (e) => {
        stopAll();
        reject(e);
      });
    }
    if (signal?.aborted) onAbort();
  });
}
