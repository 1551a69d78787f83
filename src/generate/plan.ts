/**
 * Planning a sampling run (sizes drawn up front, molecules grouped by size into batches) and
 * assembling its results in molecule order, so a seed gives the same molecules whatever runs
 * the batches: molecule i has its own random stream (see types.ts SamplingPlan).
 */
import { sampleNNodes } from '../data/dataset.js';
import type { Molecule } from '../data/molecule.js';
import type { EdmModel } from '../diffusion/model.js';
import { checkSamplerOptions, correctorOrDefault, denoisingSteps } from '../diffusion/sampler.js';
import { OptionError } from '../errors.js';
import { integerOption, numberOption, optionalInteger } from '../options.js';
import { Rng } from '../random.js';
import { pocketConditioning, propertyConditioning } from '../config.js';
import { drawProperty } from '../properties/conditioning.js';
import type { BatchResult, PlanOptions, PlannedBatch, SampleResult, SamplingPlan } from './types.js';

/**
 * Molecules of one run at most: the plan draws every size up front (4 bytes each) and a run of
 * this size takes days on 2 cores; larger sets are made as shards (`--shard i/k`) or several seeds.
 */
export const MAX_MOLECULES = 10_000_000;

/**
 * Atom pairs (molecules x atoms^2) of a default batch at most: 50 QM9 molecules of 29 atoms, so
 * QM9 batches are never cut by it, while large molecules (GEOM-Drugs: up to 181 atoms, whose
 * edge tensors grow as atoms^2) go in smaller batches that fit in memory.
 */
export const PAIR_BUDGET = 50 * 29 * 29;

/**
 * Cut ids sorted by size into batches of at most `batchSize`; with `capped` (no batch size
 * asked), also at most PAIR_BUDGET atom pairs (each batch pads to its largest, last, molecule).
 */
function cutBatches(ids: number[], sizes: Int32Array, batchSize: number, capped: boolean): Int32Array[] {
  const out: Int32Array[] = [];
  let part: number[] = [];
  for (const id of ids) {
    if (part.length === batchSize || (capped && part.length > 0 && (part.length + 1) * sizes[id] ** 2 > PAIR_BUDGET)) {
      out.push(Int32Array.from(part));
      part = [];
    }
    part.push(id);
  }
  if (part.length) out.push(Int32Array.from(part));
  return out;
}

/** Batches of this many at most are grouped by size together (memory of the reordering). */
const WINDOW_BATCHES = 16;

/**
 * The default batch size of a run of `n` molecules: at most 50, and small runs split in two so
 * that two cores share them (the library and `edm sample` alike).
 */
export function defaultBatchSize(n: number): number {
  return Math.min(50, Math.ceil(n / 2));
}

/** The random stream of molecule `id` of a run with `seed`. */
export const moleculeRng = (seed: string, id: number): Rng => new Rng(`${seed}:mol${id}`);

/**
 * Draw the molecule sizes and cut them into batches. Molecules are grouped by size within
 * windows of 16 batches aligned to the run's indices, so that each batch pads to nearly its own
 * size (edge work grows with N^2). With `shard`, only that 0-based part of `count` contiguous
 * index ranges is planned: the shards' molecules, in shard order, are the whole run's.
 * @throws OptionError for n < 1, batchSize < 1, a bad atom count or size list, steps outside
 *   1..T, chain < 0, a negative temperature, an impossible corrector, a shard count above n, a
 *   pocket-conditioned checkpoint without a pocket (or a pocket for another), or trajectories
 *   asked of a pocket model
 */
