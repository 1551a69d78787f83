/**
 * The training objective: L2 on eps (EDM compute_loss with t0_always=False, training mode,
 * loss_type 'l2'; Hoogeboom et al. 2022, eq. 9 with w(t) = 1), optionally weighted over t
 * (min-SNR-gamma, Hang et al. 2023) to train faster; the likelihood bound (NLL) is unweighted.
 */
import * as tf from '@tensorflow/tfjs';
import { bondClasses, featureDim } from '../config.js';
import type { Batch } from '../data/batch.js';
import type { Rng } from '../random.js';
import { type EdmModel, normalizedBonds, normalizedXh, phiState } from './model.js';
import { hasFixedAtoms } from '../graph/graph.js';
import { projectZ } from './space.js';
import { combinedNoise, symmetricPairNoise } from './noise.js';
import { alphaOf, sigmaOf, snrOf } from './schedule.js';
import { perMolecule } from './tensors.js';

/** Randomness of one training step, drawn on the host so a seeded run is reproducible. */
export interface StepNoise {
  tInt: Int32Array;
  eps: Float32Array;
  /** per-molecule loss weight w(t) `[B]` (absent: 1, EDM's uniform weighting) */
  weight?: Float32Array;
  /** a bond-aware model's bond noise `[B, N, N, K]` (symmetric, see symmetricPairNoise) */
  bondEps?: Float32Array;
}

/**
 * How the eps loss is weighted over t: `uniform` is EDM's (w = 1); `min-snr` is min-SNR-gamma
 * (Hang et al. 2023, eq. 11 for an eps loss): w(t) = min(SNR(t), gamma) / SNR(t), which takes
 * weight off the low-noise steps whose eps error says little about x.
 */
export type LossWeighting = { kind: 'uniform' } | { kind: 'min-snr'; gamma: number };

/** EDM's weighting. */
export const UNIFORM_WEIGHTING: LossWeighting = { kind: 'uniform' };

/**
 * The loss weight w(t) of a diffusion time under a weighting.
 * @param gamma the schedule's gamma(t) (SNR = exp(-gamma))
 * @returns w in (0, 1]
 */
export function lossWeightAt(weighting: LossWeighting, gamma: number): number {
  if (weighting.kind === 'uniform') return 1;
  // min(SNR, g) / SNR written as min(1, g / SNR), finite for any SNR
  return Math.min(1, weighting.gamma / snrOf(gamma));
}

/**
 * Draw t ~ U{0..T} per molecule and eps (CoM-free positions), then a bond-aware model's bond
 * noise, in that order; the loss weights follow from t (no randomness), so a weighting never
 * changes the random stream.
 */
export function drawStepNoise(model: EdmModel, batch: Batch, rng: Rng, weighting: LossWeighting = UNIFORM_WEIGHTING): StepNoise {
  const B = batch.nNodes.length;
  const N = batch.graph.hostNodeMask.length / B;
  const T = model.schedule.timesteps;
  const tInt = new Int32Array(B);
  // an element model sees only the late chain's position noise (config.ts ElementModel)
  // a property regressor reads clean molecules (t = 0)
  const tTop = model.config.regressor ? 0 : model.config.elementModel ? Math.round(model.config.elementModel.tMax * T) : T;
  for (let b = 0; b < B; b++) tInt[b] = rng.int(0, tTop);
  const eps = combinedNoise(rng, batch.graph.nDenoised, N, featureDim(model.config), batch.graph.centred);
  const K = bondClasses(model.config);
  const bonds = K > 0 ? { bondEps: symmetricPairNoise(rng, batch.graph.nDenoised, N, K) } : {};
  if (weighting.kind === 'uniform') return { tInt, eps, ...bonds };
  return { tInt, eps, weight: Float32Array.from(tInt, (k) => lossWeightAt(weighting, model.schedule.gammaAt(k / T))), ...bonds };
}

