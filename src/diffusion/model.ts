/**
 * The diffusion model: schedule + network + data scaling. Training loss and evaluation NLL.
 *
 * Reference: EDM en_diffusion.py EnVariationalDiffusion (compute_loss, kl_prior,
 * log_constants_p_x_given_z0, log_pxh_given_z0_without_constants); Hoogeboom et al. 2022,
 * sections 3.2-3.3 and appendix B.
 */
import * as tf from '@tensorflow/tfjs';
import type { EdmConfig } from '../config.js';
import { featureDim } from '../config.js';
import type { Batch } from '../data/batch.js';
import { egnnDynamics, egnnDynamicsBonds } from '../egnn/egnn.js';
import type { Params } from '../egnn/params.js';
import { type MolGraph, hasFixedAtoms, positionDof } from '../graph/graph.js';
import { NoiseSchedule, alphaOf, sigmaOf, snrOf } from './schedule.js';
import { deltaLogPx, normalize } from './normalize.js';
import { projectZ } from './space.js';
import { normalCdf, perMolecule, sumExceptBatch } from './tensors.js';

/** The state the network reads and predicts: the atoms' `[B, N, 3 + F]` and, for a bond-aware model, the bonds' `[B, N, N, K]`. */
export interface StateTensors {
  atoms: tf.Tensor;
  bonds?: tf.Tensor;
}

/**
 * Another runtime's copy of the network for inference (e.g. ONNX Runtime, onnx/session.ts):
 * eps_theta of a state z_t (the atoms `[B, N, 3 + F]`, and a bond-aware model's bonds
 * `[B, N, N, K]`) at per-molecule times t on a graph, in the state's shapes. It holds its own
 * copy of the weights, so it must not be attached to a model being trained.
 */
export interface InferenceNetwork {
  epsState(z: StateTensors, t: ArrayLike<number>, graph: MolGraph): StateTensors;
  /** free what it holds (sessions) */
  close?(): void;
  /** the runtime's threads (e.g. ONNX Runtime intra-op threads), when it has its own */
  readonly threads?: number;
}

/** A model ready to run: config, schedule and weights. */
export interface EdmModel {
  config: EdmConfig;
  schedule: NoiseSchedule;
  params: Params;
  /** when set, inference (sampling, NLL) runs the network here instead of tfjs */
  inference?: InferenceNetwork;
  /** the checkpoint's element model p(h | x) (config.ts ElementModel), when it ships one */
  elements?: EdmModel;
}

/** Build a model from a config and weights. */
export function makeModel(config: EdmConfig, params: Params): EdmModel {
  return { config, schedule: NoiseSchedule.fromConfig(config.diffusion), params };
}

/**
 * eps_theta(z_t, t) of a model whose state is the atoms alone: `phiState` on `[B, N, 3 + F]`.
 * @param t per-molecule times in [0, 1]
 * @param inference no gradient will be taken (sampling, NLL): uses less memory, same values
 */
export function phi(model: EdmModel, zt: tf.Tensor, t: ArrayLike<number>, graph: MolGraph, inference = false): tf.Tensor {
  return phiState(model, { atoms: zt }, t, graph, inference).atoms;
}

/**
 * eps_theta of a whole diffusion state: the atoms' `[B, N, 3 + F]` and, for a bond-aware model,
 * the bonds' `[B, N, N, K]` (symmetric, zero off the edge mask); one call for every model (the
 * sampler, the corrector, the loss and the likelihood bound use it), EDM's network when the
 * state has no bonds. With `inference` and a model's other runtime, that runtime computes it.
 * @param t per-molecule times in [0, 1]
 * @param inference no gradient will be taken: uses less memory, same values
 */
export function phiState(model: EdmModel, z: StateTensors, t: ArrayLike<number>, graph: MolGraph, inference = false): StateTensors {
  if (inference && model.inference) return model.inference.epsState(z, t, graph);
  const tT = tf.tensor2d(Float32Array.from(t as ArrayLike<number>), [t.length, 1]);
  const input = { xh: z.atoms, t: tT, graph, inference };
  if (!z.bonds) return { atoms: egnnDynamics(model.params, model.config.dynamics, input) };
  const out = egnnDynamicsBonds(model.params, model.config.dynamics, input, z.bonds);
  return { atoms: out.eps, bonds: out.epsBonds };
}

/**
 * Normalised bonds `[B, N, N, K]`: the batch's one-hot divided by the bonds' normalisation
 * factor (as EDM's normalize divides the atom types' one-hot).
 * @throws Error when the model or the batch has no bonds
 */
