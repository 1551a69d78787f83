/**
 * Ligands in a pocket with an unconditional checkpoint: each ligand's centre of mass starts at
 * the site centre (the sampler keeps positions centre-of-mass free; the frame is then moved to
 * the ligand's centre), and after every reverse step the ligand takes a guidance step down the
 * pocket energy of energy.ts: rigid rotation and translation, early on a small per-atom move.
 * Guidance 0 is plain EDM sampling placed at the centre.
 */
import * as tf from '@tensorflow/tfjs';
import type { Molecule } from '../data/molecule.js';
import type { EdmModel } from '../diffusion/model.js';
import { type CorrectorOptions, denoisingSteps } from '../diffusion/sampler.js';
import type { ElementSampling } from '../generate/types.js';
import { sampleMoleculesYielding } from '../generate/local.js';
import type { SamplingHooks } from '../generate/types.js';
import type { InpaintSpec } from '../diffusion/inpaint.js';
import { ATOMIC_NUMBER } from '../data/batch.js';
import type { MolGraph } from '../graph/graph.js';
import { OptionError } from '../errors.js';
import { MAX_GUIDE_STEP, guidanceGradient, nearbyHeavy } from './energy.js';
import type { PocketSite } from './site.js';

/** Options of `sampleInPocket`. */
export interface PocketSampleOptions {
  /** ligands to make */
  n: number;
  seed: number | string;
  /** denoising steps (default T) */
  steps?: number;
  /** strength of the pocket guidance; 0 turns it off */
  guidance: number;
  /** atoms of each ligand (length n) */
  sizes: Int32Array;
  /** ligands per batch (default all) */
  batchSize?: number;
  /** called after each step of each batch */
  onProgress?: (ligandsDone: number, step: number, steps: number) => void;
  /**
   * keep this fragment (protein frame, elements of the checkpoint) and grow the rest around it
   * (RePaint inpainting); the ligands' first atoms are the fragment's. Guidance must be 0.
   */
  fragment?: Molecule;
  /** RePaint resampling: times each step is taken with a fragment (default 5) */
  jumps?: number;
  /** scale of the reverse steps' noise (default 1, EDM's; see sampler.ts) */
  temperature?: number;
  /** Langevin corrector steps in the last part of the chain (default `DEFAULT_CORRECTOR`; `false`: EDM's sampler; see sampler.ts) */
  corrector?: CorrectorOptions | false;
  /** atoms typed by the checkpoint's element model from this diffusion time on (generate/types.ts ElementSampling; default: not used) */
  elements?: ElementSampling;
  /** stops the sampling after the current denoising step (the event loop gets a turn after each) */
  signal?: AbortSignal;
}

/**
 * Guidance constants, tuned on the development pockets 3rfm and 5ndu (50 ligands, 200-250 steps,
 * 2-3 seeds): rotation alone keeps validity but leaves 8-26% of ligands clashing in 5ndu;
 * per-atom moves all along fix every clash but cost up to 40 validity points; per-atom moves only
 * in the noisiest 30% of the chain, with rotation all along, left 0-6% clashing at a validity
 * within seed noise of unguided sampling.
 */
const GUIDE = {
  /** move per unit of `guidance` and of energy gradient, at `refSteps` steps */
  rate: 0.25,
  /**
   * the moves per step shrink as steps grow beyond this, so the total guidance does not depend
   * on --steps; below it they stay at their size here (larger moves would tear molecules apart)
   */
  refSteps: 200,
  /** per-atom part of the move, relative to the rigid part */
  nonRigid: 0.2,
  /** per-atom moves only while s is above this (later, the network repairs the geometry) */
  nonRigidUntilS: 0.7,
  /** largest rotation per step at `refSteps`, rad */
  maxAngle: 0.3,
  /** rigid translation per unit of `guidance` and of mean force on the ligand's atoms */
  translateRate: 0.25,
} as const;

/**
 * One guidance move of a ligand: mostly a rigid rotation about its centre of mass and a rigid
 * translation (the network is E(3)-equivariant, so rigid moves do not disturb the molecule being
 * formed), plus a small per-atom move for what a rigid move cannot fix.
 * @param x `[n * 3]` positions, protein frame; g `[n * 3]` energy gradient
 * @param centre the ligand's centre of mass, protein frame
 * @returns the rotated (and per-atom moved) positions, and the translation `[3]` (Å) to add to
 *   the ligand's placement
 */
