/**
 * Start-up of a training run: the options checked and completed with EDM's defaults, then the
 * weights, either fresh or read back from a checkpoint for an exact resume.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { type BackendName, type Runtime, tfjsRuntime, workerBackend } from '../backend.js';
import { loadCheckpoint } from '../checkpoint/format.js';
import { type EdmConfig, type PropertyConditioning, bondClasses, configVersionFor, dynamicsInputDim } from '../config.js';
import { pocketContextDim } from '../data/complex.js';
import { isComplex } from '../data/examples.js';
import { type LossWeighting, UNIFORM_WEIGHTING } from '../diffusion/loss.js';
import { initParams, paramShapes } from '../egnn/params.js';
import { CheckpointError, OptionError } from '../errors.js';
import { integerOption, numberOption, optionalInteger, optionalNumber } from '../options.js';
import { Rng } from '../random.js';
import { CONSTANT_LR, type LrSchedule, checkLrSchedule } from './lr-schedule.js';
import { type RecipeOptions, type RunWeights, type SavedState, freshWeights, growWeights, padWithZeros, restoreWeights } from './state.js';
import type { TrainOptions } from './options.js';
import { trainingSetDigest } from './data.js';
import type { TrainingExample } from '../data/examples.js';

/** The options of a run once checked, defaults filled in. */
export interface ResolvedOptions {
  /** the recipe asked for (a resumed run keeps the checkpoint's instead: see `openRun`) */
  recipe: RecipeOptions;
  /** the parts of the recipe given in the options (a branch overrides its parent's with them) */
  asked: Partial<RecipeOptions>;
  seed: number;
  maxNanSteps: number;
  checkpointEvery: number;
  /** 0: never */
  validateEvery: number;
  validSize: number;
  logEvery: number;
  runtime: Runtime;
  /** `onnx` on the onnx engine, else the tfjs backend that gradient and sampling workers start */
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
  checkExamples(opts);
  if (opts.maxSteps === undefined && opts.epochs === undefined && opts.hours === undefined) {
    throw new OptionError('say when to stop: --steps, --epochs or --hours');
  }
  // --steps 0 would write an untrained checkpoint
  optionalInteger('--steps', opts.maxSteps, 1);
  optionalNumber('--epochs', opts.epochs, { atLeast: 0 });
  optionalNumber('--hours', opts.hours, { above: 0 });
  if (opts.curve) {
    integerOption('--curve-every', opts.curve.every);
    integerOption('--curve-samples', opts.curve.samples);
    integerOption('--curve-steps', opts.curve.steps, 1, opts.diffusion.timesteps);
  }
  const runtime = opts.runtime ?? tfjsRuntime();
  const backend: BackendName = runtime.engine === 'onnx' ? 'onnx' : workerBackend();
  if (backend === 'onnx' && opts.workers !== undefined && opts.workers > 0) {
    throw new OptionError(`--workers ${opts.workers}: the onnx backend computes gradients in one process on all cores (--threads); use --backend wasm for worker threads`);
  }
  if (opts.elementModel && opts.curve) throw new OptionError('--curve-every: an element model does not sample; its validation (--validate-every) measures typing accuracy');
  if (opts.resume && opts.from) throw new OptionError('--resume continues the run in --out; --from branches a new run from another checkpoint: give one of them');
  const asked = askedRecipe(opts);
  return {
    recipe: { batchSize: 64, lr: 1e-4, emaDecay: 0.999, clipGrad: true, shards: 2, lossWeighting: UNIFORM_WEIGHTING, ...asked },
    asked,
    seed: integerOption('--seed', opts.seed ?? 0, Number.MIN_SAFE_INTEGER),
    maxNanSteps: integerOption('maxNanSteps', opts.maxNanSteps ?? 100, 0),
    checkpointEvery: integerOption('--checkpoint-every', opts.checkpointEvery ?? 500),
    validateEvery: integerOption('--validate-every', opts.validateEvery ?? 0, 0),
    validSize: integerOption('--valid-size', opts.validSize ?? 500),
    logEvery: integerOption('--log-every', opts.logEvery ?? 50),
    runtime,
    backend,
    workers: integerOption('--workers', opts.workers ?? (backend === 'wasm' || backend === 'cpu' ? availableParallelism() : 0), 0),
    threads: runtime.threads,
  };
}

