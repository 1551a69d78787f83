/**
 * An element model p(h | x) at work (config.ts ElementModel; issue 40): each atom's features
 * predicted from positions alone, and turned into hard types.
 */
import * as tf from '@tensorflow/tfjs';
import { featureDim } from '../config.js';
import { ATOMIC_NUMBER } from '../data/batch.js';
import { type EdmModel, phi } from './model.js';
import type { MolGraph } from '../graph/graph.js';

/**
 * The element model's predicted clean features from positions.
 * @param model an element model (config.elementModel set)
 * @param zx `[B, N, 3]` positions in normalised units, noised at most as at `t`
 * @param t per-molecule diffusion times in [0, 1] whose position noise `zx` carries
 * @returns `[B, N, F]` predicted normalised features (one-hot / factor, then charge / factor)
 * @throws Error when `model` is not an element model
 */
export function predictFeatures(model: EdmModel, zx: tf.Tensor, t: ArrayLike<number>, graph: MolGraph): tf.Tensor {
  if (!model.config.elementModel) throw new Error('predictFeatures: the model is a noise predictor, not an element model');
  return tf.tidy(() => {
    const [B, N] = zx.shape as [number, number, number];
    const F = featureDim(model.config);
    const out = phi(model, tf.concat([zx, tf.zeros([B, N, F])], 2), t, graph, true);
    return tf.slice(out, [0, 0, 3], [B, N, F]);
  });
}

/**
 * The most likely class of each of `count` rows of predicted features (argmax over the K one-hot
 * channels of rows F wide).
 * @param pred host copy of `[count, F]` predicted features
 */
export function predictedClasses(pred: Float32Array, F: number, K: number, count = pred.length / F): Int32Array {
  const out = new Int32Array(count);
  for (let a = 0; a < count; a++) {
    let best = 0;
    for (let k = 1; k < K; k++) if (pred[a * F + k] > pred[a * F + best]) best = k;
    out[a] = best;
  }
  return out;
}

/**
 * Each class's atomic number (QM9's integer "charge"), 0 when the model has no charge channel.
 * @throws Error for an element without a known atomic number when charges are features
 */
export function classCharges(model: EdmModel): number[] {
  const { atomDecoder } = model.config.dataset;
  const withCharges = featureDim(model.config) > atomDecoder.length;
  return atomDecoder.map((e) => {
    const z = ATOMIC_NUMBER[e];
    if (z === undefined && withCharges) throw new Error(`element model: no atomic number known for ${e}`);
    return withCharges ? (z ?? 0) : 0;
  });
}

/**
 * Hard features of given classes: the class's one-hot and its atomic number, both normalised as
 * the diffusion's features, so that the sampler's decoding reads exactly that element.
 * @param classes `[B * N]` class indices (predictedClasses)
 * @returns `[B * N, F]` normalised features
 */
export function hardFeatures(model: EdmModel, classes: Int32Array): Float32Array {
  const K = model.config.dataset.atomDecoder.length;
  const F = featureDim(model.config);
  const [, oneHotFactor, chargeFactor] = model.config.diffusion.normalizeFactors;
  const charges = classCharges(model);
  const out = new Float32Array(classes.length * F);
  classes.forEach((k, a) => {
    out[a * F + k] = 1 / oneHotFactor;
    if (F > K) out[a * F + K] = charges[k] / chargeFactor;
  });
  return out;
}