/** What the L2 objective compares, for one batch and its noise. */
export interface LossInputs {
  /** `[B, N, 3 + F]` noised normalised data z_t (fixed atoms as given) */
  zt: tf.Tensor;
  /** `[B, N, 3 + F]` the noise eps_theta must predict */
  eps: tf.Tensor;
  /** per-molecule times t in [0, 1] */
  t: number[];
  /** `[B, 1, 3 + F]` the molecule's w(t), except 0 on the feature channels of rows with t = 0 */
  channelWeight: tf.Tensor;
  /** a bond-aware model's bonds: noisy state z_t, target noise (`[B, N, N, K]`) and weight `[B, 1, 1, K]` (w(t) times the bonds' loss weight, 0 at t = 0 as the features) */
  bonds?: { zt: tf.Tensor; eps: tf.Tensor; weight: tf.Tensor };
}

/**
 * Denominator of the bonds' loss term per molecule: K channels of denomN (denomN - 1) ordered
 * pairs, as the atoms' term divides by (3 + F) denomN: both are per-channel means.
 */
export const bondDenominator = (K: number, denomN: number): number => K * denomN * Math.max(1, denomN - 1);

/**
 * z_t = alpha_t x + sigma_t eps (EDM compute_loss), the target eps, t and the channel weights of a
 * batch (tensors; the caller owns the tidy scope).
 */
export function lossInputs(model: EdmModel, batch: Batch, noise: StepNoise): LossInputs {
  const T = model.schedule.timesteps;
  const B = batch.nNodes.length;
  const N = batch.graph.hostNodeMask.length / B;
  const D = 3 + featureDim(model.config);
  const xh = normalizedXh(model, batch);
  const g = Array.from(noise.tInt, (k) => model.schedule.gammaAt(k / T));
  const eps = tf.tensor3d(noise.eps, [B, N, D]);
  if (model.config.elementModel) return elementInputs(model, xh, eps, g, noise);
  if (model.config.regressor) return regressorInputs(batch, xh, noise);
  let zt = tf.add(tf.mul(perMolecule(g.map(alphaOf)), xh), tf.mul(perMolecule(g.map(sigmaOf)), eps));
  // fixed context atoms (pocket) are given as they are, never noised
  if (hasFixedAtoms(batch.graph)) zt = projectZ(zt, batch.graph, xh);
  const t = Array.from(noise.tInt, (k) => k / T);
  // rows with t = 0 count only their position dims (their h term is constant in the weights)
  const w = noise.weight ?? new Float32Array(B).fill(1);
  const hWeight = Float32Array.from(noise.tInt, (k, b) => (k === 0 ? 0 : w[b]));
  const channelWeight = tf.concat([tf.mul(perMolecule(w), tf.ones([1, 1, 3])), tf.mul(perMolecule(hWeight), tf.ones([1, 1, D - 3]))], 2);
  const bc = model.config.diffusion.bonds;
  if (!bc || !noise.bondEps) return { zt, eps, t, channelWeight };
  const K = bc.classes;
  const e = normalizedBonds(model, batch);
  const bondEps = tf.tensor4d(noise.bondEps, [B, N, N, K]);
  const bondZt = tf.add(tf.mul(perMolecule(g.map(alphaOf), 4), e), tf.mul(perMolecule(g.map(sigmaOf), 4), bondEps));
  const weight = tf.mul(perMolecule(Array.from(hWeight, (v) => v * bc.lossWeight), 4), tf.ones([1, 1, 1, K]));
  return { zt, eps, t, channelWeight, bonds: { zt: bondZt, eps: bondEps, weight } };
}

/**
 * An element model's objective (config.ts ElementModel): positions noised as z_t's position part,
 * features zeroed (the model reads geometry alone); the target of the feature channels is the
 * clean normalised features, each channel weighted by its normalisation factor squared so that a
 * one-hot error counts in one-hot units (a Brier score per atom); the position channels weigh 0.
 */