/**
 * The examples fit the model: complexes for a pocket-conditioned one (whose network takes the
 * pocket context), molecules otherwise.
 * @throws OptionError naming what does not fit
 */
function checkExamples(opts: TrainOptions): void {
  const c = opts.conditioning?.kind === 'pocket' ? opts.conditioning : undefined;
  for (const [name, set] of [['training', opts.train], ['validation', opts.valid ?? []]] as const) {
    if (set.some((e) => isComplex(e) !== Boolean(c))) throw new OptionError(c ? `a pocket-conditioned model trains on complexes: the ${name} set has molecules without a pocket` : `the ${name} set has complexes (ligand + pocket): give the pocket conditioning to train a pocket model`);
  }
  if (c && opts.dynamics.contextNodeNf !== pocketContextDim(c)) throw new OptionError(`a pocket model's network takes ${pocketContextDim(c)} context channels per node (dynamics.contextNodeNf is ${opts.dynamics.contextNodeNf ?? 0})`);
  const p = opts.conditioning?.kind === 'properties' ? opts.conditioning : undefined;
  if (p && !opts.from && !opts.resume && opts.dynamics.contextNodeNf !== p.properties.length) throw new OptionError(`a model conditioned on ${p.properties.length} properties takes as many context channels (dynamics.contextNodeNf is ${opts.dynamics.contextNodeNf ?? 0})`);
}

/**
 * The recipe options given in `opts`, checked (messages name them as the CLI spells them); a
 * cosine schedule is completed by `openRun`, which knows the step it starts from.
 * @throws OptionError for an impossible value
 */
function askedRecipe(opts: TrainOptions): Partial<RecipeOptions> {
  const out: Partial<RecipeOptions> = {};
  if (opts.batchSize !== undefined) out.batchSize = integerOption('--batch-size', opts.batchSize);
  if (opts.lr !== undefined) out.lr = numberOption('--lr', opts.lr, { above: 0 });
  if (opts.emaDecay !== undefined) out.emaDecay = numberOption('--ema', opts.emaDecay, { atLeast: 0, below: 1 });
  if (opts.clipGrad !== undefined) out.clipGrad = opts.clipGrad;
  if (opts.shards !== undefined) out.shards = integerOption('--shards', opts.shards);
  if (opts.lossWeighting !== undefined) out.lossWeighting = checkWeighting(opts.lossWeighting);
  if (opts.lrSchedule !== undefined && opts.lrSchedule !== 'constant' && opts.lrSchedule !== 'cosine') {
    throw new OptionError(`--lr-schedule ${String(opts.lrSchedule)}: must be constant or cosine`);
  }
  if (opts.lrSchedule !== 'cosine' && (opts.warmupSteps !== undefined || opts.finalLr !== undefined)) {
    throw new OptionError('--warmup-steps and --final-lr belong to --lr-schedule cosine');
  }
  if (opts.lrSchedule === 'constant') out.lrSchedule = CONSTANT_LR;
  return out;
}

/** @throws OptionError for an unknown weighting or a gamma that is not positive */
function checkWeighting(w: LossWeighting): LossWeighting {
  if (w.kind === 'uniform') return w;
  if (w.kind !== 'min-snr') throw new OptionError(`--loss-weighting ${String((w as { kind: unknown }).kind)}: must be uniform or min-snr`);
  return { kind: 'min-snr', gamma: numberOption('--snr-gamma', w.gamma, { above: 0 }) };
}

/**
 * The cosine schedule asked for, over the steps from `startStep` to the run's end.
 * @throws OptionError when the run has no step budget or the numbers are impossible
 */
function cosineFrom(opts: TrainOptions, startStep: number, lr: number, batchSize: number): LrSchedule {
  const endStep = opts.maxSteps ?? (opts.epochs !== undefined ? Math.ceil((opts.epochs * opts.train.length) / batchSize) : undefined);
  if (endStep === undefined) throw new OptionError('--lr-schedule cosine decays to the last step: give --steps or --epochs');
  return checkLrSchedule({ kind: 'cosine', startStep, endStep, warmupSteps: opts.warmupSteps ?? 0, finalLr: opts.finalLr ?? 0 }, lr);
}

/** Files of a run in its folder: checkpoint, state, log, curve, report, best point, training SMILES. */
const RUN_FILE = /^(config\.json|train-log\.jsonl|train-log\.csv|(weights|train-state)-.*\.bin|curve\.(csv|svg)|report\.html|train-reference\.json\.gz|best)$/;

