/**
 * `generate`: a whole sampling run from a checkpoint, in this thread or on worker threads (one
 * per core), with the same molecules either way. What `edm sample` and the learning curve call.
 */
import { availableParallelism } from 'node:os';
import { type BackendName, type Runtime, closeModel, withRuntime, workerBackend } from '../backend.js';
import type { EdmModel } from '../diffusion/model.js';
import { OptionError } from '../errors.js';
import { optionalInteger } from '../options.js';
import { runSteppedYielding } from '../diffusion/stepping.js';
import { planSteps } from './local.js';
import { Assembler, planSampling } from './plan.js';
import { sampleInWorkers } from './pool.js';
import type { PlanOptions, SampleResult, SamplingPlan } from './types.js';

/** Progress of a run: denoising steps done summed over batches, and molecules finished. */
export interface GenerateProgress {
  stepsDone: number;
  totalSteps: number;
  molecules: number;
}

/** Options of `generate`. */
export interface GenerateOptions extends PlanOptions {
  /**
   * worker threads (default: one per core, at most one per batch; 1 = this thread). With the
   * network in ONNX Runtime, each worker has its own session on an equal share of the model's
   * threads (at most that many workers). The molecules do not depend on it.
   */
  workers?: number;
  /**
   * how the run computes (`startRuntime`): workers start its backend, and on the onnx engine
   * share its threads; the model runs on it in this thread (`withRuntime`). Default: what the
   * model already runs on (ONNX Runtime when it was given through `withRuntime`, else this
   * thread's tfjs backend)
   */
  runtime?: Runtime;
  /** backend each worker starts, when no `runtime` is given (default: the one this thread runs) */
  backend?: BackendName;
  onProgress?: (p: GenerateProgress) => void;
  /** each finished batch, in plan order, as soon as the batches before it are done */
  onBatch?: (batch: SampleResult) => void;
  /** molecules kept in the result (default all; a large run handed on by onBatch keeps few) */
  keep?: number;
  /** make only this 0-based shard of `count` <= n (see `planSampling`): concatenated in order, the shards are the whole run */
  shard?: { index: number; count: number };
  /** stops the run after the current denoising step (at once on worker threads), rejecting with InterruptedError */
  signal?: AbortSignal;
}

/** What `generate` returns. */
export interface GenerateResult extends SampleResult {
  /** denoising steps of every molecule */
  steps: number;
  /** worker threads used (1: this thread) */
  workers: number;
  /** wall seconds of the denoising */
  seconds: number;
  plan: SamplingPlan;
}


/**
 * Every batch of a plan in this thread, giving the event loop a turn after every denoising step
 * so that a signal handler can stop the run there.
 * @throws InterruptedError when `opts.signal` is aborted
 */
function runPlanYielding(model: EdmModel, plan: SamplingPlan, steps: number, totalSteps: number, assembler: Assembler, opts: GenerateOptions): Promise<SampleResult> {
  // batches may differ in size (large molecules go in smaller ones): progress counts batch-steps
  let batchesDone = 0;
  const onProgress = (molecules: number, step: number): void => {
    if (step === 0) batchesDone++;
    opts.onProgress?.({ stepsDone: batchesDone * steps + step, totalSteps, molecules });
  };
  return runSteppedYielding(planSteps(model, plan, onProgress, assembler), opts.signal);
}

/**
 * Sample molecules from a checkpoint (EDM's ancestral sampling, sizes from the training
 * histogram or `nAtoms`), in batches spread over worker threads.
 * @param checkpointDir the folder `model` was loaded from (workers load it again)
 * @param model the loaded model (used in this thread and for planning)
 * @throws OptionError for impossible options (echoing what was given); UserError if a worker fails
 */
export async function generate(checkpointDir: string, model: EdmModel, opts: GenerateOptions): Promise<GenerateResult> {
  // the plan checks every sampling option (-n among them)
  const plan = planSampling(model, opts, opts.shard);
  const steps = plan.steps ?? model.schedule.timesteps;
  const asked = optionalInteger('--workers', opts.workers);
  // a network in ONNX Runtime shares its threads among workers, each with its own session on
  // whole batches: intra-op threads alone leave cores idle on molecule-sized matrices
  if (opts.runtime && opts.backend) throw new OptionError('generate: give the runtime or a worker backend, not both');
  const onnx = opts.runtime ? (opts.runtime.engine === 'onnx' ? opts.runtime.threads : undefined) : model.inference?.threads;
  if (onnx !== undefined && asked !== undefined && asked > onnx) throw new OptionError(`--workers ${asked}: more than the ${onnx} ONNX Runtime threads of the run (--threads)`);
  const workers = Math.min(asked ?? onnx ?? availableParallelism(), plan.batches.length);
  const totalSteps = plan.batches.length * steps;
  const assembler = new Assembler(plan, opts.keep, opts.onBatch);
  const t0 = performance.now();
  let result: SampleResult;
  if (workers > 1) {
    result = await sampleInWorkers(
      checkpointDir,
      onnx !== undefined ? 'onnx' : ((opts.runtime?.name as BackendName | undefined) ?? opts.backend ?? workerBackend()),
      plan,
      workers,
      (molecules, stepsDone) => opts.onProgress?.({ stepsDone, totalSteps, molecules }),
      assembler,
      onnx !== undefined ? Math.max(1, Math.floor(onnx / workers)) : 1,
      opts.signal,
    );
  } else {
    // in this thread the network runs on the runtime asked for (sessions freed after the run)
    const attached = opts.runtime?.engine === 'onnx' && !model.inference ? withRuntime(model, opts.runtime) : undefined;
    try {
      result = await runPlanYielding(attached ?? model, plan, steps, totalSteps, assembler, opts);
    } finally {
      if (attached) closeModel(attached);
    }
  }
  return { ...result, steps, workers, seconds: (performance.now() - t0) / 1000, plan };
}
