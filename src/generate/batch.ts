/**
 * One batch of a sampling run: denoise, then turn type indices into elements.
 */
import { featureDim, pocketConditioning, propertyConditioning } from '../config.js';
import { propertyContext } from '../data/properties.js';
import { type PocketNodes, pocketContextDim, pocketRows } from '../data/complex.js';
import type { Bond, Molecule } from '../data/molecule.js';
import type { EdmModel } from '../diffusion/model.js';
import { type SampleChainOptions, sampleChainSteps } from '../diffusion/sampler.js';
import { type Stepped, runStepped } from '../diffusion/stepping.js';
import { moleculeRng } from './plan.js';
import type { BatchHooks, BatchResult, PlannedBatch, SamplingPlan } from './types.js';

/** What every batch of a run shares: the seed, the sampler's settings, the pocket and the trajectories kept (plain data). */
export type BatchSettings = Pick<SamplingPlan, 'seed' | 'steps' | 'temperature' | 'corrector' | 'chain' | 'pocket' | 'elements'>;

/**
 * Denoise one batch, each molecule with its own random stream (derived from the run's seed and
 * the molecule's index), so the output does not depend on which worker ran it or what else
 * was in the batch (up to the engine's arithmetic, see README). With a pocket (a
 * pocket-conditioned model), each row holds the molecule's atoms then the pocket nodes as fixed
 * context, in the frame centred on the pocket's origin; positions come back in the protein's frame.
 * @param hooks this batch's guidance, inpainting and placement (in-thread runs)
 * @returns the molecules in the batch's order; trajectories of those with an index below
 *   `settings.chain`, in the same order
 */
export function sampleBatch(model: EdmModel, batch: PlannedBatch, settings: BatchSettings, onStep?: (step: number, steps: number) => void, hooks: BatchHooks = {}): BatchResult {
  return runStepped(sampleBatchSteps(model, batch, settings, onStep, hooks));
}

/** `sampleBatch` pausing after every denoising step (diffusion/stepping.ts). */
export function* sampleBatchSteps(model: EdmModel, batch: PlannedBatch, settings: BatchSettings, onStep?: (step: number, steps: number) => void, hooks: BatchHooks = {}): Stepped<BatchResult> {
  const decoder = model.config.dataset.atomDecoder;
  const { ids, nNodes: nAtoms } = batch;
  const keep = Array.from(ids).flatMap((id, r) => (id < settings.chain ? [r] : []));
  const { steps, temperature, corrector, pocket } = settings;
  const rngs = Array.from(ids, (id) => moleculeRng(settings.seed, id));
  const opts: SampleChainOptions = { steps, temperature, corrector, keepChainOf: keep.length ? keep : undefined, onStep, guide: hooks.guide, inpaint: hooks.inpaint };
  if (settings.elements) {
    if (!model.elements) throw new Error('sampleBatch: the plan asks for the element model, and the model has none');
    opts.elements = { model: model.elements, from: settings.elements.from };
  }
  const nNodes = pocket ? Int32Array.from(nAtoms, (n) => n + pocket.elements.length) : nAtoms;
  const kind = model.config.conditioning?.kind;
  if (kind) Object.assign(opts, CONTEXT_PROVIDERS[kind](model, settings, batch, Math.max(...nNodes)));
  const out = yield* sampleChainSteps(model, nNodes, rngs, opts);
  const props = propertyConditioning(model.config);
  const molecules: Molecule[] = [];
  for (let b = 0; b < nAtoms.length; b++) {
    const k = nAtoms[b];
    const elements: string[] = [];
    for (let i = 0; i < k; i++) elements.push(decoder[out.atomTypes[b * out.N + i]]);
    const positions = out.x.slice(b * out.N * 3, b * out.N * 3 + k * 3);
    // the frame's origin: the pocket's, or where a hook places the molecule
    const shift = pocket?.origin ?? hooks.place?.(b, out.x, out.N);
    if (shift) for (let a = 0; a < positions.length; a++) positions[a] += shift[a % 3];
    // the asked property values travel with the molecule as SDF data fields (target_<name>)
    const targets = props && batch.properties ? { properties: Object.fromEntries(props.properties.map((p, j) => [`target_${p.name}`, batch.properties![b * props.properties.length + j]])) } : {};
    molecules.push({ elements, positions, ...(out.bondOrders ? { modelBonds: bondsOfRow(out.bondOrders, b, k, out.N) } : {}), ...targets });
  }
  const chains = (out.chains ?? []).map((frames) => frames.map((f) => ({ elements: Array.from(f.atomTypes, (t) => decoder[t]), positions: f.x })));
  return { molecules, chains };
}

/**
 * What a model's conditioning gives the sampler for one batch (its fixed atoms and per-node
 * context `[B, N, C]`, N the padded row length): one provider per kind of conditioning, so a
 * new kind is one function here, not a change of the chain.
 */
type ContextProvider = (model: EdmModel, settings: BatchSettings, batch: PlannedBatch, N: number) => Pick<SampleChainOptions, 'fixed' | 'context'>;

const CONTEXT_PROVIDERS: Record<NonNullable<EdmModel['config']['conditioning']>['kind'], ContextProvider> = {
  pocket: (model, settings, batch, N) => {
    if (!settings.pocket) throw new Error('sampleBatch: a pocket-conditioned model needs the plan\'s pocket');
    return pocketContext(model, settings.pocket, batch.nNodes, N);
  },
  // the molecule's conditioned property values, normalised, on each of its atoms
  properties: (model, _settings, batch, N) => {
    const props = propertyConditioning(model.config)!;
    if (!batch.properties) throw new Error('sampleBatch: a property-conditioned model needs the plan\'s property values');
    return { context: { values: propertyContext(props, batch.properties, batch.nNodes, N), dim: props.properties.length } };
  },
};

/**
 * The sampler's fixed atoms and per-node context for a batch made in one pocket: the pocket
 * nodes after each molecule's atoms, positions relative to the pocket's origin (normalised), the
 * ligand's centre of mass kept at the origin.
 * @param nAtoms atoms of each molecule; N the padded row length (atoms + pocket nodes)
 */
function pocketContext(model: EdmModel, pocket: PocketNodes, nAtoms: Int32Array, N: number): Pick<SampleChainOptions, 'fixed' | 'context'> {
  const c = pocketConditioning(model.config)!;
  const B = nAtoms.length;
  const D = 3 + featureDim(model.config);
  const rows = pocketRows(c, new Array<PocketNodes>(B).fill(pocket), nAtoms, N);
  const fx = model.config.diffusion.normalizeFactors[0];
  const xh = new Float32Array(B * N * D);
  for (let a = 0; a < B * N; a++) for (let d = 0; d < 3; d++) xh[a * D + d] = rows.fixedX[a * 3 + d] / fx;
  return { fixed: { nFixed: rows.nFixed, xh, centred: true }, context: { values: rows.context, dim: pocketContextDim(c) } };
}

/** The bonds (i < j, order > 0) of row b's first k atoms in a `[B, N, N]` order matrix. */
function bondsOfRow(orders: Int8Array, b: number, k: number, N: number): Bond[] {
  const bonds: Bond[] = [];
  for (let i = 0; i < k; i++) for (let j = i + 1; j < k; j++) if (orders[(b * N + i) * N + j] > 0) bonds.push({ i, j, order: orders[(b * N + i) * N + j] });
  return bonds;
}
