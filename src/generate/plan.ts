/**
 * Planning a sampling run (sizes drawn up front, cut into batches) and assembling its results in
 * plan order, so a seed gives the same molecules whatever runs the batches.
 */
import { sampleNNodes } from '../data/dataset.js';
import type { Molecule } from '../data/molecule.js';
import type { EdmModel } from '../diffusion/model.js';
import { checkSamplerOptions, denoisingSteps } from '../diffusion/sampler.js';
import { OptionError } from '../errors.js';
import { integerOption, optionalInteger } from '../options.js';
import { Rng } from '../random.js';
import type { BatchResult, PlanOptions, SampleResult, SamplingPlan } from './types.js';

/**
 * Draw the molecule sizes and cut them into batches. The plan depends only on the options,
 * never on the number of workers, so a seed gives the same molecules everywhere.
 * @throws OptionError for n < 1, batchSize < 1, a bad atom count, steps outside 1..T, chain < 0,
 *   a negative temperature or an impossible corrector
 */
export function planSampling(model: EdmModel, opts: PlanOptions): SamplingPlan {
  const n = integerOption('-n', opts.n);
  const batchSize = integerOption('--batch-size', opts.batchSize ?? 64);
  const nAtoms = optionalInteger('--n-atoms', opts.nAtoms, 2, 1000);
  const steps = opts.steps === undefined ? undefined : denoisingSteps(opts.steps, model.schedule.timesteps);
  const chain = integerOption('--chain', opts.chain ?? 0, 0);
  checkSamplerOptions(opts);
  const seed = String(opts.seed);
  // sizes sorted so that each batch pads to nearly its own size: edge work grows with N^2, and
  // random sizes would pad a batch of 50 QM9-sized molecules to about 27 atoms for a mean of 18
  const sizes = nAtoms !== undefined ? new Int32Array(n).fill(nAtoms) : sampleNNodes(model.config.dataset.nNodesHistogram, n, new Rng(`${seed}:sizes`)).sort();
  const batches: Int32Array[] = [];
  for (let start = 0; start < n; start += batchSize) batches.push(sizes.slice(start, Math.min(n, start + batchSize)));
  return { seed, steps, temperature: opts.temperature, corrector: opts.corrector, chain, batches, first: { batch: 0, molecule: 0 } };
}

/**
 * The `index`-th of `count` shards of a plan (0-based): a contiguous run of its batches, so that
 * the shards' molecules, in shard order, are exactly the whole plan's. Batches keep their
 * place in the whole run (their random streams), whatever machine runs the shard.
 * @throws OptionError when index is not in 0..count-1 or the shard would have no batch
 */
export function shardPlan(plan: SamplingPlan, index: number, count: number): SamplingPlan {
  integerOption('the shard count', count);
  integerOption('the shard index', index, 0, count - 1);
  const B = plan.batches.length;
  if (count > B) throw new OptionError(`--shard ${index}/${count}: the run has only ${B} batches; use at most ${B} shards or a smaller --batch-size`);
  const lo = Math.floor((index * B) / count);
  const hi = Math.floor(((index + 1) * B) / count);
  const before = plan.batches.slice(0, lo).reduce((n, b) => n + b.length, 0);
  return { ...plan, batches: plan.batches.slice(lo, hi), first: { batch: plan.first.batch + lo, molecule: plan.first.molecule + before } };
}

/** Trajectories to keep in a batch: the run keeps those of its first `plan.chain` molecules. */
export function chainInBatch(plan: SamplingPlan, moleculesBefore: number): number {
  return Math.max(0, plan.chain - (plan.first.molecule + moleculesBefore));
}

/**
 * Finished batches, given in plan order, become named molecules (`sample k`, k counted over the
 * whole run) with their trajectory frames; each batch is handed on at once (to be written and
 * scored while the run goes on), and at most `keep` molecules are kept.
 */
export class Assembler {
  private readonly molecules: Molecule[] = [];
  private readonly chains: Molecule[][] = [];
  private count = 0;
  private chainCount = 0;

  constructor(
    private readonly plan: SamplingPlan,
    private readonly keep = Number.POSITIVE_INFINITY,
    private readonly onBatch?: (batch: SampleResult) => void,
  ) {}

  /** Add the next batch of the plan. */
  add(r: BatchResult): void {
    const k0 = this.plan.first.molecule;
    const molecules = r.molecules.map((m) => ({ ...m, name: `sample ${k0 + ++this.count}` }));
    const chains = r.chains.map((frames) => {
      const k = k0 + ++this.chainCount;
      return frames.map((f, fi) => ({ ...f, name: `sample ${k} frame ${fi}` }));
    });
    this.onBatch?.({ molecules, chains });
    for (const m of molecules) if (this.molecules.length < this.keep) this.molecules.push(m);
    this.chains.push(...chains);
  }

  /** The molecules kept and every trajectory. */
  result(): SampleResult {
    return { molecules: this.molecules, chains: this.chains };
  }
}