export function planSampling(model: EdmModel, opts: PlanOptions, shard?: { index: number; count: number }): SamplingPlan {
  const n = integerOption('-n', opts.n, 1, MAX_MOLECULES);
  const batchSize = integerOption('--batch-size', opts.batchSize ?? defaultBatchSize(n));
  const nAtoms = optionalInteger('--n-atoms', opts.nAtoms, 2, 1000);
  const steps = opts.steps === undefined ? undefined : denoisingSteps(opts.steps, model.schedule.timesteps);
  const chain = integerOption('--chain', opts.chain ?? 0, 0);
  const corrector = correctorOrDefault(opts.corrector);
  checkSamplerOptions({ temperature: opts.temperature, corrector });
  checkPocket(model, opts, chain);
  checkElementSampling(model, opts);
  const condition = checkCondition(model, opts);
  const seed = String(opts.seed);
  let [start, end] = [0, n];
  if (shard) {
    integerOption('the shard count', shard.count);
    integerOption('the shard index', shard.index, 0, shard.count - 1);
    if (shard.count > n) throw new OptionError(`--shard ${shard.index}/${shard.count}: the run has only ${n} molecules; use at most ${n} shards`);
    [start, end] = [Math.floor((shard.index * n) / shard.count), Math.floor(((shard.index + 1) * n) / shard.count)];
  }
  // one stream of sizes, molecule by molecule: a longer run begins with a shorter one's sizes
  const sizes = opts.sizes !== undefined ? givenSizes(opts.sizes, n) : nAtoms !== undefined ? new Int32Array(end).fill(nAtoms) : sampleNNodes(model.config.dataset.nNodesHistogram, end, new Rng(`${seed}:sizes`));
  const window = batchSize * WINDOW_BATCHES;
  const batches: PlannedBatch[] = [];
  for (let w0 = Math.floor(start / window) * window; w0 < end; w0 += window) {
    const ids = Array.from({ length: Math.min(end, w0 + window) - Math.max(start, w0) }, (_, k) => Math.max(start, w0) + k);
    ids.sort((a, b) => sizes[a] - sizes[b] || a - b);
    for (const part of cutBatches(ids, sizes, batchSize, opts.batchSize === undefined)) {
      const nNodes = Int32Array.from(part, (i) => sizes[i]);
      batches.push({ ids: part, nNodes, ...(condition ? { properties: condition(part, nNodes, seed) } : {}) });
    }
  }
  return { seed, steps, temperature: opts.temperature, corrector, pocket: opts.pocket, ...(opts.elements ? { elements: { from: opts.elements.from } } : {}), chain, batches, range: { start, end } };
}

/**
 * The conditioned property values of a batch's molecules for a property-conditioned model:
 * fixed values, or values drawn from the training distribution of each molecule's size from the
 * molecule's own stream (so shards and batch sizes give the same values).
 * @returns a function of the batch (ids, sizes, seed) giving `[B * P]` values, or undefined for
 *   an unconditioned model
 * @throws OptionError for conditions given to a model without property conditioning, a missing,
 *   unknown or non-finite property value, or `draw` for a property without a stored distribution
 */
function checkCondition(model: EdmModel, opts: PlanOptions): ((ids: Int32Array, nNodes: Int32Array, seed: string) => Float64Array) | undefined {
  const c = propertyConditioning(model.config);
  const given = opts.condition ?? {};
  if (!c) {
    if (Object.keys(given).length > 0) throw new OptionError(`--condition: this checkpoint is not conditioned on properties (it was trained without --condition)`);
    return undefined;
  }
  const names = c.properties.map((p) => p.name);
  const unknown = Object.keys(given).find((k) => !names.includes(k));
  if (unknown !== undefined) throw new OptionError(`--condition ${unknown}: the checkpoint is conditioned on ${names.join(', ')}`);
  for (const p of c.properties) {
    const v = given[p.name];
    if (v === undefined) throw new OptionError(`this checkpoint is conditioned on ${names.join(', ')}: give --condition ${p.name}=VALUE (${p.unit}), or --condition ${p.name} to draw values as EDM's protocol does`);
    if (v === 'draw' && !p.distribution) throw new OptionError(`--condition ${p.name}: the checkpoint stores no training distribution of ${p.name} to draw from; give a value (--condition ${p.name}=VALUE)`);
    if (v !== 'draw' && !Number.isFinite(v)) throw new OptionError(`--condition ${p.name}=${v}: not a finite number`);
  }
  return (ids, nNodes, seed) => {
    const P = c.properties.length;
    const out = new Float64Array(ids.length * P);
    ids.forEach((id, b) => {
      const rng = new Rng(`${seed}:properties${id}`);
      c.properties.forEach((p, k) => {
        const v = given[p.name];
        out[b * P + k] = v === 'draw' ? drawProperty(p, nNodes[b], rng) : v;
      });
    });
    return out;
  };
}

