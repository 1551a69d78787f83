/**
 * Ancestral sampling: z_T ~ N(0, I) (CoM-free positions), p(z_s | z_t) down to z_0, then
 * p(x, h | z_0). Reference: EDM en_diffusion.py sample, sample_p_zs_given_zt,
 * sample_p_xh_given_z0; Hoogeboom et al. 2022, algorithm 2. Two options beyond EDM: a
 * temperature scaling the reverse steps' noise, and Langevin corrector steps after the predictor
 * steps of the last part of the chain (Song et al. 2021, predictor-corrector sampling).
 */
import * as tf from '@tensorflow/tfjs';
import { bondClasses, featureDim } from '../config.js';
import { type MolGraph, disposeGraph, makeGraph } from '../graph/graph.js';
import { OptionError } from '../errors.js';
import { integerOption, numberOption } from '../options.js';
import { type EdmModel, phiState, type StateTensors } from './model.js';
import { type NoiseSource, combinedNoise, symmetricPairNoise } from './noise.js';
import { alphaOf, sigmaOf, transition } from './schedule.js';
import { perMolecule, sumExceptBatch } from './tensors.js';
import { unnormalize } from './normalize.js';
import { type InpaintSpec, type KnownAtoms, combineKnown, knownAtoms, renoise } from './inpaint.js';
import { keepFixed, projectZ } from './space.js';
import { classCharges, hardFeatures, predictFeatures, predictedClasses } from './element-model.js';
import { type Stepped, runStepped } from './stepping.js';

/** Free a chain state's tensors (the state the network reads, model.ts StateTensors: the bonds one part of it, not a second sampler). */
const disposeState = (z: StateTensors): void => tf.dispose(z.bonds ? [z.atoms, z.bonds] : [z.atoms]);

/**
 * One ancestral step z_s ~ p(z_s | z_t), s < t (EDM sample_p_zs_given_zt):
 * mu = z_t / alpha_t|s - sigma2_t|s / (alpha_t|s sigma_t) eps_theta, sigma = sigma_t|s sigma_s / sigma_t.
 * @param s,t per-molecule times in [0, 1]
 * @param zt `[B, N, 3 + F]`
 * @param noise `[B, N, 3 + F]` standard normal (position part CoM-free, zero at fixed atoms)
 * @returns z_s `[B, N, 3 + F]` with CoM-free denoised positions (centred graphs); fixed atoms
 *   keep their z_t values
 */
export function sampleZsGivenZt(
  model: EdmModel,
  s: ArrayLike<number>,
  t: ArrayLike<number>,
  zt: tf.Tensor,
  graph: MolGraph,
  noise: tf.Tensor,
): tf.Tensor {
  return reverseState(model, s, t, { atoms: zt }, graph, { atoms: noise }).atoms;
}

/** Per-molecule coefficients of p(z_s | z_t): z_t scale a = 1 / alpha_t|s, eps scale c, noise scale sd. */
function stepCoefficients(model: EdmModel, s: ArrayLike<number>, t: ArrayLike<number>): { a: number[]; c: number[]; sd: number[] } {
  const out = { a: [] as number[], c: [] as number[], sd: [] as number[] };
  for (let b = 0; b < s.length; b++) {
    const gS = model.schedule.gammaAt(s[b]);
    const gT = model.schedule.gammaAt(t[b]);
    const tr = transition(gT, gS);
    out.a.push(1 / tr.alpha);
    out.c.push(tr.sigma2 / tr.alpha / sigmaOf(gT));
    out.sd.push((tr.sigma * sigmaOf(gS)) / sigmaOf(gT));
  }
  return out;
}

/**
 * z_s ~ p(z_s | z_t) of a chain's whole state: the atoms as `sampleZsGivenZt`, and a bond-aware
 * model's bonds `[B, N, N, K]` by the same coefficients from the bonds' predicted noise (their
 * noise symmetric, zero off the real pairs).
 * @returns z_s's state (tensors, caller disposes)
 */
function reverseState(model: EdmModel, s: ArrayLike<number>, t: ArrayLike<number>, z: StateTensors, graph: MolGraph, noise: StateTensors): StateTensors {
  return tf.tidy(() => {
    const k = stepCoefficients(model, s, t);
    const eps = phiState(model, z, t, graph, true);
    // mu = z_t / alpha_t|s - c eps_theta, plus the step's noise, for each part of the state
    const step = (zPart: tf.Tensor, epsPart: tf.Tensor, noisePart: tf.Tensor, rank: 3 | 4): tf.Tensor =>
      tf.add(tf.sub(tf.mul(zPart, perMolecule(k.a, rank)), tf.mul(epsPart, perMolecule(k.c, rank))), tf.mul(perMolecule(k.sd, rank), noisePart));
    const atoms = projectZ(step(z.atoms, eps.atoms, noise.atoms, 3), graph, z.atoms);
    return z.bonds ? { atoms, bonds: step(z.bonds, eps.bonds!, noise.bonds!, 4) } : { atoms };
  });
}

