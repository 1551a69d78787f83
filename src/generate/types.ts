/**
 * The data of a sampling run: options, plans, per-batch results (plain data: they cross worker
 * boundaries).
 */
import type { Molecule } from '../data/molecule.js';
import type { CorrectorOptions } from '../diffusion/sampler.js';

/** Options of `sampleMolecules` (this thread). */
export interface SampleOptions extends PlanOptions {
  /** progress: molecules finished and denoising steps done in the current batch */
  onProgress?: (done: number, step: number, steps: number) => void;
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
  /** molecules denoised together (default 64; memory grows with batchSize * atoms^2) */
  batchSize?: number;
  /** denoising steps, 1..T (default: the model's T) */
  steps?: number;
  /** a fixed atom count (2..1000) for every molecule instead of the training histogram */
  nAtoms?: number;
  /** keep the denoising trajectory of the first `chain` molecules */
  chain?: number;
  /** scale of the reverse steps' noise (default 1, EDM's sampler; see sampler.ts) */
  temperature?: number;
  /** Langevin corrector steps in the last part of the chain (default none; see sampler.ts) */
  corrector?: CorrectorOptions;
}

/** A sampling run cut into batches: sizes drawn up front, then one task per batch. */
export interface SamplingPlan {
  seed: string;
  steps?: number;
  temperature?: number;
  corrector?: CorrectorOptions;
  chain: number;
  batches: Int32Array[];
  /**
   * where this plan starts in the whole run: its first batch's index (which keys the batch's
   * random stream) and its first molecule's (0 for a whole run; a shard starts later)
   */
  first: { batch: number; molecule: number };
}
