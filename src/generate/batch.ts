/**
 * One batch of a sampling run: denoise, then turn type indices into elements.
 */
import type { Molecule } from '../data/molecule.js';
import type { EdmModel } from '../diffusion/model.js';
import { sampleChain } from '../diffusion/sampler.js';
import { Rng } from '../random.js';
import type { BatchResult, SamplingPlan } from './types.js';

/** What every batch of a run shares: the seed and the sampler's settings (plain data). */
export type BatchSettings = Pick<SamplingPlan, 'seed' | 'steps' | 'temperature' | 'corrector'>;

/**
 * Denoise one batch with its own random stream, derived from the run's seed and the batch
 * index, so the output does not depend on which worker ran it.
 * @param chain keep the trajectories of the first `chain` molecules of this batch
 */
export function sampleBatch(
  model: EdmModel,
  nNodes: Int32Array,
  index: number,
  settings: BatchSettings,
  chain: number,
  onStep?: (step: number, steps: number) => void,
): BatchResult {
  const decoder = model.config.dataset.atomDecoder;
  const keep = Array.from({ length: Math.min(chain, nNodes.length) }, (_, r) => r);
  const { seed, steps, temperature, corrector } = settings;
  const out = sampleChain(model, nNodes, new Rng(`${seed}:batch${index}`), { steps, temperature, corrector, keepChainOf: keep.length ? keep : undefined, onStep });
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