/**
 * The one-hot channels decoding picks a type from: all K, or EDM's first K - 1 for a model
 * without charges (it reads z[:, :, 3:-1]; config.ts decodeDropsLastType).
 */
const decodedTypes = (model: EdmModel): number => model.config.dataset.atomDecoder.length - (model.config.diffusion.decodeDropsLastType ? 1 : 0);

/** Decoded molecules of a batch, on the host. */
export interface DecodedBatch {
  /** `[B, N, 3]` Å */
  x: Float32Array;
  /** `[B, N]` atom type index (argmax of the one-hot part), -1 for padding */
  atomTypes: Int32Array;
  /** `[B, N]` rounded integer charge (0 if the model has none) */
  charges: Int32Array;
  nNodes: Int32Array;
  N: number;
  /** a bond-aware model's bond orders `[B, N, N]` (argmax of z_0's bond one-hot; 0: none), symmetric */
  bondOrders?: Int8Array;
}

/**
 * x, h ~ p(x, h | z_0) (EDM sample_p_xh_given_z0): positions from the predicted x with
 * sigma_x = exp(0.5 gamma_0); features from z_0 itself (argmax of the one-hot part, rounded charge).
 * @param noise `[B, N, 3 + F]` standard normal
 * @param zBonds a bond-aware model's z_0 of the bonds `[B, N, N, K]` (its network reads them)
 * @returns x `[B, N, 3]` Å, one-hot `[B, N, K]`, charges `[B, N, 1]` (tensors, caller disposes)
 */
export function sampleXhGivenZ0(
  model: EdmModel,
  z0: tf.Tensor,
  graph: MolGraph,
  noise: tf.Tensor,
  zBonds?: tf.Tensor,
): { x: tf.Tensor; oneHot: tf.Tensor; charges: tf.Tensor } {
  return tf.tidy(() => {
    const [B, N, D] = z0.shape as number[];
    const K = model.config.dataset.atomDecoder.length;
    const g0 = model.schedule.gammaAt(0);
    const zeros = new Array<number>(B).fill(0);
    const { nodeMask } = graph;
    const eps = phiState(model, { atoms: z0, ...(zBonds ? { bonds: zBonds } : {}) }, zeros, graph, true).atoms;
    const muX = tf.div(tf.sub(z0, tf.mul(sigmaOf(g0), eps)), alphaOf(g0));
    const xh = keepFixed(tf.add(muX, tf.mul(Math.exp(0.5 * g0), noise)), graph, z0);
    const xRaw = tf.slice(xh, [0, 0, 0], [B, N, 3]);
    const hCat = tf.slice(z0, [0, 0, 3], [B, N, K]);
    const hInt = model.config.diffusion.includeCharges ? tf.slice(z0, [0, 0, D - 1], [B, N, 1]) : tf.zeros([B, N, 1]);
    const u = unnormalize(xRaw, hCat, hInt, nodeMask, model.config.diffusion.normalizeFactors);
    const candidates = tf.slice(u.hCat, [0, 0, 0], [B, N, decodedTypes(model)]);
    const oneHot = tf.mul(tf.oneHot(tf.argMax(candidates, 2), K), nodeMask);
    const charges = tf.mul(tf.round(u.hInt), nodeMask);
    return { x: u.x, oneHot, charges };
  });
}

