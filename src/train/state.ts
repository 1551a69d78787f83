/**
 * The training state of a run and its checkpoint form: the raw weights, their EMA, the AdamW
 * moments (tensors named `param/…`, `m/…`, `v/…`, `vmax/…` in `train-state-*.bin`), and the
 * JSON rest (step, position in the epoch, RNG states, clipping history). This module alone
 * knows those names.
 */
import * as tf from '@tensorflow/tfjs';
import type { Params } from '../egnn/params.js';
import { CheckpointError } from '../errors.js';
import type { RngState } from '../random.js';
import type { LossWeighting } from '../diffusion/loss.js';
import type { LrSchedule } from './lr-schedule.js';
import { AdamW } from './optimizer.js';

/** The JSON part of the training state (`state` of the checkpoint's train state). */
export interface SavedState {
  step: number;
  epoch: number;
  /** next batch of the epoch */
  batchIndex: number;
  /** data RNG at the start of the epoch (its batches are drawn again on resume) */
  epochRng: RngState;
  noiseRng: RngState;
  seed: number;
  /** EDM's gradient-norm queue for adaptive clipping */
  gradNorms: number[];
  /** skipped non-finite steps */
  nanSteps: number;
  optimizerStep: number;
  wallTimeSeconds: number;
  /** CPU time of training (all threads, curve probes excluded); absent in early checkpoints */
  cpuSeconds?: number;
  moleculesSeen: number;
  /** the recipe; kept on resume (early checkpoints have no shard count) */
  options: RecipeOptions;
  /**
   * where gradients were computed: tfjs (threads = gradient workers) or ONNX Runtime (intra-op
   * threads). Neither thread count changes the bits; the engine does (float32 rounding).
   * Absent in early checkpoints.
   */
  compute?: { engine: 'tfjs' | 'onnx'; threads: number };
  /** the training set: its size and fingerprint (train/data.ts trainingSetDigest); absent in early checkpoints */
  data?: { molecules: number; digest: string };
}

/** What a resumed run keeps from the run that wrote the checkpoint. */
export interface RecipeOptions {
  batchSize: number;
  /** AdamW's learning rate (the peak of a cosine schedule) */
  lr: number;
  emaDecay: number;
  clipGrad: boolean;
  shards?: number;
  /** loss weighting over t (absent in older checkpoints: uniform, EDM's) */
  lossWeighting?: LossWeighting;
  /** learning-rate schedule (absent in older checkpoints: constant, EDM's) */
  lrSchedule?: LrSchedule;
}

/** Weights being trained, their EMA and the optimiser: the tensors of a run. */
export interface RunWeights {
  raw: Record<string, tf.Variable>;
  ema: Record<string, tf.Variable>;
  optimizer: AdamW;
}

const PREFIXES = ['param', 'm', 'v', 'vmax'] as const;

function toVariables(p: Params, trainable: boolean): Record<string, tf.Variable> {
  const out: Record<string, tf.Variable> = {};
  for (const [k, t] of Object.entries(p)) out[k] = tf.variable(t, trainable);
  return out;
}

/** Fresh run tensors from initial parameters (the caller keeps and disposes `init`). */
export function freshWeights(init: Params, lr: number): RunWeights {
  const raw = toVariables(init, true);
  return { raw, ema: toVariables(init, false), optimizer: new AdamW(raw, { lr }) };
}

/**
 * Run tensors from a checkpoint: EMA weights and its training-state tensors.
 * @param dir the checkpoint folder, for error messages
 * @throws CheckpointError when a training-state tensor is missing
 */
