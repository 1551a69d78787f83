/**
 * Inpainting with an unconditional model (RePaint, Lugmayr et al. 2022; used for fragment growing
 * by DiffSBDD, Schneuing et al. 2024, section 3.4): after each reverse step the known atoms are
 * replaced by a sample of q(z_s | known values), moved by a translation onto the model's current
 * copy of them (positions are only known up to a translation in the centre-of-mass-free frame),
 * and each step can be repeated after re-noising z_s back to t ("jumps", RePaint's resampling).
 */
import * as tf from '@tensorflow/tfjs';
import { featureDim } from '../config.js';
import type { MolGraph } from '../graph/graph.js';
import type { EdmModel } from './model.js';
import { type NoiseSource, combinedNoise } from './noise.js';
import { alphaOf, sigmaOf, transition } from './schedule.js';

/** Known atoms of a batch. */
export interface InpaintSpec {
  /** `[B * N]` 1 for known atoms */
  known: Float32Array;
  /** `[B, N, 3 + F]` normalised values of the known atoms (positions in any frame), row-major */
  xh: Float32Array;
  /** times each step is taken (RePaint's resampling; default 1: no resampling) */
  jumps?: number;
}

/** The known atoms as tensors, made once per chain: mask `[B, N, 1]`, values `[B, N, 3 + F]`. */
export interface KnownAtoms {
  mask: tf.Tensor3D;
  xh: tf.Tensor3D;
}

/** Upload a spec's known atoms (the caller disposes them when the chain ends). */
export function knownAtoms(spec: InpaintSpec, B: number, N: number, D: number): KnownAtoms {
  return { mask: tf.tensor3d(spec.known, [B, N, 1]), xh: tf.tensor3d(spec.xh, [B, N, D]) };
}

/** Mean of the position part over the atoms with weight 1: `[B, N, D]`, `[B, N, 1]` -> `[B, 1, 3]`. */
function maskedMeanX(z: tf.Tensor, w: tf.Tensor): tf.Tensor {
  const [B, N] = z.shape as number[];
  const x = tf.slice(z, [0, 0, 0], [B, N, 3]);
  return tf.div(tf.sum(tf.mul(x, w), 1, true), tf.maximum(tf.sum(w, 1, true), 1));
}

/**
 * z_s with the known atoms replaced by alpha_s x_known + sigma_s eps, translated so that their
 * centroid is the model's current centroid of those atoms. The caller re-projects the result.
 * @param zs `[B, N, 3 + F]`; s the time of zs
 */
export function combineKnown(model: EdmModel, zs: tf.Tensor, s: number, known: KnownAtoms, graph: MolGraph, rng: NoiseSource): tf.Tensor {
  const [B, N, D] = zs.shape as number[];
  const eps = combinedNoise(rng, graph.nDenoised, N, featureDim(model.config), graph.centred);
  return tf.tidy(() => {
    const g = model.schedule.gammaAt(s);
    const w = known.mask;
    const zKnown = tf.add(tf.mul(alphaOf(g), known.xh), tf.mul(sigmaOf(g), tf.tensor3d(eps, [B, N, D])));
    const shift = tf.sub(maskedMeanX(zs, w), maskedMeanX(zKnown, w)); // [B, 1, 3]
    const moved = tf.add(zKnown, tf.concat([shift, tf.zeros([B, 1, D - 3])], 2));
    return tf.add(tf.mul(moved, w), tf.mul(zs, tf.sub(1, w)));
  });
}

/**
 * Re-noise z_s back to t: z_t = alpha_t|s z_s + sigma_t|s eps (q(z_t | z_s), EDM's transition),
 * eps centre-of-mass free like every noise of the graph.
 */
export function renoise(model: EdmModel, zs: tf.Tensor, s: number, t: number, graph: MolGraph, rng: NoiseSource): tf.Tensor {
  const [B, N, D] = zs.shape as number[];
  const tr = transition(model.schedule.gammaAt(t), model.schedule.gammaAt(s));
  const eps = combinedNoise(rng, graph.nDenoised, N, featureDim(model.config), graph.centred);
  return tf.tidy(() => tf.mul(tf.add(tf.mul(tr.alpha, zs), tf.mul(tr.sigma, tf.tensor3d(eps, [B, N, D]))), graph.nodeMask));
}