/** Options of a sampling run. */
export interface SampleChainOptions {
  /** denoising steps; fewer than T strides the trained schedule (default T) */
  steps?: number;
  /** called after every step with the step number (1-based) */
  onStep?: (step: number, steps: number) => void;
  /** record the decoded positions/types of these batch rows every `chainEvery` steps */
  keepChainOf?: number[];
  chainEvery?: number;
  /**
   * Fixed atoms: `nFixed[b]` atoms after the denoised ones in row b, with their normalised values
   * `xh` `[B, N, 3 + F]` (row-major; denoised rows ignored). They keep these values at every step.
   */
  fixed?: { nFixed: Int32Array; xh: Float32Array; centred?: boolean };
  /** per-node context `[B, N, C]` for models trained with one */
  context?: { values: Float32Array; dim: number };
  /**
   * Called after each step with z_s `[B, N, 3 + F]` and s; returns the z to continue from (e.g. a
   * guided one). It must keep the shape; the sampler re-projects it and disposes the input.
   */
  guide?: (zs: tf.Tensor, s: number, graph: MolGraph) => tf.Tensor;
  /** known atoms to keep (RePaint inpainting, inpaint.ts) */
  inpaint?: InpaintSpec;
  /** scale of the reverse steps' noise (1: EDM's sampler; below 1 trades diversity for precision) */
  temperature?: number;
  /** Langevin corrector steps after the predictor steps of the last part of the chain */
  corrector?: CorrectorOptions;
  /**
   * Atoms typed by an element model p(h | x) (config.ts ElementModel): after every step that
   * reaches a time s <= `from`, the features are set from the model's types for the positions
   * of z_s, noised to s as the forward process would (z_h = alpha_s h + sigma_s eps), so the
   * positions settle around them; the molecule's final types are the model's on its final
   * positions. `from` 0 types at the end only.
   */
  elements?: { model: EdmModel; from: number };
}

/**
 * Langevin corrector (Song et al. 2021, "Score-Based Generative Modeling through SDEs",
 * algorithm 5 for the VP SDE): after each predictor step to time s in the last `fraction` of
 * the chain, `steps` times z <- z + e score + sqrt(2 e) noise, with score = -eps_theta(z, s) /
 * sigma_s and e = 2 alpha (snr |noise| / |score|)^2 per molecule, alpha = alpha_t|s^2.
 */
export interface CorrectorOptions {
  /** corrector steps after each predictor step (>= 1) */
  steps: number;
  /** Song et al.'s signal-to-noise ratio r of the step size (they use 0.01-0.17) */
  snr: number;
  /** the last part of the chain (0 < fraction <= 1) that gets corrector steps */
  fraction: number;
}

/**
 * The corrector `edm sample`, `edm pocket` and the library's `sample`/`generate` use unless told
 * otherwise: 2 Langevin steps, snr 0.1, over the last 20% of the chain, for 1.4x the network
 * evaluations. On the shipped checkpoint (README, sampler table: 1,000 molecules x 1,000 steps,
 * seed 0) it raises molecule stability from 38.1% to 60.8% and validity from 71.6% to 83.6%
 * against EDM's sampler, with atom-type TV and every bond-length W1 as close to the data or
 * within 0.001 Å of it, and valid x unique x novel by 6.6 points; it was made the default on
 * earlier weights, where it raised valid x unique x novel by 11.2 points (README's rule).
 */
export const DEFAULT_CORRECTOR: Readonly<CorrectorOptions> = Object.freeze({ steps: 2, snr: 0.1, fraction: 0.2 });

/**
 * The corrector a run uses: `false` is none (EDM's ancestral sampler), undefined the default.
 * @param c the caller's choice
 */
export function correctorOrDefault(c: CorrectorOptions | false | undefined): CorrectorOptions | undefined {
  if (c === false) return undefined;
  return c ?? { ...DEFAULT_CORRECTOR };
}

/** What a run's sampler does beyond the schedule: the noise temperature and the corrector (none when undefined). */
export interface SamplerSettings {
  temperature?: number;
  corrector?: CorrectorOptions;
  /** atoms typed by the checkpoint's element model from this diffusion time on (generate/types.ts ElementSampling) */
  elements?: { from: number };
}

/**
 * A sampler's settings in words, for a run's summary line and reports, e.g. "EDM's sampler" or
 * "2 Langevin corrector steps (snr 0.1) in the last 20%".
 */
export function samplerWords(s: SamplerSettings): string {
  const parts = [];
  if (s.temperature !== undefined && s.temperature !== 1) parts.push(`temperature ${s.temperature}`);
  if (s.corrector) parts.push(`${s.corrector.steps} Langevin corrector step${s.corrector.steps === 1 ? '' : 's'} (snr ${s.corrector.snr}) in the last ${+(s.corrector.fraction * 100).toFixed(6)}%`);
  if (s.elements) parts.push(`atoms typed by the element model ${s.elements.from > 0 ? `from t = ${s.elements.from}` : 'at the end'}`);
  return parts.length ? parts.join(', ') : "EDM's sampler";
}

/**
 * Check sampler options (messages name them as the CLI spells them).
 * @throws OptionError for a temperature that is negative or not finite, or an impossible corrector
 */