function guidedPositions(x: Float64Array, g: Float64Array, n: number, centre: readonly number[], strength: number, nonRigid: number, stepScale: number): { moved: Float64Array; translation: number[] } {
  const out = new Float64Array(n * 3);
  // net force and torque of the forces -g about the centre, and an isotropic moment of inertia
  const force = [0, 0, 0];
  const tau = [0, 0, 0];
  let inertia = 1e-6;
  for (let i = 0; i < n; i++) {
    const r = [x[i * 3] - centre[0], x[i * 3 + 1] - centre[1], x[i * 3 + 2] - centre[2]];
    const f = [-g[i * 3], -g[i * 3 + 1], -g[i * 3 + 2]];
    for (let d = 0; d < 3; d++) force[d] += f[d];
    tau[0] += r[1] * f[2] - r[2] * f[1];
    tau[1] += r[2] * f[0] - r[0] * f[2];
    tau[2] += r[0] * f[1] - r[1] * f[0];
    inertia += r[0] * r[0] + r[1] * r[1] + r[2] * r[2];
  }
  // translation down the mean force, at most one per-atom step
  const mean = force.map((v) => v / n);
  const fNorm = Math.hypot(mean[0], mean[1], mean[2]);
  const tLen = Math.min(MAX_GUIDE_STEP * stepScale, strength * GUIDE.translateRate * fNorm);
  const translation = mean.map((v) => (fNorm > 0 ? (v / fNorm) * tLen : 0));
  const w = tau.map((v) => (strength * GUIDE.rate * v) / inertia);
  let angle = Math.hypot(w[0], w[1], w[2]);
  const axis = angle > 0 ? w.map((v) => v / angle) : [1, 0, 0];
  angle = Math.min(angle, GUIDE.maxAngle * stepScale);
  const [c, sn] = [Math.cos(angle), Math.sin(angle)];
  for (let i = 0; i < n; i++) {
    const r = [x[i * 3] - centre[0], x[i * 3 + 1] - centre[1], x[i * 3 + 2] - centre[2]];
    // Rodrigues: r cos + (k x r) sin + k (k . r)(1 - cos)
    const kr = axis[0] * r[0] + axis[1] * r[1] + axis[2] * r[2];
    const cross = [axis[1] * r[2] - axis[2] * r[1], axis[2] * r[0] - axis[0] * r[2], axis[0] * r[1] - axis[1] * r[0]];
    const norm = Math.hypot(g[i * 3], g[i * 3 + 1], g[i * 3 + 2]);
    const step = norm > 0 ? Math.min(MAX_GUIDE_STEP * stepScale, nonRigid * strength * GUIDE.rate * norm) / norm : 0;
    for (let d = 0; d < 3; d++) out[i * 3 + d] = centre[d] + r[d] * c + cross[d] * sn + axis[d] * kr * (1 - c) - step * g[i * 3 + d];
  }
  return { moved: out, translation };
}

/**
 * The guidance hook of `sampleChain` for one batch: a rotation and a translation of each ligand
 * down the torque and mean of the pocket energy's forces, plus (early on) a small per-atom step,
 * evaluated at the noisy positions placed at the ligand's centre. The sampler's positions stay
 * centre-of-mass free; each ligand's centre (site centre + accumulated translation) is kept in
 * `centres` `[B * 3]`, Å, protein frame.
 */
function pocketGuide(model: EdmModel, site: PocketSite, guidance: number, steps: number, B: number): { guide: (zs: tf.Tensor, s: number, graph: MolGraph) => tf.Tensor; centres: Float64Array } {
  const stepScale = Math.min(1, GUIDE.refSteps / steps);
  const protein = nearbyHeavy(site);
  const fx = model.config.diffusion.normalizeFactors[0];
  const centres = new Float64Array(B * 3);
  for (let b = 0; b < B; b++) centres.set(site.centre, b * 3);
  const guide = (zs: tf.Tensor, s: number, graph: MolGraph): tf.Tensor => {
    const [, N, D] = zs.shape as number[];
    const z = zs.dataSync() as Float32Array;
    const out = Float32Array.from(z);
    const x = new Float64Array(N * 3);
    for (let b = 0; b < B; b++) {
      const n = graph.nDenoised[b];
      const centre = Array.from(centres.subarray(b * 3, b * 3 + 3));
      for (let i = 0; i < n; i++) for (let d = 0; d < 3; d++) x[i * 3 + d] = z[(b * N + i) * D + d] * fx + centre[d];
      const g = guidanceGradient(x, n, protein, site.centre, site.regionRadius);
      const { moved, translation } = guidedPositions(x, g, n, centre, guidance * stepScale, s > GUIDE.nonRigidUntilS ? GUIDE.nonRigid : 0, stepScale);
      for (let i = 0; i < n; i++) for (let d = 0; d < 3; d++) out[(b * N + i) * D + d] = (moved[i * 3 + d] - centre[d]) / fx;
      for (let d = 0; d < 3; d++) centres[b * 3 + d] += translation[d];
    }
    return tf.tensor3d(out, [B, N, D]);
  };
  return { guide, centres };
}