function elementInputs(model: EdmModel, xh: tf.Tensor, eps: tf.Tensor, g: number[], noise: StepNoise): LossInputs {
  const T = model.schedule.timesteps;
  const [B, N, D] = xh.shape as [number, number, number];
  const F = D - 3;
  const x = tf.slice(xh, [0, 0, 0], [B, N, 3]);
  const zx = tf.add(tf.mul(perMolecule(g.map(alphaOf)), x), tf.mul(perMolecule(g.map(sigmaOf)), tf.slice(eps, [0, 0, 0], [B, N, 3])));
  const zt = tf.concat([zx, tf.zeros([B, N, F])], 2);
  const target = tf.concat([tf.zeros([B, N, 3]), tf.slice(xh, [0, 0, 3], [B, N, F])], 2);
  const [, oneHotFactor, chargeFactor] = model.config.diffusion.normalizeFactors;
  const classes = model.config.dataset.atomDecoder.length;
  const perChannel = Array.from({ length: D }, (_, c) => (c < 3 ? 0 : c < 3 + classes ? oneHotFactor ** 2 : chargeFactor ** 2));
  const w = noise.weight ?? new Float32Array(B).fill(1);
  const channelWeight = tf.mul(perMolecule(w), tf.tensor3d(perChannel, [1, 1, D]));
  return { zt, eps: target, t: Array.from(noise.tInt, (k) => k / T), channelWeight };
}

/**
 * A property regressor's objective (config.ts PropertyRegressor): the clean molecule at t = 0; the
 * target of every real atom's first feature channel is the molecule's normalised value, every
 * other channel weighs 0, so the L2 graph fits each atom's reading of the whole molecule.
 * @throws Error when the batch has no targets (made for another model)
 */
function regressorInputs(batch: Batch, xh: tf.Tensor, noise: StepNoise): LossInputs {
  if (!batch.targets) throw new Error('a property regressor trains on batches with targets (makeTrainingBatch)');
  const [B, N, D] = xh.shape as [number, number, number];
  const nodeMask = tf.reshape(batch.graph.nodeMask, [B, N, 1]);
  const target = tf.concat([tf.zeros([B, N, 3]), tf.mul(nodeMask, perMolecule(batch.targets)), tf.zeros([B, N, D - 4])], 2);
  const w = noise.weight ?? new Float32Array(B).fill(1);
  const channelWeight = tf.mul(perMolecule(w), tf.tensor3d(Array.from({ length: D }, (_, c) => (c === 3 ? 1 : 0)), [1, 1, D]));
  return { zt: xh, eps: target, t: new Array<number>(B).fill(0), channelWeight };
}

/**
 * Mean training loss of a batch (differentiable w.r.t. the model's parameters).
 *
 * For t > 0: 0.5 w(t) ||eps - eps_theta(z_t, t)||^2 / ((3 + F) * denomN), w from `noise.weight`
 * (1 by default). For t = 0 (EDM keeps it in the L2 objective): -log p(x, h | z_0) without
 * constants, whose x part is the same L2 on the position dims and whose h part does not depend
 * on the weights.
 *
 * `denomN` replaces EDM's padded atom count (eps.shape[1]): our batches are grouped by size, so
 * padding varies; a fixed denominator (the dataset's max atom count, 29 for QM9, close to
 * EDM's usual batch padding) keeps EDM's weighting of molecules of different sizes.
 * A bond-aware model adds the bonds' term: 0.5 w(t) lossWeight ||eps_e - eps_theta,e||^2 over
 * ordered pairs and K channels, divided by bondDenominator (0 for rows with t = 0, as the features).
 * @returns scalar loss; the caller wraps it in `variableGrads`
 */
export function trainingLoss(model: EdmModel, batch: Batch, noise: StepNoise, denomN: number): tf.Scalar {
  const D = 3 + featureDim(model.config);
  const { zt, eps, t, channelWeight, bonds } = lossInputs(model, batch, noise);
  const out = phiState(model, { atoms: zt, ...(bonds ? { bonds: bonds.zt } : {}) }, t, batch.graph);
  const sq = tf.square(tf.sub(eps, out.atoms)); // [B, N, D]
  let perRow = tf.div(tf.sum(tf.mul(sq, channelWeight), [1, 2]), D * denomN);
  if (bonds && out.bonds) {
    const K = bonds.eps.shape[3]!;
    const sqBonds = tf.square(tf.sub(bonds.eps, out.bonds)); // [B, N, N, K]
    perRow = tf.add(perRow, tf.div(tf.sum(tf.mul(sqBonds, bonds.weight), [1, 2, 3]), bondDenominator(K, denomN)));
  }
  return tf.mul(0.5, tf.mean(perRow)) as tf.Scalar;
}