export function checkSamplerOptions(o: { temperature?: number; corrector?: CorrectorOptions }): void {
  if (o.temperature !== undefined) numberOption('--temperature', o.temperature, { atLeast: 0, atMost: SAMPLER_LIMITS.temperature });
  if (o.corrector) {
    integerOption('--corrector-steps', o.corrector.steps, 1, SAMPLER_LIMITS.correctorSteps);
    numberOption('--corrector-snr', o.corrector.snr, { above: 0, atMost: SAMPLER_LIMITS.correctorSnr });
    numberOption('--corrector-fraction', o.corrector.fraction, { above: 0, atMost: 1 });
  }
}

/**
 * The sampler options' upper bounds. Past them a chain leaves the range of numbers it can hold:
 * a temperature of 1e9 gives coordinates that overflow the SDF's fields, an snr of 1e12 NaN
 * coordinates; Song et al. use snr 0.01-0.17, and 100 corrector steps are 100 times the network
 * evaluations of the chain's end.
 */
export const SAMPLER_LIMITS = Object.freeze({ temperature: 10, correctorSteps: 100, correctorSnr: 1 });

/** z + e score + sqrt(2 e) noise, with one step size e per molecule (tensors of rank 3 or 4). */
function langevinMove(z: tf.Tensor, score: tf.Tensor, noise: tf.Tensor, e: number[], rank: 3 | 4 = 3): tf.Tensor {
  return tf.add(z, tf.add(tf.mul(score, perMolecule(e, rank)), tf.mul(noise, perMolecule(e.map((v) => Math.sqrt(2 * v)), rank))));
}

/** |v|^2 of each of B equal rows of a host array (from the host copy: no device pass or read-back). */
function squaredNormPerMolecule(host: Float32Array, B: number): Float64Array {
  const out = new Float64Array(B);
  const per = host.length / B;
  for (let i = 0; i < host.length; i++) out[Math.floor(i / per)] += host[i] * host[i];
  return out;
}

/** Song et al.'s step size e = 2 alpha (r |noise| / |score|)^2 per molecule (0 where the score is 0). */
function langevinStepSizes(alpha: number, snr: number, noiseNorm: ArrayLike<number>, scoreNorm: ArrayLike<number>): number[] {
  return Array.from(scoreNorm, (g2, b) => (g2 > 0 ? 2 * alpha * snr * snr * (noiseNorm[b] / g2) : 0));
}

/**
 * One Langevin corrector step at time s (see CorrectorOptions) on a chain's whole state: noise
 * drawn from `rng` in the diffusion's space (atoms: CoM-free positions, zero at fixed atoms and
 * padding; a bond-aware model's bonds after them: symmetric, zero off the real pairs), one step
 * size per molecule from the norms of every part (each bond pair i < j counted once, as the
 * likelihood bound counts the bonds).
 * @param z the state after the predictor step: atoms `[B, N, 3 + F]` (and bonds `[B, N, N, K]`)
 * @param s the time of z_s in [0, 1]
 * @param alpha alpha_t|s^2 of the predictor step just taken
 * @param snr Song et al.'s r
 * @returns the corrected state, the atoms projected back to the diffusion's space (caller disposes)
 */
export function langevinStep(model: EdmModel, z: StateTensors, s: number, alpha: number, graph: MolGraph, snr: number, rng: NoiseSource, fixedXh?: tf.Tensor): StateTensors {
  const [B, N, D] = z.atoms.shape as number[];
  const K = z.bonds?.shape[3] ?? 0;
  const hostAtoms = combinedNoise(rng, graph.nDenoised, N, D - 3, graph.centred);
  const hostBonds = K > 0 ? symmetricPairNoise(rng, graph.nNodes, N, K) : undefined;
  const atomsNorm = squaredNormPerMolecule(hostAtoms, B);
  const bondsNorm = hostBonds && squaredNormPerMolecule(hostBonds, B);
  const noiseNorm = bondsNorm ? atomsNorm.map((v, b) => v + 0.5 * bondsNorm[b]) : atomsNorm;
  const noise: StateTensors = { atoms: tf.tensor3d(hostAtoms, [B, N, D]), ...(hostBonds ? { bonds: tf.tensor4d(hostBonds, [B, N, N, K]) } : {}) };
  try {
    return tf.tidy(() => {
      const sigma = sigmaOf(model.schedule.gammaAt(s));
      const t = new Array<number>(B).fill(s);
      // eps_theta is zero at padded and fixed atoms already (egnn definition)
      const out = phiState(model, z, t, graph, true);
      const score = tf.div(out.atoms, -sigma);
      const scoreBonds = out.bonds ? tf.div(out.bonds, -sigma) : undefined;
      const scoreNorm = (scoreBonds ? tf.add(sumExceptBatch(tf.square(score)), tf.mul(sumExceptBatch(tf.square(scoreBonds)), 0.5)) : sumExceptBatch(tf.square(score))).dataSync();
      const e = langevinStepSizes(alpha, snr, noiseNorm, scoreNorm);
      const atoms = projectZ(langevinMove(z.atoms, score, noise.atoms, e), graph, fixedXh);
      return scoreBonds ? { atoms, bonds: langevinMove(z.bonds!, scoreBonds, noise.bonds!, e, 4) } : { atoms };
    });
  } finally {
    disposeState(noise);
  }
}