/**
 * The inpainting spec of a fragment: its atoms first in every row, with normalised values in a
 * frame centred on the fragment.
 * @throws OptionError for an element the model does not know, or a ligand no larger than it
 */
function fragmentSpec(model: EdmModel, fragment: Molecule, nNodes: Int32Array, jumps: number): InpaintSpec {
  const decoder = model.config.dataset.atomDecoder;
  const { normalizeFactors: f, includeCharges } = model.config.diffusion;
  const K = decoder.length;
  const D = 3 + K + (includeCharges ? 1 : 0);
  const B = nNodes.length;
  const N = Math.max(...nNodes);
  const m = fragment.elements.length;
  if (nNodes.some((n) => n <= m)) throw new OptionError(`ligands must be larger than the fixed fragment (${m} atoms): raise --n-atoms or the reference size`);
  const centroid = [0, 1, 2].map((d) => fragment.elements.reduce((acc, _, i) => acc + fragment.positions[i * 3 + d], 0) / m);
  const known = new Float32Array(B * N);
  const xh = new Float32Array(B * N * D);
  fragment.elements.forEach((e, i) => {
    const k = decoder.indexOf(e);
    if (k < 0) throw new OptionError(`--fix-fragment: element ${e} is not one the checkpoint generates (${decoder.join(', ')})`);
    for (let b = 0; b < B; b++) {
      const a = b * N + i;
      known[a] = 1;
      for (let d = 0; d < 3; d++) xh[a * D + d] = (fragment.positions[i * 3 + d] - centroid[d]) / f[0];
      xh[a * D + 3 + k] = 1 / f[1];
      if (includeCharges) xh[a * D + D - 1] = (ATOMIC_NUMBER[e] ?? 0) / f[2];
    }
  });
  return { known, xh, jumps };
}

/**
 * Where a sampled ligand goes in the protein frame: its fragment onto the given one, else its
 * centre of mass on `centre` (the site centre, moved by guidance).
 */
function placement(x: Float32Array, row: number, N: number, centre: ArrayLike<number>, fragment?: Molecule): number[] {
  if (!fragment) return Array.from(centre);
  const m = fragment.elements.length;
  return [0, 1, 2].map((d) => {
    let given = 0;
    let made = 0;
    for (let i = 0; i < m; i++) {
      given += fragment.positions[i * 3 + d] / m;
      made += x[(row * N + i) * 3 + d] / m;
    }
    return given - made;
  });
}

/**
 * Generate ligands in a pocket, through the shared sampling core (generate/: ligand i has its own
 * random stream of `seed`) with per-batch hooks: the guidance step, the fragment's inpainting, and
 * the placement of each ligand in the protein frame.
 * @returns molecules in the protein's frame (Å), in generation order, named `ligand k`
 * @throws OptionError for n < 1, a negative guidance or sizes that do not match n;
 *   InterruptedError when `opts.signal` is aborted
 */
export async function sampleInPocket(model: EdmModel, site: PocketSite, opts: PocketSampleOptions): Promise<Molecule[]> {
  if (!(Number.isInteger(opts.n) && opts.n >= 1)) throw new OptionError(`-n must be a positive integer, got ${opts.n}`);
  if (!(opts.guidance >= 0)) throw new OptionError(`--guidance must be >= 0, got ${opts.guidance}`);
  const sizes = Array.from(opts.sizes);
  if (sizes.length !== opts.n || sizes.some((k) => !(k >= 1))) throw new OptionError(`ligand sizes must be ${opts.n} positive counts`);
  const steps = denoisingSteps(opts.steps ?? model.schedule.timesteps, model.schedule.timesteps);
  const { fragment } = opts;
  if (fragment && opts.guidance > 0) throw new OptionError('--fix-fragment places the ligand by its fragment: use it with --guidance 0');
  const hooks: SamplingHooks = {
    forBatch: (nAtoms) => {
      const guided = opts.guidance > 0 ? pocketGuide(model, site, opts.guidance, steps, nAtoms.length) : undefined;
      return {
        guide: guided?.guide,
        inpaint: fragment ? fragmentSpec(model, fragment, nAtoms, opts.jumps ?? 5) : undefined,
        place: (row, x, N) => placement(x, row, N, guided ? guided.centres.subarray(row * 3, row * 3 + 3) : site.centre, fragment),
      };
    },
  };
  const { seed, temperature, corrector, elements, batchSize, onProgress } = opts;
  const ligands = await sampleMoleculesYielding(model, { n: opts.n, seed, sizes, steps, batchSize: batchSize ?? opts.n, temperature, corrector, elements, onProgress, hooks }, opts.signal);
  return ligands.map((m, i) => ({ ...m, name: `ligand ${i + 1}` }));
}