export function restoreWeights(dir: string, ema: Params, tensors: Record<string, tf.Tensor>, state: SavedState): RunWeights {
  for (const prefix of PREFIXES) {
    for (const k of Object.keys(ema)) {
      if (!tensors[`${prefix}/${k}`]) throw new CheckpointError(`${dir}: training state lacks ${prefix}/${k}`);
    }
  }
  const raw = toVariables(Object.fromEntries(Object.keys(ema).map((k) => [k, tensors[`param/${k}`]])), true);
  const optimizer = new AdamW(raw, { lr: state.options.lr });
  for (const k of Object.keys(raw)) {
    optimizer.m[k].assign(tensors[`m/${k}`]);
    optimizer.v[k].assign(tensors[`v/${k}`]);
    optimizer.vmax[k].assign(tensors[`vmax/${k}`]);
  }
  optimizer.step = state.optimizerStep;
  return { raw, ema: toVariables(ema, false), optimizer };
}

/**
 * Pad a weight with zeros at the end of each axis: appended rows read new input channels with no
 * effect yet, appended columns (and bias entries) write new output channels that are dropped
 * (the context channels of `embedding_out`).
 * @throws CheckpointError when `t` cannot grow into `shape` that way
 */
export function padWithZeros(name: string, t: tf.Tensor | undefined, shape: number[]): tf.Tensor {
  if (!t) throw new CheckpointError(`${name}: missing from the parent checkpoint`);
  if (t.shape.join() === shape.join()) return t.clone();
  if (t.rank !== shape.length || t.shape.some((d, i) => d > shape[i])) throw new CheckpointError(`${name}: [${t.shape}] cannot grow into [${shape}]`);
  return tf.pad(t, t.shape.map((d, i) => [0, shape[i] - d] as [number, number]));
}

/**
 * A run's tensors for a larger network (e.g. EDM's network turned bond-aware, `edm train --from
 * PLAIN --bonds`): every parameter of `shapes` is the run's own when its shape is unchanged,
 * the run's own with zero rows appended when it reads new input channels (so the network computes
 * what it did), or `init`'s when it is new; the moments of what is new are zero and the
 * optimiser's step count is kept. Frees `w`; the caller keeps `init`.
 * @throws CheckpointError when a parameter cannot grow into its new shape
 */
export function growWeights(w: RunWeights, shapes: Map<string, number[]>, init: Params, lr: number): RunWeights {
  const grown = (from: Record<string, tf.Tensor>, fresh: (k: string, shape: number[]) => tf.Tensor): Params =>
    Object.fromEntries([...shapes].map(([k, shape]) => [k, from[k] ? padWithZeros(k, from[k], shape) : fresh(k, shape)]));
  const raw = grown(w.raw, (k) => init[k].clone());
  const ema = grown(w.ema, (k) => init[k].clone());
  const moments = (['m', 'v', 'vmax'] as const).map((key) => grown(w.optimizer[key], (_, shape) => tf.zeros(shape)));
  try {
    const out = freshWeights(raw, lr);
    for (const k of shapes.keys()) {
      out.ema[k].assign(ema[k]);
      out.optimizer.m[k].assign(moments[0][k]);
      out.optimizer.v[k].assign(moments[1][k]);
      out.optimizer.vmax[k].assign(moments[2][k]);
    }
    out.optimizer.step = w.optimizer.step;
    return out;
  } finally {
    tf.dispose([...Object.values(raw), ...Object.values(ema), ...moments.flatMap((m) => Object.values(m))]);
    disposeWeights(w);
  }
}

/** The training-state tensors of a run under their checkpoint names (not copies). */
export function stateTensors(w: RunWeights): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  const source = { param: w.raw, m: w.optimizer.m, v: w.optimizer.v, vmax: w.optimizer.vmax };
  for (const prefix of PREFIXES) for (const k of Object.keys(w.raw)) out[`${prefix}/${k}`] = source[prefix][k];
  return out;
}

/** Free every tensor of a run. */
export function disposeWeights(w: RunWeights): void {
  tf.dispose([...Object.values(w.raw), ...Object.values(w.ema), ...Object.values(w.optimizer.m), ...Object.values(w.optimizer.v), ...Object.values(w.optimizer.vmax)]);
}