export function normalizedBonds(model: EdmModel, batch: Batch): tf.Tensor {
  const cfg = model.config.diffusion.bonds;
  if (!cfg || !batch.bonds) throw new Error('normalizedBonds: a bond-aware model and a batch with bonds are needed');
  return tf.div(batch.bonds, cfg.normalizeFactor);
}

/** Normalised xh `[B, N, 3 + F]` = [x, one-hot, charge] of a batch (EDM's concatenation order). */
export function normalizedXh(model: EdmModel, batch: Batch): tf.Tensor {
  return tf.tidy(() => {
    const f = model.config.diffusion.normalizeFactors;
    const n = normalize(batch.x, batch.hCat, batch.hInt, batch.graph.nodeMask, f);
    const parts = [n.x, n.hCat];
    if (model.config.diffusion.includeCharges) parts.push(n.hInt);
    return tf.concat(parts, 2);
  });
}

/**
 * log p(h | z_0) of the discrete features, per molecule, in float64 on the host
 * (the h part of EDM log_pxh_given_z0_without_constants): integer charges under a
 * discretised Gaussian, one-hot types under normalised Gaussian bin masses.
 * @param z0h host copy of z_0's feature part `[B, N, F]` (normalised units)
 * @param gamma0 gamma of z_0 per molecule
 */
export function logPhGivenZ0(model: EdmModel, batch: Batch, z0h: Float32Array, gamma0: ArrayLike<number>): Float64Array {
  const { normalizeFactors: f, includeCharges } = model.config.diffusion;
  const K = model.config.dataset.atomDecoder.length;
  const F = featureDim(model.config);
  const B = batch.nNodes.length;
  const N = batch.graph.hostNodeMask.length / B;
  const eps = 1e-10;
  const out = new Float64Array(B);
  const logp = new Float64Array(K);
  for (let b = 0; b < B; b++) {
    const sigma0 = sigmaOf(gamma0[b]);
    const sCat = sigma0 * f[1];
    const sInt = sigma0 * f[2];
    let total = 0;
    // denoised atoms come first in a row (graph.ts); fixed atoms have no likelihood term
    for (let i = 0; i < batch.graph.nDenoised[b]; i++) {
      const a = b * N + i;
      if (includeCharges) {
        const centred = Math.round(batch.host.hInt[a]) - z0h[a * F + K] * f[2];
        total += Math.log(normalCdf((centred + 0.5) / sInt) - normalCdf((centred - 0.5) / sInt) + eps);
      }
      let maxL = -Infinity;
      for (let k = 0; k < K; k++) {
        const c = z0h[a * F + k] * f[1] - 1;
        logp[k] = Math.log(normalCdf((c + 0.5) / sCat) - normalCdf((c - 0.5) / sCat) + eps);
        maxL = Math.max(maxL, logp[k]);
      }
      let z = 0;
      for (let k = 0; k < K; k++) z += Math.exp(logp[k] - maxL);
      const logZ = maxL + Math.log(z);
      for (let k = 0; k < K; k++) total += (logp[k] - logZ) * batch.host.hCat[a * K + k];
    }
    out[b] = total;
  }
  return out;
}

/**
 * KL(q(z_T | x, h) || N(0, I)) per molecule (EDM kl_prior): the x part on the (n - 1) * 3 dim
 * CoM-free subspace (n * 3 when fixed atoms set the frame), the h part over denoised atoms.
 * @param xh normalised `[B, N, 3 + F]`
 */
export function klPrior(model: EdmModel, xh: tf.Tensor, graph: MolGraph): Float64Array {
  const gammaT = model.schedule.gammaAt(1);
  const alphaT = alphaOf(gammaT);
  const sigmaT = sigmaOf(gammaT);
  const [B, N, D] = xh.shape as number[];
  const data = xh.dataSync();
  const out = new Float64Array(B);
  const dofs = positionDof(graph);
  for (let b = 0; b < B; b++) {
    let muX2 = 0;
    let klH = 0;
    for (let i = 0; i < graph.nDenoised[b]; i++) {
      for (let d = 0; d < D; d++) {
        const mu = alphaT * data[(b * N + i) * D + d];
        if (d < 3) muX2 += mu * mu;
        else klH += Math.log(1 / sigmaT) + 0.5 * (sigmaT * sigmaT + mu * mu) - 0.5;
      }
    }
    const dof = dofs[b];
    out[b] = dof * Math.log(1 / sigmaT) + 0.5 * (dof * sigmaT * sigmaT + muX2) - 0.5 * dof + klH;
  }
  return out;
}

/**
 * -log of the Gaussian normalisation of p(x | z_0) per molecule
 * (EDM -log_constants_p_x_given_z0): -dof * (-0.5 gamma_0 - 0.5 log 2 pi), dof = (n - 1) * 3
 * for centred graphs (see `positionDof`).
 */