/**
 * Refuse to start a new run over an existing one (its checkpoint or log would be overwritten).
 * @throws OptionError naming the folder
 */
function refuseExistingRun(outDir: string): void {
  for (const f of ['config.json', 'train-log.jsonl']) {
    if (existsSync(join(outDir, f))) throw new OptionError(`${outDir} already holds a run (${f}): --resume continues it, --force replaces it; or choose another --out`);
  }
}

/**
 * Check a run before any work (no file is read or written but the checkpoint asked for): the
 * options, a new run's folder free (unless `force`: the caller replaces it, `removeRun`), a
 * resumed or parent run present.
 * @throws OptionError for impossible options or a folder in the way; CheckpointError for a
 *   missing run to resume or branch from
 */
export function checkRun(opts: TrainOptions, force = false): ResolvedOptions {
  const o = resolveOptions(opts);
  if (opts.resume || opts.from) {
    const dir = opts.from ?? opts.outDir;
    if (!existsSync(join(dir, 'config.json'))) throw new CheckpointError(`${dir}: ${opts.from ? '--from' : '--resume'}: no run to ${opts.from ? 'branch from' : 'continue'} there (no config.json)`);
  }
  if (!opts.resume && !force) refuseExistingRun(opts.outDir);
  return o;
}

/**
 * Remove a run's files from its folder (`edm train --force`), leaving anything else there.
 * @returns the names removed
 */
export function removeRun(outDir: string): string[] {
  if (!existsSync(outDir)) return [];
  const names = readdirSync(outDir).filter((f) => RUN_FILE.test(f)).sort();
  for (const f of names) rmSync(join(outDir, f), { recursive: true, force: true });
  return names;
}

/** A run's configuration and tensors, and the saved state of a resumed run. */
export interface OpenedRun {
  config: EdmConfig;
  weights: RunWeights;
  saved?: SavedState;
}

/**
 * A new element model run (config.ts ElementModel): EDM's initialisation from the seed, or the
 * weights (EMA) of the noise predictor (with a fresh output layer) or element model in
 * `opts.from`, whose architecture and data description it takes; either way a fresh optimiser at
 * step 0, since the objective (or its noise range) is a new one.
 * @throws OptionError for a parent with bonds or a pocket; CheckpointError for a missing parent
 */
function openElementRun(opts: TrainOptions, o: ResolvedOptions, elementModel: EdmConfig['elementModel'] & {}): OpenedRun {
  if (opts.conditioning || opts.diffusion.bonds) throw new OptionError('--element-model: an element model reads molecules alone (no --bonds, no pocket)');
  if (opts.lrSchedule === 'cosine') o.recipe.lrSchedule = cosineFrom(opts, 0, o.recipe.lr, o.recipe.batchSize);
  if (!opts.from) {
    const config: EdmConfig = { format: 'edm-ts-checkpoint', version: 4, dynamics: opts.dynamics, diffusion: opts.diffusion, dataset: opts.datasetInfo, elementModel };
    const init = initParams(config.dynamics, dynamicsInputDim(config), new Rng(`${o.seed}:init`));
    try {
      return { config, weights: freshWeights(init, o.recipe.lr) };
    } finally {
      tf.dispose(Object.values(init));
    }
  }
  if (resolve(opts.from) === resolve(opts.outDir)) throw new OptionError(`--from ${opts.from}: a branch is written to another folder than its parent (--out)`);
  const ck = loadCheckpoint(opts.from);
  try {
    const parent = ck.config;
    if (parent.diffusion.bonds || parent.conditioning) throw new OptionError(`--element-model --from ${opts.from}: the parent must be an unconditional model without bonds`);
    const { training: _training, ...rest } = parent;
    const config: EdmConfig = { ...rest, version: 4, elementModel };
    // from another element model (e.g. to train on other position noise) every weight carries over
    if (parent.elementModel) return { config, weights: freshWeights(ck.params, o.recipe.lr) };
    // the output layer starts afresh: at a zero feature input the noise predictor's feature output
    // is about -alpha_t h / sigma_t, the opposite sign of the target h and 1 / sigma_t its scale
    // (fine-tuned as it was, 1,000 steps typed 3% of QM9's validation atoms right on clean positions)
    const init = initParams(config.dynamics, dynamicsInputDim(config), new Rng(`${o.seed}:element-head`));
    try {
      const head = ['embedding_out.weight', 'embedding_out.bias'];
      return { config, weights: freshWeights({ ...ck.params, ...Object.fromEntries(head.map((k) => [k, init[k]])) }, o.recipe.lr) };
    } finally {
      tf.dispose(Object.values(init));
    }
  } finally {
    tf.dispose(Object.values(ck.params));
  }
}

