/**
 * Data-parallel gradients: a training batch is cut into a fixed number of shards
 * (micro-batches); each shard's loss and gradient are computed on its own (in this thread or on
 * a worker), then combined on the host in shard order. The shard count, never the number of
 * threads, decides the arithmetic, so a step gives the same bits on 1 or W workers.
 */
import * as tf from '@tensorflow/tfjs';
import type { EdmConfig } from '../config.js';
import { disposeBatch } from '../data/batch.js';
import { type TrainingExample, makeTrainingBatch } from '../data/examples.js';
import { type LossWeighting, type StepNoise, UNIFORM_WEIGHTING, drawStepNoise, trainingLoss } from '../diffusion/loss.js';
import { type EdmModel, makeModel } from '../diffusion/model.js';
import type { Params } from '../egnn/params.js';
import type { Rng } from '../random.js';
import { zerosVariable } from './optimizer.js';

/** One shard of a training step, as plain data (crosses worker boundaries). */
export interface ShardTask {
  /** position of the shard in the step (fixes the order of the sum) */
  index: number;
  /** the shard's molecules or complexes */
  examples: TrainingExample[];
  noise: StepNoise;
}

/** What a shard gives back. */
export interface ShardResult {
  index: number;
  /** the shard's mean loss (trainingLoss) */
  loss: number;
  /** d loss / d params, all parameters back to back in `paramOrder` order, float32 */
  grad: Float32Array;
}

/** The combined result of one step's shards. */
export interface StepGradient {
  /** mean loss over the batch */
  loss: number;
  /** flat gradient of the mean loss, `paramOrder` layout */
  grad: Float32Array;
}

/** Parameter names in the fixed order used by every flat weight and gradient vector. */
export function paramOrder(params: Record<string, tf.Tensor>): string[] {
  return Object.keys(params).sort();
}

/** Host arrays back to back in `order`: one float32 vector. */
export function joinFlat(parts: Record<string, ArrayLike<number>>, order: string[]): Float32Array {
  const out = new Float32Array(order.reduce((n, k) => n + parts[k].length, 0));
  let off = 0;
  for (const k of order) {
    out.set(parts[k], off);
    off += parts[k].length;
  }
  return out;
}

/** Views (no copy) into a flat vector, one per parameter of `order`, of `sizeOf(name)` values each. */
export function splitFlat(flat: Float32Array, order: string[], sizeOf: (name: string) => number): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  let off = 0;
  for (const k of order) {
    out[k] = flat.subarray(off, off + sizeOf(k));
    off += out[k].length;
  }
  return out;
}

/** Copy tensors into one float32 vector in `order` (weights to send to workers). */
export function flatten(params: Record<string, tf.Tensor>, order: string[]): Float32Array {
  return joinFlat(Object.fromEntries(order.map((k) => [k, params[k].dataSync()])), order);
}

/** Cut a flat vector back into tensors shaped like `like` (caller disposes them). */
export function unflatten(flat: Float32Array, like: Record<string, tf.Tensor>, order: string[]): Record<string, tf.Tensor> {
  const views = splitFlat(flat, order, (k) => like[k].size);
  return Object.fromEntries(order.map((k) => [k, tf.tensor(views[k], like[k].shape)]));
}

/**
 * Cut a batch into `shards` contiguous parts of near-equal size (earlier parts get the extra
 * molecule); fewer parts when the batch is smaller than `shards`. Molecules in a bucketed batch
 * have similar sizes, so each part pads to about its own size.
 */
export function splitShards<T>(items: T[], shards: number): T[][] {
  const k = Math.max(1, Math.min(shards, items.length));
  const out: T[][] = [];
  const base = Math.floor(items.length / k);
  let extra = items.length % k;
  let start = 0;
  for (let i = 0; i < k; i++) {
    const len = base + (extra-- > 0 ? 1 : 0);
    out.push(items.slice(start, start + len));
    start += len;
  }
  return out;
}

