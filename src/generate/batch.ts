/**
 * One batch of a sampling run: denoise, then turn type indices into elements.
 */
import type { Molecule } from '../data/molecule.js';
import type { EdmModel } from '../diffusion/model.js';
import { sampleChain } from '../diffusion/sampler.js';
import { moleculeRng } from './plan.js';
import type { BatchResult, PlannedBatch, SamplingPlan } from './types.js';

/** What every batch of a run shares: the seed, the sampler's settings and the trajectories kept (plain data). */
export type BatchSettings = Pick<SamplingPlan, 'seed' | 'steps' | 'temperature' | 'corrector' | 'chain'>;

/**
 * Denoise one batch, each molecule with its own random stream (derived from the run's seed and
 * the molecule's index), so the output does not depend on which worker ran it or what else
 * was in the batch (up to the engine's arithmetic, see README).
 * @returns the molecules in the batch's order; trajectories of those with an index below
 *   `settings.chain`, in the same order
 */
export function sampleBatch(model: EdmModel, batch: PlannedBatch, settings: BatchSettings, onStep?: (step: number, steps: number) => void): BatchResult {
  const decoder = model.config.dataset.atomDecoder;
  const { ids, nNodes } = batch;
  const keep = Array.from(ids).flatMap((id, r) => (id < settings.chain ? [r] : []));
  const { steps, temperature, corrector } = settings;
  const rngs = Array.from(ids, (id) => moleculeRng(settings.seed, id));
  const out = sampleChain(model, nNodes, rngs, { steps, temperature, corrector, keepChainOf: keep.length ? keep : undefined, onStep });
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
