/**
 * Sampling in this thread: every batch of a plan, one after the other.
 */
import type { Molecule } from '../data/molecule.js';
import type { EdmModel } from '../diffusion/model.js';
import { type Stepped, runStepped, runSteppedYielding } from '../diffusion/stepping.js';
import { sampleBatchSteps } from './batch.js';
import { Assembler, planSampling } from './plan.js';
import type { SampleOptions, SampleResult, SamplingHooks, SamplingPlan } from './types.js';

/**
 * Run every batch of a plan in this thread.
 * @param onProgress molecules finished, and denoising steps done in the current batch (0 when a
 *   batch has just finished)
 * @param assembler receives the batches in order (default: one keeping every molecule)
 * @param hooks per-batch guidance, inpainting and placement
 */
export function runPlan(model: EdmModel, plan: SamplingPlan, onProgress?: (done: number, step: number, steps: number) => void, assembler = new Assembler(plan), hooks?: SamplingHooks): SampleResult {
  return runStepped(planSteps(model, plan, onProgress, assembler, hooks));
}

/** `runPlan` pausing after every denoising step (diffusion/stepping.ts). */
export function* planSteps(model: EdmModel, plan: SamplingPlan, onProgress?: (done: number, step: number, steps: number) => void, assembler = new Assembler(plan), hooks?: SamplingHooks): Stepped<SampleResult> {
  let done = 0;
  for (const batch of plan.batches) {
    assembler.add(yield* sampleBatchSteps(model, batch, plan, (step, steps) => onProgress?.(done, step, steps), hooks?.forBatch(batch.nNodes)), batch.ids);
    done += batch.ids.length;
    onProgress?.(done, 0, 0);
  }
  return assembler.result();
}

/**
 * Generate molecules in this thread, giving the event loop a turn after every denoising step so
 * that a signal handler can stop the run within a step.
 * @throws OptionError for impossible options; InterruptedError when `signal` is aborted
 */
export async function sampleMoleculesYielding(model: EdmModel, opts: SampleOptions, signal: AbortSignal | undefined): Promise<Molecule[]> {
  return (await runSteppedYielding(planSteps(model, planSampling(model, opts), opts.onProgress, undefined, opts.hooks), signal)).molecules;
}

/**
 * Generate molecules in this thread (EDM sample with n_nodes from the histogram).
 * @throws OptionError for impossible options
 */
export function sampleMoleculesWithChains(model: EdmModel, opts: SampleOptions): SampleResult {
  return runPlan(model, planSampling(model, opts), opts.onProgress, undefined, opts.hooks);
}

/** Generate molecules; see `sampleMoleculesWithChains`. */
export function sampleMolecules(model: EdmModel, opts: SampleOptions): Molecule[] {
  return sampleMoleculesWithChains(model, opts).molecules;
}