/** Output of `sampleChain`. */
export interface SampleChainResult extends DecodedBatch {
  /** for each kept row: frames of positions `[n, 3]` Å and type indices (last frame = final) */
  chains?: { x: Float32Array; atomTypes: Int32Array }[][];
}

/**
 * The number of denoising steps of a run: an integer in 1..T (fewer than T strides the trained
 * schedule). The one check of this option, used by planning and by `sampleChain`.
 * @throws OptionError when it is not an integer in 1..T
 */
export function denoisingSteps(steps: number, T: number): number {
  return integerOption('--steps', steps, 1, T);
}

/** A chain's kept trajectories: frames of some rows of z every `every` steps, then the decoded molecule. */
interface ChainRecorder {
  chains?: { x: Float32Array; atomTypes: Int32Array }[][];
  /** after step `done` (1-based) with the atoms' z `[B, N, 3 + F]`: keeps a frame on the cadence */
  record: (z: tf.Tensor, done: number) => void;
  /** the last frame of each kept row: its decoded positions and types (host arrays of the batch) */
  finish: (x: Float32Array, atomTypes: Int32Array) => void;
}

/** Records decoded frames of the rows `opts.keepChainOf` during a chain of `steps` steps (none when absent). */
function chainRecorder(model: EdmModel, nNodes: Int32Array, N: number, steps: number, opts: SampleChainOptions): ChainRecorder {
  const rows = opts.keepChainOf;
  if (!rows) return { record: () => {}, finish: () => {} };
  const chains = rows.map(() => [] as { x: Float32Array; atomTypes: Int32Array }[]);
  const every = opts.chainEvery ?? Math.max(1, Math.floor(steps / 50));
  const K = model.config.dataset.atomDecoder.length;
  const B = nNodes.length;
  const record = (zCur: tf.Tensor, done: number): void => {
    if (done % every !== 0) return;
    const data = tf.tidy(() => {
      const f = model.config.diffusion.normalizeFactors;
      const types = tf.slice(zCur, [0, 0, 3], [B, N, decodedTypes(model)]);
      return tf.concat([tf.mul(tf.slice(zCur, [0, 0, 0], [B, N, 3]), f[0]), tf.cast(tf.expandDims(tf.argMax(types, 2), 2), 'float32')], 2);
    });
    const host = data.dataSync();
    data.dispose();
    rows.forEach((row, c) => {
      const n = nNodes[row];
      const x = new Float32Array(n * 3);
      const types = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        for (let d = 0; d < 3; d++) x[i * 3 + d] = host[(row * N + i) * 4 + d];
        types[i] = host[(row * N + i) * 4 + 3];
      }
      chains[c].push({ x, atomTypes: types });
    });
  };
  const finish = (x: Float32Array, atomTypes: Int32Array): void =>
    rows.forEach((row, c) => chains[c].push({ x: x.slice(row * N * 3, row * N * 3 + nNodes[row] * 3), atomTypes: atomTypes.slice(row * N, row * N + nNodes[row]) }));
  return { chains, record, finish };
}

/**
 * The corrector's steps after the predictor step t -> s: `c.steps` times `step(z, alpha, snr)`
 * with alpha = alpha_t|s^2, when s is in the chain's last `c.fraction` (s > 0); else z as it is.
 * Each replaced state is disposed. One loop for EDM's and bond-aware states.
 */
function correct<Z>(model: EdmModel, c: CorrectorOptions | undefined, t: number, s: number, z: Z, step: (z: Z, alpha: number, snr: number) => Z, dispose: (z: Z) => void): Z {
  if (!c || s <= 0 || s > c.fraction) return z;
  const alpha = transition(model.schedule.gammaAt(t), model.schedule.gammaAt(s)).alpha ** 2;
  for (let j = 0; j < c.steps; j++) {
    const next = step(z, alpha, c.snr);
    dispose(z);
    z = next;
  }
  return z;
}

