/**
 * Sampling at the level users think in: numbers of molecules in, Molecule[] out.
 */
import type { Molecule } from './data/molecule.js';
import { sampleNNodes } from './data/dataset.js';
import type { EdmModel } from './diffusion/model.js';
import { sampleChain } from './diffusion/sampler.js';
import { OptionError } from './errors.js';
import type { Rng } from './random.js';

/** Options of `sampleMolecules`. */
export interface SampleOptions {
  /** number of molecules */
  n: number;
  /** molecules denoised together (memory grows with batchSize * atoms^2) */
  batchSize?: number;
  /** denoising steps (default: the model's T) */
  steps?: number;
  /** a fixed atom count for every molecule instead of the training histogram */
  nAtoms?: number;
  rng: Rng;
  /** progress: molecules finished and denoising steps done in the current batch */
  onProgress?: (done: number, step: number, steps: number) => void;
  /** write the denoising trajectory of the first `chain` molecules */
  chain?: number;
}

/** Result of a sampling run with optional trajectories. */
export interface SampleResult {
  molecules: Molecule[];
  /** per kept molecule, frames from noise to the final molecule */
  chains: Molecule[][];
}

/**
 * Generate molecules (EDM sample with n_nodes from the histogram).
 * @throws OptionError for n < 1, batchSize < 1, a bad atom count or step count
 */
export function sampleMoleculesWithChains(model: EdmModel, opts: SampleOptions): SampleResult {
  const { n, rng } = opts;
  const batchSize = opts.batchSize ?? 64;
  if (!Number.isInteger(n) || n < 1) throw new OptionError(`number of molecules must be a positive integer, got ${n}`);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new OptionError(`batch size must be a positive integer, got ${batchSize}`);
  if (opts.nAtoms !== undefined && (!Number.isInteger(opts.nAtoms) || opts.nAtoms < 2 || opts.nAtoms > 1000)) {
    throw new OptionError(`--n-atoms must be an integer in 2..1000, got ${opts.nAtoms}`);
  }
  const sizes = opts.nAtoms !== undefined ? new Int32Array(n).fill(opts.nAtoms) : sampleNNodes(model.config.dataset.nNodesHistogram, n, rng);
  const decoder = model.config.dataset.atomDecoder;
  const molecules: Molecule[] = [];
  const chains: Molecule[][] = [];
  for (let start = 0; start < n; start += batchSize) {
    const nNodes = sizes.slice(start, Math.min(n, start + batchSize));
    const keep = [];
    for (let r = 0; r < nNodes.length && start + r < (opts.chain ?? 0); r++) keep.push(r);
    const out = sampleChain(model, nNodes, rng, {
      steps: opts.steps,
      keepChainOf: keep.length ? keep : undefined,
      onStep: (step, steps) => opts.onProgress?.(start, step, steps),
    });
    for (let b = 0; b < nNodes.length; b++) {
      const k = nNodes[b];
      const elements: string[] = [];
      for (let i = 0; i < k; i++) elements.push(decoder[out.atomTypes[b * out.N + i]]);
      molecules.push({ elements, positions: out.x.slice(b * out.N * 3, b * out.N * 3 + k * 3), name: `sample ${start + b + 1}` });
    }
    out.chains?.forEach((frames, c) => {
      chains.push(frames.map((f, fi) => ({ elements: Array.from(f.atomTypes, (t) => decoder[t]), positions: f.x, name: `sample ${start + c + 1} frame ${fi}` })));
    });
    opts.onProgress?.(Math.min(n, start + batchSize), 0, 0);
  }
  return { molecules, chains };
}

/** Generate molecules; see `sampleMoleculesWithChains`. */
export function sampleMolecules(model: EdmModel, opts: SampleOptions): Molecule[] {
  return sampleMoleculesWithChains(model, opts).molecules;
}