/**
 * Draw each shard's noise from `rng`, shard after shard (so the stream does not depend on
 * where the shards run), and package the tasks.
 * @param model any model with the run's schedule (only T, gamma and the feature layout are used)
 * @param weighting the loss weighting over t (its weights travel with the noise)
 */
export function makeShardTasks(model: EdmModel, examples: TrainingExample[], shards: number, rng: Rng, weighting: LossWeighting = UNIFORM_WEIGHTING): ShardTask[] {
  return splitShards(examples, shards).map((part, index) => {
    const batch = makeTrainingBatch(model.config, part);
    const noise = drawStepNoise(model, batch, rng, weighting);
    disposeBatch(batch);
    return { index, examples: part, noise };
  });
}

/**
 * A model whose weights are tfjs variables, for computing gradients of shards. Lives in every
 * gradient worker (and in the trainer's thread when it runs without workers).
 */
export class ShardGradients {
  private readonly vars: Record<string, tf.Variable>;
  private readonly order: string[];
  private readonly varList: tf.Variable[];
  private readonly nameOf: Map<string, string>;
  private readonly model: EdmModel;

  /** @param like parameter shapes (values are replaced by `setWeights` before each step) */
  constructor(
    readonly config: EdmConfig,
    like: Params,
  ) {
    this.order = paramOrder(like);
    this.vars = {};
    for (const k of this.order) this.vars[k] = zerosVariable(like[k], true);
    this.varList = this.order.map((k) => this.vars[k]);
    // variableGrads keys gradients by tfjs variable name, not by parameter name
    this.nameOf = new Map(this.order.map((k) => [this.vars[k].name, k]));
    this.model = makeModel(config, this.vars);
  }

  /** Load weights from a flat `paramOrder` vector. */
  setWeights(flat: Float32Array): void {
    let off = 0;
    for (const k of this.order) {
      const v = this.vars[k];
      const t = tf.tensor(flat.subarray(off, off + v.size), v.shape);
      v.assign(t);
      t.dispose();
      off += v.size;
    }
  }

  /**
   * Loss and gradient of one shard (EDM's L2 objective, `trainingLoss`).
   * @param denomN fixed atom-count denominator of the loss (the dataset's largest molecule)
   */
  compute(task: ShardTask, denomN: number): ShardResult {
    const batch = makeTrainingBatch(this.config, task.examples);
    try {
      const { value, grads } = tf.variableGrads(() => trainingLoss(this.model, batch, task.noise, denomN), this.varList);
      const loss = value.dataSync()[0];
      const byParam: Record<string, tf.Tensor> = {};
      for (const [name, g] of Object.entries(grads)) byParam[this.nameOf.get(name)!] = g;
      const grad = flatten(byParam, this.order);
      tf.dispose([value, ...Object.values(grads)]);
      return { index: task.index, loss, grad };
    } finally {
      disposeBatch(batch);
    }
  }

  /** Free the variables. */
  dispose(): void {
    tf.dispose(this.varList);
  }
}

/**
 * Combine shard results into the gradient of the batch mean: sum over shards, in shard order,
 * of (shard size / batch size) x shard gradient. Float32 arithmetic in a fixed order, so the
 * bits do not depend on which thread computed which shard.
 * @param sizes molecules per shard, by shard index
 */
export function combineShards(results: ShardResult[], sizes: number[]): StepGradient {
  const sorted = [...results].sort((a, b) => a.index - b.index);
  const total = sizes.reduce((a, b) => a + b, 0);
  const grad = new Float32Array(sorted[0].grad.length);
  let loss = 0;
  for (const r of sorted) {
    const w = Math.fround(sizes[r.index] / total);
    for (let i = 0; i < grad.length; i++) grad[i] += w * r.grad[i];
    loss += (sizes[r.index] / total) * r.loss;
  }
  return { loss, grad };
}

/** L2 norm of a flat gradient (float64 accumulation). */
export function flatNorm(grad: Float32Array): number {
  let s = 0;
  for (let i = 0; i < grad.length; i++) s += grad[i] * grad[i];
  return Math.sqrt(s);
}
