/**
 * One optimiser step of EDM's training (train_test.train_epoch): the batch's shards' gradients
 * of the L2 loss, EDM's adaptive clipping, AdamW, then the EMA of the weights. A step whose loss
 * or gradient is not finite changes nothing.
 */
import * as tf from '@tensorflow/tfjs';
import type { TrainingExample } from '../data/examples.js';
import type { LossWeighting } from '../diffusion/loss.js';
import type { EdmModel } from '../diffusion/model.js';
import type { Rng } from '../random.js';
import type { GradientEngine } from './grad-pool.js';
import { combineShards, flatNorm, flatten, makeShardTasks, unflatten } from './gradients.js';
import { type GradNormQueue, updateEma } from './optimizer.js';
import type { RunWeights } from './state.js';

/** What every step of a run shares. */
export interface StepContext {
  /** the model over the raw weights (its config fixes the noise layout) */
  model: EdmModel;
  weights: RunWeights;
  /** parameter order of flat weight and gradient vectors */
  order: string[];
  engine: GradientEngine;
  /** fixed atom-count denominator of the loss (the dataset's largest molecule) */
  denomN: number;
  shards: number;
  clipGrad: boolean;
  emaDecay: number;
  /** gradient-norm history of EDM's adaptive clipping (updated by the step) */
  queue: GradNormQueue;
  /** noise stream of the run (each step draws its t and eps from it) */
  noiseRng: Rng;
  /** loss weighting over t */
  lossWeighting: LossWeighting;
}

/** What a step did. */
export interface StepOutcome {
  /** mean loss over the batch */
  loss: number;
  /** gradient norm before clipping */
  gradNorm: number;
  /** false when the loss or gradient was not finite and nothing was updated */
  applied: boolean;
}

/**
 * One training step on a batch of molecules or complexes.
 * @param lr the learning rate of this update (the run's schedule at this step)
 * @throws UserError when a gradient worker fails; tensors made here are freed in any case
 */
export async function trainStep(ctx: StepContext, examples: TrainingExample[], lr: number): Promise<StepOutcome> {
  const { raw, ema, optimizer } = ctx.weights;
  const tasks = makeShardTasks(ctx.model, examples, ctx.shards, ctx.noiseRng, ctx.lossWeighting);
  const results = await ctx.engine.compute(flatten(raw, ctx.order), tasks, ctx.denomN);
  const { loss, grad } = combineShards(
    results,
    tasks.map((t) => t.examples.length),
  );
  const gradNorm = flatNorm(grad);
  if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) return { loss, gradNorm, applied: false };
  if (ctx.clipGrad) {
    const maxNorm = ctx.queue.maxNorm();
    if (gradNorm > maxNorm) {
      const scale = maxNorm / (gradNorm + 1e-6);
      for (let i = 0; i < grad.length; i++) grad[i] *= scale;
    }
    ctx.queue.add(Math.min(gradNorm, maxNorm));
  }
  const grads = unflatten(grad, raw, ctx.order);
  try {
    optimizer.apply(grads, lr);
  } finally {
    tf.dispose(Object.values(grads));
  }
  updateEma(ema, raw, ctx.emaDecay);
  return { loss, gradNorm, applied: true };
}