/**
 * An unconditional EDM model grown into a property-conditioned one (`edm train --condition P
 * --from CHECKPOINT`): the parent's weights (EMA) with one context channel per property, read by
 * zero rows of the input embedding (and written by zero columns of the output one, whose context
 * outputs are dropped), so the grown network computes exactly what its parent did until training
 * moves them; a fresh optimiser at step 0, since data and objective are new.
 */
function growProperties(parent: EdmConfig, c: PropertyConditioning, ema: Record<string, tf.Tensor>, o: ResolvedOptions, opts: TrainOptions): OpenedRun {
  const { training: _training, ...rest } = parent;
  const config: EdmConfig = { ...rest, version: 5, dynamics: { ...parent.dynamics, contextNodeNf: c.properties.length }, conditioning: c };
  if (opts.lrSchedule === 'cosine') o.recipe.lrSchedule = cosineFrom(opts, 0, o.recipe.lr, o.recipe.batchSize);
  const grown = tf.tidy(() => Object.fromEntries([...paramShapes(config.dynamics, dynamicsInputDim(config))].map(([k, shape]) => [k, padWithZeros(k, ema[k], shape)])));
  try {
    return { config, weights: freshWeights(grown, o.recipe.lr) };
  } finally {
    tf.dispose(Object.values(grown));
  }
}

/**
 * A resumed run trains on the data it started with (an earlier checkpoint, without a
 * fingerprint, is trusted).
 * @throws OptionError naming both training sets and the run's own command
 */
function checkResumedData(dir: string, saved: SavedState, command: string | undefined, train: TrainingExample[]): void {
  if (!saved.data) return;
  const digest = trainingSetDigest(train);
  if (digest === saved.data.digest) return;
  throw new OptionError(`--resume: ${dir} was trained on ${saved.data.molecules} molecules (fingerprint ${saved.data.digest}), and this command gives ${train.length} (fingerprint ${digest}); give the run's own data${command ? ` (it was started as: ${command})` : ''}`);
}

/**
 * Fresh weights (EDM's initialisation from the seed), the checkpoint in `outDir` for `resume`,
 * or the one in `from` for a branch. A resumed run keeps the checkpoint's recipe; a branch keeps
 * it except for what `opts` gives, and keeps its seed (`o.recipe` and `o.seed` are updated;
 * early checkpoints without a shard count continue with the one asked for).
 * @throws OptionError when the seed differs from the checkpoint's on resume, or when a new run
 *   would overwrite an existing one; CheckpointError for a missing or incomplete checkpoint
 */
