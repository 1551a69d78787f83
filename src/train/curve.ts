/**
 * The learning curve's measurement: at fixed steps, sample a fixed-seed set of molecules from the
 * EMA weights and score them (EDM's metrics); the trainer records them with the validation NLL in
 * `curve.csv` (report/curve-data.ts) against steps, epochs and CPU-hours.
 */
import type { BackendName } from '../backend.js';
import type { ComplexExample } from '../data/complex.js';
import type { Molecule } from '../data/molecule.js';
import type { EdmModel } from '../diffusion/model.js';
import type { CurveRow, OWN_BOND_CURVE_COLUMNS } from '../report/curve-data.js';
import { evaluateMolecules } from '../metrics/evaluate.js';
import { generate } from '../generate/run.js';

/** How a curve point is measured. */
export interface CurveProbeOptions {
  /** molecules sampled at each point (fixed seed, so points differ only by the weights) */
  samples: number;
  /** denoising steps of each sample (strided from the trained schedule) */
  steps: number;
  /** worker threads for sampling (0: this thread) */
  workers: number;
  backend: BackendName;
  /**
   * a pocket-conditioned model's probe complexes: the samples are shared among their pockets,
   * each ligand the size of the complex's own
   */
  pockets?: ComplexExample[];
}

/** The fixed seed of the curve's sample set. */
export const CURVE_SEED = 'curve';

/** Molecules per sampling batch of a curve point (200 molecules: 8 batches to share among workers). */
export const CURVE_BATCH_SIZE = 25;

/** What a curve point measures on its samples (the own-bond columns only for a bond-aware model). */
export type ProbeScores = Pick<CurveRow, 'atom_stability' | 'molecule_stability' | 'validity' | 'uniqueness' | 'connected_validity' | 'samples' | 'sampling_steps' | (typeof OWN_BOND_CURVE_COLUMNS)[number]>;

/**
 * Sample the fixed set from a model and score it (EDM's stability and RDKit validity; a
 * bond-aware model's samples also on their own bonds).
 * @param checkpointDir where the same EMA weights are saved (workers load them from there)
 */
export async function probeSamples(
  model: EdmModel,
  checkpointDir: string,
  opts: CurveProbeOptions,
): Promise<ProbeScores> {
  // a fixed batch size: the batches (and so the molecules) must not depend on the worker count
  // EDM's sampler (no corrector): the curve measures the model, comparable across runs
  const common = { batchSize: CURVE_BATCH_SIZE, steps: opts.steps, corrector: false as const, workers: Math.max(1, opts.workers), backend: opts.backend };
  const molecules: Molecule[] = [];
  if (opts.pockets?.length) {
    const P = opts.pockets.length;
    for (const [j, e] of opts.pockets.entries()) {
      const n = Math.floor(opts.samples / P) + (j < opts.samples % P ? 1 : 0);
      if (n === 0) continue;
      const sizes = new Int32Array(n).fill(e.ligand.elements.length);
      molecules.push(...(await generate(checkpointDir, model, { ...common, n, sizes, pocket: e.pocket, seed: `${CURVE_SEED}:pocket${j}` })).molecules);
    }
  } else {
    molecules.push(...(await generate(checkpointDir, model, { ...common, n: opts.samples, seed: CURVE_SEED })).molecules);
  }
  const r = await evaluateMolecules(molecules);
  return {
    atom_stability: r.atomStability,
    molecule_stability: r.moleculeStability,
    validity: r.validity,
    // NaN (written as NaN, drawn as a gap) when no molecule is valid
    uniqueness: r.uniqueness ?? NaN,
    connected_validity: r.connectedValidity,
    samples: r.molecules,
    sampling_steps: opts.steps,
    ...(r.ownBonds
      ? {
          own_atom_stability: r.ownBonds.atomStability,
          own_molecule_stability: r.ownBonds.moleculeStability,
          own_validity: r.ownBonds.validity,
          own_connected_validity: r.ownBonds.connectedValidity,
        }
      : {}),
  };
}