/**
 * Standard normal noise of a chain's state, drawn in this order: the atoms' (CoM-free positions
 * on centred graphs, zero at fixed atoms and padding), then a bond-aware model's bonds'
 * (symmetric, zero off the real pairs); `scale` multiplies both (the temperature).
 */
function drawState(rng: NoiseSource, graph: MolGraph, F: number, K: number, scale: number): StateTensors {
  const B = graph.nNodes.length;
  const N = graph.hostNodeMask.length / B;
  const atoms = tf.tensor3d(combinedNoise(rng, graph.nDenoised, N, F, graph.centred), [B, N, 3 + F]);
  const bonds = K > 0 ? tf.tensor4d(symmetricPairNoise(rng, graph.nNodes, N, K), [B, N, N, K]) : undefined;
  if (scale === 1) return { atoms, ...(bonds ? { bonds } : {}) };
  const scaled = tf.tidy(() => ({ atoms: tf.mul(atoms, scale), ...(bonds ? { bonds: tf.mul(bonds, scale) } : {}) }));
  disposeState({ atoms, bonds });
  return scaled;
}

/**
 * One step of a chain: z_s ~ p(z_s | z_t) of the whole state (the atoms, and a bond-aware
 * model's bonds by the same coefficients), the corrector's steps, then on the atoms the element
 * model's types, the guidance hook and the known atoms of inpainting, each followed by the
 * projection back to the diffusion's space. Disposes `noise` (unscaled; the temperature scales it).
 */
function reverseStep(
  model: EdmModel,
  zt: StateTensors,
  t: number,
  s: number,
  graph: MolGraph,
  noise: StateTensors,
  opts: SampleChainOptions,
  fixedXh: tf.Tensor | undefined,
  known: KnownAtoms | undefined,
  rng: NoiseSource,
): StateTensors {
  const B = graph.nNodes.length;
  const [sArr, tArr] = [new Array<number>(B).fill(s), new Array<number>(B).fill(t)];
  const tau = opts.temperature ?? 1;
  const scaled: StateTensors = tau === 1 ? noise : tf.tidy(() => ({ atoms: tf.mul(noise.atoms, tau), ...(noise.bonds ? { bonds: tf.mul(noise.bonds, tau) } : {}) }));
  let z = reverseState(model, sArr, tArr, zt, graph, scaled);
  disposeState(noise);
  if (scaled !== noise) disposeState(scaled);
  z = correct(model, opts.corrector, t, s, z, (cur, alpha, snr) => langevinStep(model, cur, s, alpha, graph, snr, rng, fixedXh), disposeState);
  let atoms = z.atoms;
  const apply = (f: (z: tf.Tensor) => tf.Tensor): void => {
    const changed = f(atoms);
    if (changed === atoms) return;
    atoms.dispose();
    atoms = tf.tidy(() => projectZ(changed, graph, fixedXh));
    changed.dispose();
  };
  if (opts.elements && s > 0 && s <= opts.elements.from) {
    const typed = retype(model, opts.elements.model, atoms, s, graph, rng);
    atoms.dispose();
    atoms = typed;
  }
  if (opts.guide) apply((cur) => opts.guide!(cur, s, graph));
  if (known) apply((cur) => combineKnown(model, cur, s, known, graph, rng));
  return { atoms, ...(z.bonds ? { bonds: z.bonds } : {}) };
}

/**
 * z_s with its features set from an element model (SampleChainOptions.elements): the hard types
 * p(h | x_s) predicts for z_s's positions, noised to s with fresh noise from `rng` (the feature
 * part of a combined draw, so every row keeps its own stream); positions unchanged.
 * @param z `[B, N, 3 + F]` z_s
 * @returns the new z_s (caller disposes the old)
 */
