/**
 * Where shard gradients are computed: in this thread, or on worker threads (one per core, each
 * with its own WebAssembly backend, since tfjs-wasm runs one thread per process in Node.js).
 * Both give the same bits for the same shards (see gradients.ts).
 */
import type { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import type { BackendName } from '../backend.js';
import type { EdmConfig } from '../config.js';
import type { Params } from '../egnn/params.js';
import { UserError } from '../errors.js';
import { startWorker } from '../workers.js';
import { type ShardResult, type ShardTask, ShardGradients } from './gradients.js';

/** Computes the gradients of a step's shards for given weights. */
export interface GradientEngine {
  /** number of threads computing (0: this thread) */
  readonly workers: number;
  /**
   * @param weights flat weights in `paramOrder` layout
   * @returns one result per task, any order
   */
  compute(weights: Float32Array, tasks: ShardTask[], denomN: number): Promise<ShardResult[]>;
  /** Stop workers and free memory. */
  close(): Promise<void>;
}

/** Default gradient workers: one per core. */
export function defaultTrainWorkers(): number {
  return availableParallelism();
}

/** Gradients in this thread (tests, and `--workers 0`). */
export class LocalGradients implements GradientEngine {
  readonly workers = 0;
  private readonly shardGrads: ShardGradients;

  constructor(config: EdmConfig, like: Params) {
    this.shardGrads = new ShardGradients(config, like);
  }

  async compute(weights: Float32Array, tasks: ShardTask[], denomN: number): Promise<ShardResult[]> {
    this.shardGrads.setWeights(weights);
    return tasks.map((t) => this.shardGrads.compute(t, denomN));
  }

  async close(): Promise<void> {
    this.shardGrads.dispose();
  }
}

interface Pending {
  resolve: (r: ShardResult[]) => void;
  reject: (e: Error) => void;
}

/**
 * Gradients on `workers` threads: shard k goes to worker k mod W; each worker loads the
 * weights it is sent, computes its shards in order and returns their gradients.
 */
export class WorkerGradients implements GradientEngine {
  private readonly pool: Worker[] = [];
  private readonly ready: Promise<void>[] = [];
  private pending: Pending[] = [];
  private failure: Error | undefined;

  /**
   * @param config the model's configuration (sent to every worker)
   * @param shapes parameter shapes by name
   * @param backend compute backend each worker starts
   */
  constructor(
    readonly workers: number,
    config: EdmConfig,
    shapes: Record<string, number[]>,
    backend: BackendName,
  ) {
    for (let w = 0; w < workers; w++) {
      const worker = startWorker(import.meta.url, 'grad-worker', { config, shapes, backend });
      this.pool.push(worker);
      this.ready.push(
        new Promise((resolve, reject) => {
          const onMessage = (msg: { kind: string }): void => {
            if (msg.kind === 'ready') {
              worker.off('message', onMessage);
              resolve();
            }
          };
          worker.on('message', onMessage);
          worker.once('error', reject);
        }),
      );
      worker.on('error', (e: Error) => this.fail(e));
    }
  }

  private fail(e: Error): void {
    this.failure ??= e;
    for (const p of this.pending) p.reject(e);
    this.pending = [];
  }

  async compute(weights: Float32Array, tasks: ShardTask[], denomN: number): Promise<ShardResult[]> {
    await Promise.all(this.ready);
    if (this.failure) throw this.failure;
    const jobs = this.pool.map((worker, w) => {
      const mine = tasks.filter((t) => t.index % this.workers === w);
      if (mine.length === 0) return Promise.resolve([] as ShardResult[]);
      return new Promise<ShardResult[]>((resolve, reject) => {
        const entry: Pending = { resolve, reject };
        this.pending.push(entry);
        const onMessage = (msg: { kind: string; results?: ShardResult[]; message?: string }): void => {
          worker.off('message', onMessage);
          this.pending = this.pending.filter((p) => p !== entry);
          if (msg.kind === 'results') resolve(msg.results!);
          else reject(new UserError(`gradient worker ${w + 1} failed: ${msg.message}`));
        };
        worker.on('message', onMessage);
        worker.postMessage({ kind: 'step', weights, tasks: mine, denomN });
      });
    });
    return (await Promise.all(jobs)).flat();
  }

  async close(): Promise<void> {
    await Promise.all(this.pool.map((w) => w.terminate()));
  }
}
