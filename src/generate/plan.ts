/**
 * Planning a sampling run (sizes drawn up front, cut into batches) and assembling its results in
 * plan order, so a seed gives the same molecules whatever runs the batches.
 */
import { sampleNNodes } from '../data/dataset.js';
import type { Molecule } from '../data/molecule.js';
import type { EdmModel } from '../diffusion/model.js';
import { denoisingSteps } from '../diffusion/sampler.js';
import { integerOption, optionalInteger } from '../options.js';
import { Rng } from '../random.js';
import type { BatchResult, PlanOptions, SampleResult, SamplingPlan } from './types.js';

/**
 * Draw the molecule sizes and cut them into batches. The plan depends only on the options,
 * never on the number of workers, so a seed gives the same molecules everywhere.
 * @throws OptionError for n < 1, batchSize < 1, a bad atom count, steps outside 1..T, chain < 0
 */
export function planSampling(model: EdmModel, opts: PlanOptions): SamplingPlan {
  const n = integerOption('-n', opts.n);
  const batchSize = integerOption('--batch-size', opts.batchSize ?? 64);
  const nAtoms = optionalInteger('--n-atoms', opts.nAtoms, 2, 1000);
  const steps = opts.steps === undefined ? undefined : denoisingSteps(opts.steps, model.schedule.timesteps);
  const chain = integerOption('--chain', opts.chain ?? 0, 0);
  const seed = String(opts.seed);
  // sizes sorted so that each batch pads to nearly its own size: edge work grows with N^2, and
  // random sizes would pad a batch of 50 QM9-sized molecules to about 27 atoms for a mean of 18
  const sizes = nAtoms !== undefined ? new Int32Array(n).fill(nAtoms) : sampleNNodes(model.config.dataset.nNodesHistogram, n, new Rng(`${seed}:sizes`)).sort();
  const batches: Int32Array[] = [];
  for (let start = 0; start < n; start += batchSize) batches.push(sizes.slice(start, Math.min(n, start + batchSize)));
  return { seed, steps, chain, batches };
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