function retype(model: EdmModel, elements: EdmModel, z: tf.Tensor, s: number, graph: MolGraph, rng: NoiseSource): tf.Tensor {
  const [B, N, D] = z.shape as number[];
  const F = D - 3;
  const noise = combinedNoise(rng, graph.nDenoised, N, F, graph.centred);
  const t = new Array<number>(B).fill(s);
  const pred = tf.tidy(() => predictFeatures(elements, tf.slice(z, [0, 0, 0], [B, N, 3]), t, graph).dataSync() as Float32Array);
  const hard = hardFeatures(elements, predictedClasses(pred, F, elements.config.dataset.atomDecoder.length));
  const g = model.schedule.gammaAt(s);
  return tf.tidy(() => {
    const h = tf.add(tf.mul(tf.tensor3d(hard, [B, N, F]), alphaOf(g)), tf.mul(tf.slice(tf.tensor3d(noise, [B, N, D]), [0, 0, 3], [B, N, F]), sigmaOf(g)));
    return tf.concat([tf.slice(z, [0, 0, 0], [B, N, 3]), tf.mul(h, graph.nodeMask)], 2);
  });
}

/**
 * The element model's types for decoded positions (SampleChainOptions.elements): type indices
 * and charges in place of p(h | z_0)'s, at real atoms.
 * @param x `[B, N, 3]` decoded positions, Å
 */
function finalTypes(elements: EdmModel, x: Float32Array, graph: MolGraph, atomTypes: Int32Array, charges: Int32Array): void {
  const B = graph.nNodes.length;
  const N = x.length / (3 * B);
  const pred = tf.tidy(() => predictFeatures(elements, tf.div(tf.tensor3d(x, [B, N, 3]), elements.config.diffusion.normalizeFactors[0]), new Array<number>(B).fill(0), graph).dataSync() as Float32Array);
  const classes = predictedClasses(pred, featureDim(elements.config), elements.config.dataset.atomDecoder.length);
  const classCharge = classCharges(elements);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < graph.nDenoised[b]; i++) {
      atomTypes[b * N + i] = classes[b * N + i];
      charges[b * N + i] = classCharge[classes[b * N + i]];
    }
  }
}

/** @throws OptionError when an element model is asked with a sampler part it does not support */
function checkElements(model: EdmModel, opts: SampleChainOptions): void {
  const e = opts.elements;
  if (!e) return;
  if (!e.model.config.elementModel) throw new OptionError('--element-model: the model given to type atoms is a noise predictor, not an element model');
  numberOption('--element-from', e.from, { atLeast: 0, atMost: 1 });
  const parts = [opts.fixed && 'fixed atoms (a pocket-conditioned model)', opts.inpaint && 'inpainting (--fix-fragment)', bondClasses(model.config) > 0 && 'a bond-aware model'].filter(Boolean);
  if (parts.length) throw new OptionError(`--element-model: atoms cannot be typed by the element model with ${parts.join(', ')}`);
}

/**
 * Generate a batch: z_T -> ... -> z_0 -> (x, h).
 * @param nNodes atom count of each molecule to make (denoised + fixed atoms)
 * @param rng seeded generator, or one per molecule (row b draws all its noise from rng[b]);
 *   the same seeds give the same molecules
 * @throws OptionError for steps < 1 or > T
 */
export function sampleChain(model: EdmModel, nNodes: Int32Array, rng: NoiseSource, opts: SampleChainOptions = {}): SampleChainResult {
  return runStepped(sampleChainSteps(model, nNodes, rng, opts));
}

/**
 * `sampleChain` pausing (yield) after every denoising step; ended early (`return`), it frees its
 * tensors. Driven by stepping.ts.
 * @throws OptionError for steps < 1 or > T (when first resumed)
 */
