/**
 * The one worker pool of sampling, for Node's worker threads (generate/pool.ts) and the browser's
 * Web Workers (web/main.ts) alike: it deals a plan's batches to idle workers one at a time (big
 * and small batches balance themselves), hands the results to the assembler in plan order, sums
 * progress, and stops every worker on an abort. It knows nothing of either runtime: each side
 * adapts its workers to `PoolWorker` and its workers answer the messages below.
 */
import { InterruptedError, UserError } from '../errors.js';
import type { BatchSettings } from './batch.js';
import type { Assembler } from './plan.js';
import type { BatchResult, PlannedBatch, SampleResult, SamplingPlan } from './types.js';

/** What the pool sends a worker: one batch of the plan (`index` is its place in the plan). */
export interface BatchRequest {
  kind: 'batch';
  index: number;
  batch: PlannedBatch;
  settings: BatchSettings;
}

/**
 * What a worker answers: `ready` once its model is loaded (with its engine, for reports),
 * `progress` after every denoising step of a batch, then `result`; `error` with a one-line
 * message; `stopped` when it saw the pool's stop request between two steps.
 */
export type WorkerReply =
  | { kind: 'ready'; backend?: string; threads?: number }
  | { kind: 'progress'; index: number; step: number }
  | { kind: 'result'; index: number; out: BatchResult }
  | { kind: 'error'; index?: number; message: string }
  | { kind: 'stopped'; index: number };

/** A worker as the pool drives it. */
export interface PoolWorker {
  post(msg: BatchRequest): void;
  /** register the handler of the worker's replies (called once) */
  onReply(handler: (msg: WorkerReply) => void): void;
  /** register the handler of the worker's crash (called once) */
  onCrash(handler: (e: Error) => void): void;
  terminate(): void;
}

/** The batch settings every batch of a plan shares (plain data, sent to each worker). */
export const batchSettings = (plan: SamplingPlan): BatchSettings => ({ seed: plan.seed, steps: plan.steps, temperature: plan.temperature, corrector: plan.corrector, chain: plan.chain, pocket: plan.pocket, elements: plan.elements });

/** Options of `runPool`. */
export interface PoolOptions {
  /** molecules finished, denoising steps done summed over all batches, and the same counting each molecule of a batch (molecule-steps) */
  onProgress?: (doneMolecules: number, stepsDone: number, moleculeSteps: number) => void;
  /** stops the run: `requestStop` is called, busy workers end their step, then all are terminated */
  signal?: AbortSignal;
  /**
   * tell the workers to stop between denoising steps (e.g. a shared-memory flag they read): a
   * worker is never terminated inside a native call (ONNX Runtime aborts the process when torn
   * down mid-run)
   */
  requestStop?: () => void;
}

/**
 * Run every batch of `plan` on `workers` (started by the caller, not yet ready).
 * @returns the assembler's result, and the first worker's `ready` report
 * @throws UserError with the worker's message if a batch fails; InterruptedError on an abort;
 *   the crash of a worker as it is
 */
export function runPool(plan: SamplingPlan, workers: PoolWorker[], assembler: Assembler, opts: PoolOptions = {}): Promise<{ result: SampleResult; engine: { backend?: string; threads?: number } }> {
  const { signal, onProgress } = opts;
  const settings = batchSettings(plan);
  // batches finish in any order; they are handed to the assembler in plan order
  const results: (BatchResult | undefined)[] = new Array(plan.batches.length);
  let nextInOrder = 0;
  const stepsOf = new Array<number>(plan.batches.length).fill(0);
  // running sums of stepsOf, plain and weighted by batch size (updated by each step's difference)
  let stepsDone = 0;
  let moleculeSteps = 0;
  let next = 0;
  let finished = 0;
  let doneMolecules = 0;
  let engine: { backend?: string; threads?: number } | undefined;
  return new Promise((resolve, reject) => {
    // workers starting up or denoising a batch
    const busy = new Set<PoolWorker>(workers);
    let aborting = false;
    let settled = false;
    const end = (): void => {
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      for (const w of workers) w.terminate();
    };
    const settleAbort = (): void => {
      if (!settled && aborting && busy.size === 0) {
        end();
        reject(new InterruptedError('sampling stopped'));
      }
    };
    const onAbort = (): void => {
      aborting = true;
      opts.requestStop?.();
      settleAbort();
    };
    signal?.addEventListener('abort', onAbort);
    const feed = (w: PoolWorker): void => {
      if (aborting || next >= plan.batches.length) return;
      const index = next++;
      busy.add(w);
      w.post({ kind: 'batch', index, batch: plan.batches[index], settings });
    };
    const report = (): void => onProgress?.(doneMolecules, stepsDone, moleculeSteps);
    for (const w of workers) {
      w.onReply((msg) => {
        if (settled) return;
        if (msg.kind !== 'progress') busy.delete(w);
        if (aborting) return settleAbort();
        if (msg.kind === 'ready') {
          engine ??= { backend: msg.backend, threads: msg.threads };
          feed(w);
        } else if (msg.kind === 'progress') {
          const delta = msg.step - stepsOf[msg.index];
          stepsOf[msg.index] = msg.step;
          stepsDone += delta;
          moleculeSteps += delta * plan.batches[msg.index].ids.length;
          report();
        } else if (msg.kind === 'result') {
          results[msg.index] = msg.out;
          while (nextInOrder < results.length && results[nextInOrder]) {
            assembler.add(results[nextInOrder]!, plan.batches[nextInOrder].ids);
            results[nextInOrder++] = undefined;
          }
          doneMolecules += plan.batches[msg.index].ids.length;
          finished++;
          report();
          if (finished === plan.batches.length) {
            end();
            resolve({ result: assembler.result(), engine: engine ?? {} });
          } else feed(w);
        } else if (msg.kind === 'error') {
          end();
          reject(new UserError(msg.index === undefined ? msg.message : `sampling batch ${msg.index + 1} failed: ${msg.message}`));
        }
      });
      w.onCrash((e) => {
        if (settled) return;
        end();
        reject(e);
      });
    }
    if (signal?.aborted) onAbort();
  });
}
