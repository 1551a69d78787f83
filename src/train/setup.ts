/**
 * Start-up of a training run: the options checked and completed with EDM's defaults, then the
 * weights, either fresh or read back from a checkpoint for an exact resume.
 */
import { availableParallelism } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { type BackendName, isOnnxActive, workerBackend } from '../backend.js';
import { loadCheckpoint } from '../checkpoint/format.js';
import { CONFIG_VERSION, type EdmConfig, dynamicsInputDim } from '../config.js';
import { initParams } from '../egnn/params.js';
import { OptionError } from '../errors.js';
import { integerOption, numberOption, optionalInteger, optionalNumber } from '../options.js';
import { Rng } from '../random.js';
import { type RecipeOptions, type RunWeights, type SavedState, freshWeights, restoreWeights } from './state.js';
import type { TrainOptions } from './options.js';

/** The options of a run once checked, defaults filled in. */
export interface ResolvedOptions {
  /** the recipe asked for (a resumed run keeps the checkpoint's instead: see `openRun`) */
  recipe: RecipeOptions;
  seed: number;
  maxNanSteps: number;
  checkpointEvery: number;
  /** 0: never */
  validateEvery: number;
  validSize: number;
  logEvery: number;
  backend: BackendName;
  workers: number;
  /** ONNX Runtime intra-op threads (onnx backend) */
  threads: number;
}

/**
 * Check a run's options (messages name them as the CLI spells them) and fill in defaults:
 * batch 64, lr 1e-4, EMA 0.999, seed 0, clipping on, 2 shards, one gradient worker per core
 * on wasm and cpu (tfjs-node is threaded already: 0), and on onnx no worker but one ONNX Runtime
 * thread per core.
 * @throws OptionError for an impossible value or no stop condition
 */
export function resolveOptions(opts: TrainOptions): ResolvedOptions {
  integerOption('--nf', opts.dynamics.nf);
  integerOption('--layers', opts.dynamics.nLayers);
  integerOption('--timesteps', opts.diffusion.timesteps);
  if (opts.train.length === 0) throw new OptionError('the training set is empty');
  if (opts.maxSteps === undefined && opts.epochs === undefined && opts.hours === undefined) {
    throw new OptionError('say when to stop: --steps, --epochs or --hours');
  }
  optionalInteger('--steps', opts.maxSteps, 0);
  optionalNumber('--epochs', opts.epochs, { atLeast: 0 });
  optionalNumber('--hours', opts.hours, { above: 0 });
  if (opts.curve) {
    integerOption('--curve-every', opts.curve.every);
    integerOption('--curve-samples', opts.curve.samples);
    integerOption('--curve-steps', opts.curve.steps, 1, opts.diffusion.timesteps);
  }
  const backend = opts.backend ?? (isOnnxActive() ? 'onnx' : workerBackend());
  if (backend === 'onnx' && opts.workers !== undefined && opts.workers > 0) {
    throw new OptionError(`--workers ${opts.workers}: the onnx backend computes gradients in one process on all cores (--threads); use --backend wasm for worker threads`);
  }
  const threads = integerOption('--threads', opts.threads ?? availableParallelism());
  return {
    recipe: {
      batchSize: integerOption('--batch-size', opts.batchSize ?? 64),
      lr: numberOption('--lr', opts.lr ?? 1e-4, { above: 0 }),
      emaDecay: numberOption('--ema', opts.emaDecay ?? 0.999, { atLeast: 0, below: 1 }),
      clipGrad: opts.clipGrad ?? true,
      shards: integerOption('--shards', opts.shards ?? 2),
    },
    seed: integerOption('--seed', opts.seed ?? 0, Number.MIN_SAFE_INTEGER),
    maxNanSteps: integerOption('maxNanSteps', opts.maxNanSteps ?? 100, 0),
    checkpointEvery: integerOption('--checkpoint-every', opts.checkpointEvery ?? 500),
    validateEvery: integerOption('--validate-every', opts.validateEvery ?? 0, 0),
    validSize: integerOption('--valid-size', opts.validSize ?? 500),
    logEvery: integerOption('--log-every', opts.logEvery ?? 50),
    backend,
    workers: integerOption('--workers', opts.workers ?? (backend === 'wasm' || backend === 'cpu' ? availableParallelism() : 0), 0),
    threads,
  };
}

/** A run's configuration and tensors, and the saved state of a resumed run. */
export interface OpenedRun {
  config: EdmConfig;
  weights: RunWeights;
  saved?: SavedState;
}

/**
 * Fresh weights (EDM's initialisation from the seed), or the checkpoint in `outDir` for
 * `resume`. A resumed run keeps the checkpoint's recipe (`o.recipe` is updated; early
 * checkpoints without a shard count continue with the one asked for).
 * @throws OptionError when the seed differs from the checkpoint's; CheckpointError for a
 *   missing or incomplete checkpoint
 */
export function openRun(opts: TrainOptions, o: ResolvedOptions): OpenedRun {
  if (!opts.resume) {
    const config: EdmConfig = { format: 'edm-ts-checkpoint', version: CONFIG_VERSION, dynamics: opts.dynamics, diffusion: opts.diffusion, dataset: opts.datasetInfo };
    const init = initParams(config.dynamics, dynamicsInputDim(config), new Rng(`${o.seed}:init`));
    try {
      return { config, weights: freshWeights(init, o.recipe.lr) };
    } finally {
      tf.dispose(Object.values(init));
    }
  }
  const ck = loadCheckpoint(opts.outDir, true);
  const saved = ck.trainState!.state as unknown as SavedState;
  const tensors = ck.trainState!.tensors;
  try {
    if (saved.seed !== o.seed) throw new OptionError(`resume: the checkpoint was trained with seed ${saved.seed}, not ${o.seed}`);
    o.recipe = { ...saved.options, shards: saved.options.shards ?? o.recipe.shards };
    return { config: ck.config, weights: restoreWeights(opts.outDir, ck.params, tensors, saved), saved };
  } finally {
    tf.dispose([...Object.values(tensors), ...Object.values(ck.params)]);
  }
}
