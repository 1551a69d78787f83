/**
 * The data of a sampling run: options, plans, per-batch results (plain data: they cross worker
 * boundaries).
 */
import type { PocketNodes } from '../data/complex.js';
import type { Molecule } from '../data/molecule.js';
import type { CorrectorOptions, SampleChainOptions } from '../diffusion/sampler.js';

/** Options of `sampleMolecules` (this thread). */
export interface SampleOptions extends PlanOptions {
  /** progress: molecules finished and denoising steps done in the current batch */
  onProgress?: (done: number, step: number, steps: number) => void;
  /** per-batch guidance, inpainting and placement (functions: this thread only) */
  hooks?: SamplingHooks;
}

/**
 * What a caller adds to each batch of an in-thread run: a guidance step after every reverse
 * step, known atoms to keep (RePaint inpainting), and a translation of each finished molecule
 * (pocket guidance moves a ligand's frame; a fragment places it).
 */
export interface SamplingHooks {
  /** @param nAtoms the batch's atom counts */
  forBatch(nAtoms: Int32Array): BatchHooks;
}

/** One batch's hooks (see `SamplingHooks`). */
export interface BatchHooks {
  guide?: SampleChainOptions['guide'];
  inpaint?: SampleChainOptions['inpaint'];
  /**
   * translation `[3]`, Å, added to row `row`'s positions once denoised
   * @param x the sampler's positions `[B * N * 3]`, Å
   */
  place?: (row: number, x: Float32Array, N: number) => ArrayLike<number>;
}

/** Result of a sampling run with optional trajectories. */
export interface SampleResult {
  molecules: Molecule[];
  /** per kept molecule, frames from noise to the final molecule */
  chains: Molecule[][];
}

/** One finished batch, as plain data (crosses worker boundaries). */
export interface BatchResult {
  molecules: Molecule[];
  chains: Molecule[][];
}

/** What decides a sampling run's molecules (checked by `planSampling`). */
export interface PlanOptions {
  /** number of molecules */
  n: number;
  /** seed of the run: sizes and every batch's noise derive from it */
  seed: number | string;
  /** molecules denoised together (default min(50, ceil(n / 2)); memory grows with batchSize * atoms^2) */
  batchSize?: number;
  /** denoising steps, 1..T (default: the model's T) */
  steps?: number;
  /** a fixed atom count (2..1000) for every molecule instead of the training histogram */
  nAtoms?: number;
  /** the atom count of each molecule (n of them, each >= 1) instead of the histogram or `nAtoms` */
  sizes?: ArrayLike<number>;
  /**
   * with a pocket-conditioned checkpoint (and only with one): the pocket every molecule is made
   * in, as fixed context nodes; positions come back in the protein's frame
   */
  pocket?: PocketNodes;
  /** keep the denoising trajectory of the first `chain` molecules */
  chain?: number;
  /** scale of the reverse steps' noise (default 1, EDM's sampler; see sampler.ts) */
  temperature?: number;
  /**
   * Langevin corrector steps in the last part of the chain: default `DEFAULT_CORRECTOR` (2 steps,
   * snr 0.1, last 20%); `false` for EDM's ancestral sampler (see sampler.ts)
   */
  corrector?: CorrectorOptions | false;
  /**
   * type atoms with the checkpoint's element model (model.elements): from diffusion time `from`
   * (fraction of T; 0: at the end only) on, see SampleChainOptions.elements. Default: not used.
   */
  elements?: ElementSampling;
  /**
   * with a property-conditioned checkpoint (and only with one): each conditioned property's
   * value for every molecule, or `'draw'` to draw it with the atom count from the training
   * distribution (EDM's protocol); every property of the model must be given
   */
  condition?: Record<string, number | 'draw'>;
}

/** How a run uses the checkpoint's element model. */
export interface ElementSampling {
  /** the diffusion time (0..1) from which atoms are typed by the element model; 0: at the end only */
  from: number;
}

/** Molecules denoised together: their run-wide indices and atom counts. */
export interface PlannedBatch {
  /** run-wide molecule indices: each keys its molecule's random stream and its name */
  ids: Int32Array;
  nNodes: Int32Array;
  /** `[B * P]` the molecules' conditioned property values, in the model's order (property-conditioned models) */
  properties?: Float64Array;
}

/**
 * A sampling run cut into batches: sizes drawn up front, molecule by molecule from one stream
 * (so a longer run begins with a shorter one's sizes), then one task per batch. Molecule i's
 * noise comes from its own stream, so molecule i of a seed does not depend on the run's length,
 * batch size, workers or shards.
 */
export interface SamplingPlan {
  seed: string;
  steps?: number;
  temperature?: number;
  /** the corrector the run uses (the default resolved), none when undefined */
  corrector?: CorrectorOptions;
  /** the pocket of a pocket-conditioned model (see PlanOptions) */
  pocket?: PocketNodes;
  /** the element model's use (see PlanOptions) */
  elements?: ElementSampling;
  /** the whole run's first `chain` molecules keep their trajectories */
  chain: number;
  batches: PlannedBatch[];
  /** the run-wide indices [start, end) of this plan's molecules (a shard's part of the run) */
  range: { start: number; end: number };
}