export function negLogConstants(model: EdmModel, graph: MolGraph): Float64Array {
  const logSigmaX = 0.5 * model.schedule.gammaAt(0);
  const dofs = positionDof(graph);
  const out = new Float64Array(dofs.length);
  for (let b = 0; b < dofs.length; b++) out[b] = -(dofs[b] * (-logSigmaX - 0.5 * Math.log(2 * Math.PI)));
  return out;
}

/** Fixed randomness of one NLL evaluation (reproducible, and comparable with the reference). */
export interface NllNoise {
  /** t_int in 1..T per molecule */
  tInt: ArrayLike<number>;
  /** `[B, N, 3 + F]` noise of z_t (position part CoM-free) */
  epsT: tf.Tensor;
  /** `[B, N, 3 + F]` noise of z_0 */
  eps0: tf.Tensor;
  /** a bond-aware model's bond noise of z_t and of z_0 `[B, N, N, K]` (symmetricPairNoise) */
  bonds?: { epsT: tf.Tensor; eps0: tf.Tensor };
}

/** Terms of the variational bound per molecule, in nats. */
export interface NllTerms {
  /** -log p(x, h) estimate, including the position-scaling log-determinant */
  negLogPxh: Float64Array;
  klPrior: Float64Array;
  negLogConstants: Float64Array;
  /** T * L_t, the weighted t > 0 diffusion term */
  lossT: Float64Array;
  /** -log p(x, h | z_0) without constants */
  loss0: Float64Array;
  /** a bond-aware model's share of the terms above (pairs i < j): KL prior, T L_t, -log p(e | z_0) */
  bonds?: { klPrior: Float64Array; lossT: Float64Array; loss0: Float64Array };
}

/**
 * The bonds' likelihood terms per molecule over the unordered pairs i < j of denoised atoms (a
 * bond is one variable; its K channels are the dimensions): KL(q(e_T | e) || N(0, I)), the
 * squared eps error of t (times T 0.5 (SNR(s - t) - 1) by the caller) and -log p(e | z_0), the
 * one-hot bonds (the batch's host copy) under normalised Gaussian bin masses of z_0 (as
 * logPhGivenZ0 scores atom types).
 * @param errT squared eps error of the bonds at t, z0 the bonds' z_0 (normalised): host `[B, N, N, K]`
 */
export function bondTerms(model: EdmModel, batch: Batch, errT: Float32Array, z0: Float32Array): { klPrior: Float64Array; errT: Float64Array; loss0: Float64Array } {
  const bc = model.config.diffusion.bonds!;
  const oneHot = batch.host.bonds;
  if (!oneHot) throw new Error('bondTerms: the batch has no bonds (made without bond classes)');
  const K = bc.classes;
  const B = batch.nNodes.length;
  const N = batch.graph.hostNodeMask.length / B;
  const gammaT = model.schedule.gammaAt(1);
  const alphaT = alphaOf(gammaT);
  const sigmaT = sigmaOf(gammaT);
  const s0 = sigmaOf(model.schedule.gammaAt(0)) * bc.normalizeFactor;
  const out = { klPrior: new Float64Array(B), errT: new Float64Array(B), loss0: new Float64Array(B) };
  const logp = new Float64Array(K);
  for (let b = 0; b < B; b++) {
    const n = batch.graph.nDenoised[b];
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        const at = ((b * N + i) * N + j) * K;
        let maxL = -Infinity;
        for (let k = 0; k < K; k++) {
          const mu = (alphaT * oneHot[at + k]) / bc.normalizeFactor;
          out.klPrior[b] += Math.log(1 / sigmaT) + 0.5 * (sigmaT * sigmaT + mu * mu) - 0.5;
          out.errT[b] += errT[at + k];
          const c = z0[at + k] * bc.normalizeFactor - 1;
          logp[k] = Math.log(normalCdf((c + 0.5) / s0) - normalCdf((c - 0.5) / s0) + 1e-10);
          maxL = Math.max(maxL, logp[k]);
        }
        let z = 0;
        for (let k = 0; k < K; k++) z += Math.exp(logp[k] - maxL);
        const logZ = maxL + Math.log(z);
        for (let k = 0; k < K; k++) if (oneHot[at + k] > 0) out.loss0[b] -= logp[k] - logZ;
      }
    }
  }
  return out;
}

/**
 * Evaluation negative log-likelihood with the t0_always estimator (EDM compute_loss with
 * t0_always=True, eval mode): kl_prior + T * 0.5 (SNR(s - t) - 1) ||eps - eps_theta||^2
 * + neg_log_constants - log p(x, h | z_0) - delta_log_px. Hoogeboom et al. 2022, eq. 7-8.
 */