export function openRun(opts: TrainOptions, o: ResolvedOptions): OpenedRun {
  if (!opts.resume) refuseExistingRun(opts.outDir);
  if (opts.elementModel && !opts.resume) return openElementRun(opts, o, opts.elementModel);
  if (opts.regressor && (opts.from || opts.conditioning || opts.diffusion.bonds || opts.elementModel)) throw new OptionError('--regressor: a property regressor is a new network of its own (no --from, --condition, --bonds or --element-model)');
  if (!opts.resume && !opts.from) {
    const version = opts.conditioning?.kind === 'properties' || opts.regressor ? 5 : configVersionFor(opts.diffusion);
    const config: EdmConfig = { format: 'edm-ts-checkpoint', version, dynamics: opts.dynamics, diffusion: opts.diffusion, dataset: opts.datasetInfo, ...(opts.conditioning ? { conditioning: opts.conditioning } : {}), ...(opts.regressor ? { regressor: opts.regressor } : {}) };
    if (opts.lrSchedule === 'cosine') o.recipe.lrSchedule = cosineFrom(opts, 0, o.recipe.lr, o.recipe.batchSize);
    const init = initParams(config.dynamics, dynamicsInputDim(config), new Rng(`${o.seed}:init`), bondClasses(config));
    try {
      return { config, weights: freshWeights(init, o.recipe.lr) };
    } finally {
      tf.dispose(Object.values(init));
    }
  }
  const dir = opts.from ?? opts.outDir;
  if (opts.from && resolve(opts.from) === resolve(opts.outDir)) throw new OptionError(`--from ${opts.from}: a branch is written to another folder than its parent (--out)`);
  const ck = loadCheckpoint(dir, true);
  if (Boolean(opts.regressor) !== Boolean(ck.config.regressor)) throw new OptionError(`${dir}: ${ck.config.regressor ? 'a property regressor: resume it with --regressor' : 'not a property regressor: a resumed run keeps its model'}`);
  if (opts.elementModel && !ck.config.elementModel) throw new OptionError(`--element-model: ${dir} holds a noise predictor, and a resumed run keeps its model; start an element model in a new --out (with --from ${dir} to start from its weights)`);
  // a branch may turn EDM's network bond-aware or property-conditioned (its new weights start at zero or fresh); a resumed run keeps its model
  const addBonds = opts.diffusion.bonds !== undefined && !ck.config.diffusion.bonds;
  const addProperties = opts.conditioning?.kind === 'properties' && !ck.config.conditioning ? opts.conditioning : undefined;
  if (opts.conditioning?.kind === 'properties' && !opts.from && !ck.config.conditioning) throw new OptionError(`--condition: ${dir} holds an unconditional model and a resumed run keeps its checkpoint's model; branch it with --from to add conditioning`);
  if (addProperties && (ck.config.diffusion.bonds || addBonds || ck.config.elementModel)) throw new OptionError('--condition: property conditioning grows an EDM model without bonds (not a bond-aware model or an element model)');
  const parentProps = ck.config.conditioning?.kind === 'properties' ? ck.config.conditioning.properties.map((p) => p.name).join(',') : undefined;
  if (opts.conditioning?.kind === 'properties' && ck.config.conditioning && parentProps !== opts.conditioning.properties.map((p) => p.name).join(',')) throw new OptionError(`--condition: ${dir} is conditioned on ${parentProps ?? 'a pocket'}; a run keeps its conditioning (branch an unconditional model to condition on other properties)`);
  if (addBonds && !opts.from) throw new OptionError(`--bonds: ${dir} holds a model without bonds and a resumed run keeps its checkpoint's model; branch it with --from to add bonds`);
  if (addBonds && ck.config.conditioning) throw new OptionError('--bonds: bond diffusion is not supported with pocket conditioning');
  // EDM's 'vlb' loss weights eps errors by the likelihood bound; training here is L2 only
  if (ck.config.diffusion.lossType !== 'l2') throw new OptionError(`${dir}: the checkpoint was trained with EDM's '${ck.config.diffusion.lossType}' loss; edm train implements the 'l2' loss only, so it cannot continue it (sampling and evaluation work)`);
  const saved = ck.trainState!.state as unknown as SavedState;
  const tensors = ck.trainState!.tensors;
  try {
    const shards = saved.options.shards ?? o.recipe.shards;
    if (opts.from) {
      o.seed = saved.seed;
      o.recipe = { ...saved.options, shards, ...o.asked };
      if (opts.lrSchedule === 'cosine') o.recipe.lrSchedule = cosineFrom(opts, saved.step, o.recipe.lr, o.recipe.batchSize);
    } else {
      if (saved.seed !== o.seed) throw new OptionError(`resume: the checkpoint was trained with seed ${saved.seed}, not ${o.seed}`);
      checkResumedData(dir, saved, ck.config.training?.command, opts.train);
      o.recipe = { ...saved.options, shards };
    }
    // a conditioned branch is a new model on new data: the parent's weights (EMA), a fresh optimiser at step 0
    if (addProperties) return growProperties(ck.config, addProperties, ck.params, o, opts);
    const weights = restoreWeights(dir, ck.params, tensors, { ...saved, options: o.recipe });
    if (!addBonds) return { config: ck.config, weights, saved };
    const config: EdmConfig = { ...ck.config, version: 3, diffusion: { ...ck.config.diffusion, bonds: opts.diffusion.bonds } };
    const K = bondClasses(config);
    const init = initParams(config.dynamics, dynamicsInputDim(config), new Rng(`${o.seed}:bonds-init`), K);
    try {
      return { config, weights: growWeights(weights, paramShapes(config.dynamics, dynamicsInputDim(config), K), init, o.recipe.lr), saved };
    } finally {
      tf.dispose(Object.values(init));
    }
  } finally {
    tf.dispose([...Object.values(tensors), ...Object.values(ck.params)]);
  }
}
