/**
 * Sampling at the level users think in: numbers of molecules in, Molecule[] out.
 */
import type { Molecule } from './data/molecule.js';
import { sampleNNodes } from './data/dataset.js';
import type { EdmModel } from './diffusion/model.js';
import { sampleChain } from './diffusion/sampler.js';
import { OptionError } from './errors.js';
import { Rng } from './random.js';

/** Options of `sampleMolecules`. */
export interface SampleOptions {
  /** number of molecules */
  n: number;
  /** seed of the run: sizes and every batch's noise derive from it */
  seed: number | string;
  /** molecules denoised together (memory grows with batchSize * atoms^2) */
  batchSize?: number;
  /** denoising steps (default: the model's T) */
  steps?: number;
  /** a fixed atom count for every molecule instead of the training histogram */
  nAtoms?: number;
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

/** One finished batch, as plain data (crosses worker boundaries). */
export interface BatchResult {
  molecules: Molecule[];
  chains: Molecule[][];
}

/**
 * Denoise one batch with its own random stream, derived from the run's seed and the batch
 * index, so the output does not depend on which worker ran it.
 * @param chain keep the trajectories of the first `chain` molecules of this batch
 */
export function sampleBatch(
  model: EdmModel,
  nNodes: Int32Array,
  index: number,
  seed: string,
  steps: number | undefined,
  chain: number,
  onStep?: (step: number, steps: number) => void,
): BatchResult {
  const decoder = model.config.dataset.atomDecoder;
  const keep = Array.from({ length: Math.min(chain, nNodes.length) }, (_, r) => r);
  const out = sampleChain(model, nNodes, new Rng(`${seed}:batch${index}`), { steps, keepChainOf: keep.length ? keep : undefined, onStep });
  const molecules: Molecule[] = [];
  for (let b = 0; b < nNodes.length; b++) {
    const k = nNodes[b];
    const elements: string[] = [];
    for (let i = 0; i < k; i++) elements.push(decoder[out.atomTypes[b * out.N + i]]);
    molecules.push({ elements, positions: out.x.slice(b * out.N * 3, b * out.N * 3 + k * 3) });
  }
  const chains = (out.chains ?? []).map((frames) => frames.map((f) => ({ elements: Array.from(f.atomTypes, (t) => decoder[t]), positions: f.x })));
  return { molecules, chains };
}

/** A sampling run cut into batches: sizes drawn up front, then one task per batch. */
export interface SamplingPlan {
  seed: string;
  steps?: number;
  chain: number;
  batches: Int32Array[];
}

/**
 * Draw the molecule sizes and cut them into batches. The plan depends only on the options,
 * never on the number of workers, so a seed gives the same molecules everywhere.
 * @throws OptionError for n < 1, batchSize < 1, a bad atom count
 */
export function planSampling(model: EdmModel, opts: { n: number; batchSize?: number; nAtoms?: number; steps?: number; seed: number | string; chain?: number }): SamplingPlan {
  const { n } = opts;
  const batchSize = opts.batchSize ?? 64;
  if (!Number.isInteger(n) || n < 1) throw new OptionError(`number of molecules must be a positive integer, got ${n}`);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new OptionError(`batch size must be a positive integer, got ${batchSize}`);
  if (opts.nAtoms !== undefined && (!Number.isInteger(opts.nAtoms) || opts.nAtoms < 2 || opts.nAtoms > 1000)) {
    throw new OptionError(`--n-atoms must be an integer in 2..1000, got ${opts.nAtoms}`);
  }
  const T = model.schedule.timesteps;
  if (opts.steps !== undefined && (!Number.isInteger(opts.steps) || opts.steps < 1 || opts.steps > T)) {
    throw new OptionError(`steps must be an integer in 1..${T}, got ${opts.steps}`);
  }
  const seed = String(opts.seed);
  // sizes sorted so that each batch pads to nearly its own size: edge work grows with N^2, and
  // random sizes would pad a batch of 50 QM9-sized molecules to about 27 atoms for a mean of 18
  const sizes = opts.nAtoms !== undefined ? new Int32Array(n).fill(opts.nAtoms) : sampleNNodes(model.config.dataset.nNodesHistogram, n, new Rng(`${seed}:sizes`)).sort();
  const batches: Int32Array[] = [];
  for (let start = 0; start < n; start += batchSize) batches.push(sizes.slice(start, Math.min(n, start + batchSize)));
  return { seed, steps: opts.steps, chain: opts.chain ?? 0, batches };
}

/** Name molecules `sample 1..n` and their trajectory frames, in plan order. */
export function assemble(results: BatchResult[]): SampleResult {
  const molecules: Molecule[] = [];
  const chains: Molecule[][] = [];
  for (const r of results) {
    for (const m of r.molecules) molecules.push({ ...m, name: `sample ${molecules.length + 1}` });
    for (const frames of r.chains) chains.push(frames.map((f, fi) => ({ ...f, name: `sample ${chains.length + 1} frame ${fi}` })));
  }
  return { molecules, chains };
}

/**
 * Generate molecules in this thread (EDM sample with n_nodes from the histogram).
 * @throws OptionError for impossible options
 */
export function sampleMoleculesWithChains(model: EdmModel, opts: SampleOptions): SampleResult {
  const plan = planSampling(model, { ...opts, seed: opts.seed });
  const results: BatchResult[] = [];
  let done = 0;
  plan.batches.forEach((nNodes, index) => {
    const chain = Math.max(0, plan.chain - done);
    results.push(sampleBatch(model, nNodes, index, plan.seed, plan.steps, chain, (step, steps) => opts.onProgress?.(done, step, steps)));
    done += nNodes.length;
    opts.onProgress?.(done, 0, 0);
  });
  return assemble(results);
}

/** Generate molecules; see `sampleMoleculesWithChains`. */
export function sampleMolecules(model: EdmModel, opts: SampleOptions): Molecule[] {
  return sampleMoleculesWithChains(model, opts).molecules;
}