/** @throws OptionError for a pocket model without a pocket, a pocket for another model, or a pocket model's trajectories */
function checkPocket(model: EdmModel, opts: PlanOptions, chain: number): void {
  const conditioned = pocketConditioning(model.config) !== undefined;
  if (conditioned && !opts.pocket) throw new OptionError('this checkpoint is pocket-conditioned: it makes ligands in a pocket (edm pocket), not molecules on their own');
  if (!conditioned && opts.pocket) throw new OptionError('a pocket is context for a pocket-conditioned checkpoint; this one is unconditional (edm pocket guides it instead)');
  if (conditioned && chain > 0) throw new OptionError('--chain: trajectories are not kept for pocket-conditioned sampling');
}

/** @throws OptionError when the element model is asked of a checkpoint without one, or with a time outside 0..1 */
function checkElementSampling(model: EdmModel, opts: PlanOptions): void {
  if (!opts.elements) return;
  if (!model.elements) throw new OptionError('--element-model: this checkpoint ships no element model (train one with edm train --element-model --from CHECKPOINT --out CHECKPOINT/elements)');
  numberOption('--element-from', opts.elements.from, { atLeast: 0, atMost: 1 });
  if (opts.elements.from > model.elements.config.elementModel!.tMax) throw new OptionError(`--element-from ${opts.elements.from}: the element model was trained on position noise up to t = ${model.elements.config.elementModel!.tMax}`);
  if (pocketConditioning(model.config) || model.config.diffusion.bonds) throw new OptionError('--element-model: only for models without bonds or a pocket');
}

/** @throws OptionError unless `sizes` holds n integers >= 1 */
function givenSizes(sizes: ArrayLike<number>, n: number): Int32Array {
  if (sizes.length !== n || Array.from(sizes).some((k) => !(Number.isInteger(k) && k >= 1))) throw new OptionError(`the atom counts must be ${n} positive integers (one per molecule)`);
  return Int32Array.from(sizes);
}

/**
 * Finished batches, given in plan order, become named molecules (`sample k`, k = run-wide index
 * + 1) with their trajectory frames, handed on in molecule order as soon as every molecule
 * before them is done (a window of batches at most waits); at most `keep` molecules are kept.
 */
export class Assembler {
  private readonly molecules: Molecule[] = [];
  private readonly chains: Molecule[][] = [];
  private readonly waiting = new Map<number, { molecule: Molecule; chain?: Molecule[] }>();
  private next: number;

  constructor(
    private readonly plan: SamplingPlan,
    private readonly keep = Number.POSITIVE_INFINITY,
    private readonly onBatch?: (batch: SampleResult) => void,
  ) {
    this.next = plan.range.start;
  }

  /** Add the next batch of the plan (`ids`: its molecules' run-wide indices). */
  add(r: BatchResult, ids: Int32Array): void {
    let c = 0;
    r.molecules.forEach((m, k) => {
      const id = ids[k];
      const chain = id < this.plan.chain ? r.chains[c++].map((f, fi) => ({ ...f, name: `sample ${id + 1} frame ${fi}` })) : undefined;
      this.waiting.set(id, { molecule: { ...m, name: `sample ${id + 1}` }, chain });
    });
    const molecules: Molecule[] = [];
    const chains: Molecule[][] = [];
    for (let got = this.waiting.get(this.next); got; got = this.waiting.get(this.next)) {
      this.waiting.delete(this.next++);
      molecules.push(got.molecule);
      if (got.chain) chains.push(got.chain);
    }
    if (molecules.length === 0) return;
    this.onBatch?.({ molecules, chains });
    for (const m of molecules) if (this.molecules.length < this.keep) this.molecules.push(m);
    this.chains.push(...chains);
  }

  /** The molecules kept and every trajectory. */
  result(): SampleResult {
    return { molecules: this.molecules, chains: this.chains };
  }
}