export function nll(model: EdmModel, batch: Batch, noise: NllNoise): NllTerms {
  const T = model.schedule.timesteps;
  const B = batch.nNodes.length;
  const f = model.config.diffusion.normalizeFactors;
  let out: NllTerms | undefined;
  tf.tidy(() => {
    const xh = normalizedXh(model, batch);
    const gT: number[] = [];
    const gS: number[] = [];
    const t: number[] = [];
    for (let b = 0; b < B; b++) {
      t.push(noise.tInt[b] / T);
      gT.push(model.schedule.gammaAt(noise.tInt[b] / T));
      gS.push(model.schedule.gammaAt((noise.tInt[b] - 1) / T));
    }
    // fixed context atoms (a pocket) are given as they are, never noised: the bound is that of
    // the denoised atoms given them (their eps and eps_theta are zero)
    const given = (z: tf.Tensor): tf.Tensor => (hasFixedAtoms(batch.graph) ? projectZ(z, batch.graph, xh) : z);
    const zt = given(tf.add(tf.mul(perMolecule(gT.map(alphaOf)), xh), tf.mul(perMolecule(gT.map(sigmaOf)), noise.epsT)));
    const g0 = model.schedule.gammaAt(0);
    const z0 = given(tf.add(tf.mul(alphaOf(g0), xh), tf.mul(sigmaOf(g0), noise.eps0)));
    const zeros = new Array(B).fill(0);
    // a bond-aware model's bonds are the state's other part, noised the same way: e_t and e_0
    let bonds: { eT: tf.Tensor; e0: tf.Tensor; epsT: tf.Tensor } | undefined;
    if (model.config.diffusion.bonds && noise.bonds) {
      const e = normalizedBonds(model, batch);
      bonds = {
        eT: tf.add(tf.mul(perMolecule(gT.map(alphaOf), 4), e), tf.mul(perMolecule(gT.map(sigmaOf), 4), noise.bonds.epsT)),
        e0: tf.add(tf.mul(alphaOf(g0), e), tf.mul(sigmaOf(g0), noise.bonds.eps0)),
        epsT: noise.bonds.epsT,
      };
    }
    const outT = phiState(model, { atoms: zt, ...(bonds ? { bonds: bonds.eT } : {}) }, t, batch.graph, true);
    const netT = outT.atoms;
    const net0 = phiState(model, { atoms: z0, ...(bonds ? { bonds: bonds.e0 } : {}) }, zeros, batch.graph, true).atoms;
    const bt = bonds && bondTerms(model, batch, tf.square(tf.sub(bonds.epsT, outT.bonds!)).dataSync() as Float32Array, bonds.e0.dataSync() as Float32Array);
    const errT = sumExceptBatch(tf.square(tf.sub(noise.epsT, netT))).dataSync();
    const [, N, D] = xh.shape as number[];
    const errX0 = sumExceptBatch(
      tf.square(tf.sub(tf.slice(noise.eps0, [0, 0, 0], [B, N, 3]), tf.slice(net0, [0, 0, 0], [B, N, 3]))),
    ).dataSync();
    const logPh = logPhGivenZ0(model, batch, tf.slice(z0, [0, 0, 3], [B, N, D - 3]).dataSync() as Float32Array, zeros.map(() => g0));
    const kl = klPrior(model, xh, batch.graph);
    const nlc = negLogConstants(model, batch.graph);
    const dlp = deltaLogPx(batch.graph.nDenoised, f[0], batch.graph.centred);
    out = {
      negLogPxh: new Float64Array(B),
      klPrior: kl,
      negLogConstants: nlc,
      lossT: new Float64Array(B),
      loss0: new Float64Array(B),
    };
    if (bt) out.bonds = { klPrior: bt.klPrior, lossT: new Float64Array(B), loss0: bt.loss0 };
    for (let b = 0; b < B; b++) {
      const weightT = T * 0.5 * (snrOf(gS[b] - gT[b]) - 1);
      if (bt) out.bonds!.lossT[b] = weightT * bt.errT[b];
      out.lossT[b] = weightT * errT[b] + (bt ? out.bonds!.lossT[b] : 0);
      out.loss0[b] = 0.5 * errX0[b] - logPh[b] + (bt ? bt.loss0[b] : 0);
      kl[b] += bt ? bt.klPrior[b] : 0;
      out.negLogPxh[b] = kl[b] + out.lossT[b] + nlc[b] + out.loss0[b] - dlp[b];
    }
  });
  return out!;
}