export function* sampleChainSteps(model: EdmModel, nNodes: Int32Array, rng: NoiseSource, opts: SampleChainOptions = {}): Stepped<SampleChainResult> {
  const T = model.schedule.timesteps;
  const steps = denoisingSteps(opts.steps ?? T, T);
  checkSamplerOptions(opts);
  checkElements(model, opts);
  const K = bondClasses(model.config);
  checkStateOptions(K, opts);
  const B = nNodes.length;
  const N = Math.max(...nNodes);
  const F = featureDim(model.config);
  const D = 3 + F;
  const graph = makeGraph({ nNodes, N, nFixed: opts.fixed?.nFixed, centred: opts.fixed?.centred, context: opts.context?.values, contextDim: opts.context?.dim });
  const fixedXh = opts.fixed ? tf.tensor3d(opts.fixed.xh, [B, N, D]) : undefined;
  const known = opts.inpaint ? knownAtoms(opts.inpaint, B, N, D) : undefined;
  // z_T at full scale whatever the temperature
  let z = drawState(rng, graph, F, K, 1);
  try {
    if (fixedXh) {
      const zT = z.atoms;
      z = { atoms: projectZ(zT, graph, fixedXh) };
      zT.dispose();
    }
    const { chains, record, finish } = chainRecorder(model, nNodes, N, steps, opts);
    const jumps = opts.inpaint?.jumps ?? 1;
    for (let k = steps; k >= 1; k--) {
      // stride the trained schedule: t = k / steps, s = (k - 1) / steps, rounded to grid steps
      for (let u = 0; u < jumps; u++) {
        const next = reverseStep(model, z, k / steps, (k - 1) / steps, graph, drawState(rng, graph, F, K, 1), opts, fixedXh, known, rng);
        disposeState(z);
        z = next;
        if (u < jumps - 1) {
          // RePaint's resampling: back to t, and the step again (inpainting: EDM's model only)
          const back = renoise(model, z.atoms, (k - 1) / steps, k / steps, graph, rng);
          disposeState(z);
          z = { atoms: back };
        }
      }
      record(z.atoms, steps - k + 1);
      opts.onStep?.(steps - k + 1, steps);
      yield;
    }
    const noise = drawState(rng, graph, F, K, opts.temperature ?? 1);
    const { x, atomTypes, charges } = decodeToHost(sampleXhGivenZ0(model, z.atoms, graph, noise.atoms, z.bonds), nNodes, N);
    disposeState(noise);
    if (opts.elements) finalTypes(opts.elements.model, x, graph, atomTypes, charges);
    const bondOrders = z.bonds ? bondOrdersOf(z.bonds, nNodes, N) : undefined;
    finish(x, atomTypes);
    return { x, atomTypes, charges, nNodes, N, chains, ...(bondOrders ? { bondOrders } : {}) };
  } finally {
    disposeState(z);
    if (fixedXh) fixedXh.dispose();
    if (known) tf.dispose([known.mask, known.xh]);
    disposeGraph(graph);
  }
}

/** Host copies of p(x, h | z_0)'s sample (disposes its tensors): positions, type indices (-1 at padding), charges. */
function decodeToHost(out: { x: tf.Tensor; oneHot: tf.Tensor; charges: tf.Tensor }, nNodes: Int32Array, N: number): { x: Float32Array; atomTypes: Int32Array; charges: Int32Array } {
  const B = nNodes.length;
  const x = out.x.dataSync() as Float32Array;
  const typeTensor = tf.argMax(out.oneHot, 2);
  const typeIdx = typeTensor.dataSync();
  const chargeData = out.charges.dataSync();
  tf.dispose([out.x, out.oneHot, out.charges, typeTensor]);
  const atomTypes = new Int32Array(B * N).fill(-1);
  const charges = new Int32Array(B * N);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < nNodes[b]; i++) {
      atomTypes[b * N + i] = typeIdx[b * N + i];
      charges[b * N + i] = chargeData[b * N + i];
    }
  }
  return { x, atomTypes, charges };
}

/** Sampler options only EDM's model has, as a user meets them. */
const EDM_ONLY = {
  fixed: 'fixed atoms (a pocket-conditioned run)',
  context: 'a per-atom context',
  guide: "guidance (edm pocket's --guidance)",
  inpaint: 'inpainting (--fix-fragment)',
} as const;

/**
 * The one check of what a state with bonds supports: fixed atoms, context, guidance and
 * inpainting act on the atoms of EDM's model only.
 * @throws OptionError naming the options a bond-aware model cannot sample with
 */
function checkStateOptions(K: number, opts: SampleChainOptions): void {
  if (K === 0) return;
  const unsupported = (Object.keys(EDM_ONLY) as (keyof typeof EDM_ONLY)[]).filter((k) => opts[k] !== undefined);
  if (unsupported.length > 0) throw new OptionError(`a bond-aware model cannot sample with ${unsupported.map((k) => EDM_ONLY[k]).join(', ')} yet; use an EDM model (e.g. checkpoints/qm9-default)`);
}

/** The bond orders `[B, N, N]` of z_0's bonds: argmax over the classes of each real pair i < j, mirrored. */
function bondOrdersOf(bonds: tf.Tensor, nNodes: Int32Array, N: number): Int8Array {
  const B = nNodes.length;
  const orderTensor = tf.argMax(bonds, 3);
  const orders = orderTensor.dataSync();
  orderTensor.dispose();
  const out = new Int8Array(B * N * N);
  for (let b = 0; b < B; b++) for (let i = 0; i < nNodes[b]; i++) for (let j = 0; j < nNodes[b]; j++) if (i !== j) out[(b * N + i) * N + j] = orders[(b * N + Math.min(i, j)) * N + Math.max(i, j)];
  return out;
}
