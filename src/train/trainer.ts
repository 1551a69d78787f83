/**
 * Training loop (EDM main_qm9.py / train_test.train_epoch): L2 loss on eps, AdamW with amsgrad,
 * EMA of the weights, EDM's adaptive gradient clipping, NaN/Inf guard, periodic validation NLL,
 * atomic checkpoints every K steps and on stop, and exact resume (weights, EMA, optimiser
 * moments, RNG states, step, position in the epoch).
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { BackendName } from '../backend.js';
import { type DatasetInfo, type DiffusionConfig, type DynamicsConfig, type EdmConfig, type TrainingProvenance, dynamicsInputDim } from '../config.js';
import { loadCheckpoint, saveCheckpoint } from '../checkpoint/format.js';
import { bucketedBatches } from '../data/dataset.js';
import type { Molecule } from '../data/molecule.js';
import { makeModel } from '../diffusion/model.js';
import { validationNll } from './validation.js';
import { writeFileAtomic } from '../data/files.js';
import { curveSvg } from '../report/curve-plot.js';
import { type CurveProbeOptions, type CurveRow, isBest, probeSamples, readCurve, writeCurve } from './curve.js';
import { type GradientEngine, LocalGradients, WorkerGradients, defaultTrainWorkers } from './grad-pool.js';
import { combineShards, flatNorm, flatten, makeShardTasks, paramOrder, unflatten } from './gradients.js';
import { initParams, type Params } from '../egnn/params.js';
import { CheckpointError, OptionError, UserError } from '../errors.js';
import { Rng, type RngState } from '../random.js';
import { AdamW, GradNormQueue, updateEma } from './optimizer.js';

/** Options of `train`. */
export interface TrainOptions {
  /** checkpoint folder (written atomically; `--resume` reads it) */
  outDir: string;
  train: Molecule[];
  /** molecules for the periodic validation NLL (a fixed subset of `validSize` is used) */
  valid?: Molecule[];
  datasetInfo: DatasetInfo;
  dynamics: DynamicsConfig;
  diffusion: DiffusionConfig;
  batchSize?: number;
  lr?: number;
  emaDecay?: number;
  seed?: number;
  /** stop after this many optimiser steps in total (counting resumed ones) */
  maxSteps?: number;
  /** stop after this many epochs in total */
  epochs?: number;
  /** stop after this many seconds of this run */
  maxSeconds?: number;
  checkpointEvery?: number;
  validateEvery?: number;
  validSize?: number;
  clipGrad?: boolean;
  /** steps between `step` lines in train-log.jsonl (default 50) */
  logEvery?: number;
  /** stop with an error after this many skipped (non-finite) steps */
  maxNanSteps?: number;
  resume?: boolean;
  /** provenance stored in the checkpoint (e.g. the command line) */
  command?: string;
  /** set to stop after the current step (e.g. from SIGINT); a checkpoint is written */
  stopSignal?: { stop: boolean };
  /** progress callback, once per step */
  onStep?: (s: StepReport) => void;
  /** called with validation and other events */
  onEvent?: (e: Record<string, unknown>) => void;
  /**
   * threads computing gradients: 0 computes in this thread; default one per core on the wasm
   * and cpu backends (each worker starts its own backend), 0 on tfjs-node (already threaded)
   */
  workers?: number;
  /**
   * micro-batches per step, each with its own gradient, summed in a fixed order: the result of
   * a step depends on this number, never on `workers` (default 2; saved, and kept on resume)
   */
  shards?: number;
  /** backend the gradient and sampling workers start (default: this thread's) */
  backend?: BackendName;
  /** learning curve: every `every` steps, sample and score a fixed set (see curve.ts) */
  curve?: { every: number; samples: number; steps: number };
}

/** What a step reports. */
export interface StepReport {
  step: number;
  epoch: number;
  /** fraction of the current epoch done */
  epochProgress: number;
  loss: number;
  gradNorm: number;
  moleculesPerSecond: number;
  nanSteps: number;
}

interface SavedState {
  step: number;
  epoch: number;
  batchIndex: number;
  epochRng: RngState;
  noiseRng: RngState;
  seed: number;
  gradNorms: number[];
  nanSteps: number;
  optimizerStep: number;
  wallTimeSeconds: number;
  /** CPU time of training (all threads, curve probes excluded); absent in early checkpoints */
  cpuSeconds?: number;
  moleculesSeen: number;
  options: { batchSize: number; lr: number; emaDecay: number; clipGrad: boolean; shards?: number };
}

/** Training-state tensor names: raw weights and the optimiser's moments, by parameter. */
const STATE_PREFIXES = ['param', 'm', 'v', 'vmax'] as const;

/** The training-state tensors of a run, under their checkpoint names (`param/…`, `m/…`, …). */
function stateTensors(raw: Record<string, tf.Variable>, optimizer: AdamW): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  const source = { param: raw, m: optimizer.m, v: optimizer.v, vmax: optimizer.vmax };
  for (const prefix of STATE_PREFIXES) for (const k of Object.keys(raw)) out[`${prefix}/${k}`] = source[prefix][k];
  return out;
}

function toVariables(p: Params, trainable: boolean): Record<string, tf.Variable> {
  const out: Record<string, tf.Variable> = {};
  for (const [k, t] of Object.entries(p)) out[k] = tf.variable(t, trainable);
  return out;
}

/** Weights, EMA and optimiser of a run: fresh, or read back from a checkpoint for `resume`. */
interface RunState {
  config: EdmConfig;
  raw: Record<string, tf.Variable>;
  ema: Record<string, tf.Variable>;
  optimizer: AdamW;
  saved?: SavedState;
}

function initialiseRun(opts: TrainOptions, lr: number, seed: number): RunState {
  if (!opts.resume) {
    const config: EdmConfig = { format: 'edm-ts-checkpoint', version: 1, dynamics: opts.dynamics, diffusion: opts.diffusion, dataset: opts.datasetInfo };
    const init = initParams(config.dynamics, dynamicsInputDim(config), new Rng(`${seed}:init`));
    const raw = toVariables(init, true);
    const ema = toVariables(init, false);
    tf.dispose(Object.values(init));
    return { config, raw, ema, optimizer: new AdamW(raw, { lr }) };
  }
  const ck = loadCheckpoint(opts.outDir, true);
  const saved = ck.trainState!.state as unknown as SavedState;
  const t = ck.trainState!.tensors;
  try {
    if (saved.seed !== seed) throw new OptionError(`resume: the checkpoint was trained with seed ${saved.seed}, not ${seed}`);
    for (const prefix of STATE_PREFIXES) {
      for (const k of Object.keys(ck.params)) {
        if (!t[`${prefix}/${k}`]) throw new CheckpointError(`${opts.outDir}: training state lacks ${prefix}/${k}`);
      }
    }
    const raw = toVariables(Object.fromEntries(Object.keys(ck.params).map((k) => [k, t[`param/${k}`]])), true);
    const ema = toVariables(ck.params, false);
    const optimizer = new AdamW(raw, { lr: saved.options.lr });
    for (const k of Object.keys(raw)) {
      optimizer.m[k].assign(t[`m/${k}`]);
      optimizer.v[k].assign(t[`v/${k}`]);
      optimizer.vmax[k].assign(t[`vmax/${k}`]);
    }
    optimizer.step = saved.optimizerStep;
    return { config: ck.config, raw, ema, optimizer, saved };
  } finally {
    tf.dispose([...Object.values(t), ...Object.values(ck.params)]);
  }
}

/** The backend name workers should start for this thread's active tfjs backend. */
function workerBackend(): BackendName {
  const b = tf.getBackend();
  return b === 'wasm' || b === 'cpu' ? b : 'tensorflow';
}

/** Process CPU seconds (all threads). */
const cpuNow = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/**
 * Train (or resume training) a model; returns when a stop condition is met, after writing a
 * final checkpoint. Each step's batch is cut into `shards` micro-batches whose gradients are
 * computed on `workers` threads and summed in a fixed order (see gradients.ts).
 * @throws OptionError for impossible options, CheckpointError for a bad resume folder,
 *   UserError when too many steps are non-finite or a worker fails
 */
export async function train(opts: TrainOptions): Promise<{ step: number; epoch: number; checkpoint: string }> {
  const batchSize = opts.batchSize ?? 64;
  const lr = opts.lr ?? 1e-4;
  const emaDecay = opts.emaDecay ?? 0.999;
  const seed = opts.seed ?? 0;
  const clipGrad = opts.clipGrad ?? true;
  const maxNan = opts.maxNanSteps ?? 100;
  const checkpointEvery = opts.checkpointEvery ?? 500;
  const backend = opts.backend ?? workerBackend();
  const workers = opts.workers ?? (backend === 'wasm' || backend === 'cpu' ? defaultTrainWorkers() : 0);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new OptionError(`batch size must be a positive integer, got ${batchSize}`);
  if (!(lr > 0)) throw new OptionError(`learning rate must be > 0, got ${lr}`);
  if (!(emaDecay >= 0 && emaDecay < 1)) throw new OptionError(`EMA decay must be in [0, 1), got ${emaDecay}`);
  if (!Number.isInteger(workers) || workers < 0) throw new OptionError(`workers must be an integer >= 0, got ${workers}`);
  if (opts.shards !== undefined && (!Number.isInteger(opts.shards) || opts.shards < 1)) throw new OptionError(`shards must be a positive integer, got ${opts.shards}`);
  if (opts.curve && !(Number.isInteger(opts.curve.every) && opts.curve.every > 0 && opts.curve.samples > 0 && opts.curve.steps > 0)) {
    throw new OptionError('the learning curve needs positive every, samples and steps');
  }
  if (opts.train.length === 0) throw new OptionError('the training set is empty');
  if (opts.maxSteps === undefined && opts.epochs === undefined && opts.maxSeconds === undefined) {
    throw new OptionError('give at least one of maxSteps, epochs, maxSeconds');
  }
  mkdirSync(opts.outDir, { recursive: true });
  const logPath = join(opts.outDir, 'train-log.jsonl');
  const curvePath = join(opts.outDir, 'curve.csv');
  const log = (e: Record<string, unknown>): void => {
    appendFileSync(logPath, JSON.stringify({ time: new Date().toISOString(), ...e }) + '\n');
    opts.onEvent?.(e);
  };

  const { config, raw, ema, optimizer, saved } = initialiseRun(opts, lr, seed);
  // early checkpoints have no shard count: they continue with the one asked for
  const options = { ...(saved?.options ?? { batchSize, lr, emaDecay, clipGrad }), shards: saved?.options.shards ?? opts.shards ?? 2 };
  const model = makeModel(config, raw);
  const emaModel = makeModel(config, ema);
  const order = paramOrder(raw);
  const engine: GradientEngine =
    workers > 0
      ? new WorkerGradients(workers, config, Object.fromEntries(order.map((k) => [k, [...raw[k].shape]])), backend)
      : new LocalGradients(config, raw);
  const denomN = config.dataset.maxNAtoms;
  const queue = new GradNormQueue(saved?.gradNorms ?? [3000]);
  let step = saved?.step ?? 0;
  let epoch = saved?.epoch ?? 0;
  let batchIndex = saved?.batchIndex ?? 0;
  let nanSteps = saved?.nanSteps ?? 0;
  let moleculesSeen = saved?.moleculesSeen ?? 0;
  const wallBefore = saved?.wallTimeSeconds ?? 0;
  // early checkpoints were trained on one core, where CPU time equals wall time
  const cpuBefore = saved?.cpuSeconds ?? wallBefore;
  let probeCpu = 0;
  let epochRngState: RngState = saved?.epochRng ?? new Rng(`${seed}:data`).state();
  const dataRng = new Rng(`${seed}:data`, epochRngState);
  let batches = bucketedBatches(opts.train, options.batchSize, dataRng);
  const noiseRng = new Rng(`${seed}:noise`, saved?.noiseRng);
  const validSet = opts.valid ? new Rng(`${seed}:validset`).shuffle([...opts.valid]).slice(0, opts.validSize ?? 500) : undefined;
  const start = performance.now();
  const cpuStart = cpuNow();
  let windowStart = performance.now();
  let windowMols = 0;
  let lastRate = 0;
  // a resumed run measures again the curve points it passes
  if (opts.resume) writeCurve(curvePath, readCurve(curvePath).filter((r) => r.step <= step));

  const wallSeconds = (): number => wallBefore + (performance.now() - start) / 1000;
  const cpuSeconds = (): number => cpuBefore + cpuNow() - cpuStart - probeCpu;
  const save = async (dir = opts.outDir): Promise<void> => {
    const state: SavedState = {
      step,
      epoch,
      batchIndex,
      epochRng: epochRngState,
      noiseRng: noiseRng.state(),
      seed,
      gradNorms: queue.items,
      nanSteps,
      optimizerStep: optimizer.step,
      wallTimeSeconds: wallSeconds(),
      cpuSeconds: cpuSeconds(),
      moleculesSeen,
      options,
    };
    const training: TrainingProvenance = {
      command: opts.command,
      steps: step,
      epochs: moleculesSeen / opts.train.length,
      wallTimeSeconds: Math.round(wallSeconds()),
      cpuSeconds: Math.round(cpuSeconds()),
      batchSize: options.batchSize,
      lr: options.lr,
      emaDecay: options.emaDecay,
      trainMolecules: opts.train.length,
    };
    await saveCheckpoint(dir, { ...config, training }, ema, { tensors: stateTensors(raw, optimizer), state: state as unknown as Record<string, unknown> }, `step${step}`);
    log({ event: 'checkpoint', step, dir });
  };

  /** A curve point on the checkpoint just saved; a new best is copied to `best/`. */
  const curvePoint = async (validNll: number): Promise<void> => {
    const cpu0 = cpuNow();
    const t0 = performance.now();
    const probe: CurveProbeOptions = { samples: opts.curve!.samples, steps: opts.curve!.steps, workers, backend };
    const m = await probeSamples(emaModel, opts.outDir, probe);
    const row: CurveRow = {
      step,
      epoch: moleculesSeen / opts.train.length,
      cpu_hours: cpuSeconds() / 3600,
      wall_hours: wallSeconds() / 3600,
      ...m,
      valid_nll: validNll,
      probe_seconds: (performance.now() - t0) / 1000,
    };
    const rows = readCurve(curvePath);
    const best = isBest(row, rows);
    writeCurve(curvePath, [...rows, row]);
    const d = config.dynamics;
    const title = `${opts.outDir}: nf ${d.nf}, ${d.nLayers} layers, lr ${options.lr}, batch ${options.batchSize}, EMA ${options.emaDecay}`;
    writeFileAtomic(join(opts.outDir, 'curve.svg'), await curveSvg([...rows, row], title));
    log({ event: 'curve', ...row, best });
    if (best) await save(join(opts.outDir, 'best'));
    probeCpu += cpuNow() - cpu0;
  };

  const done = (): boolean =>
    (opts.maxSteps !== undefined && step >= opts.maxSteps) ||
    (opts.epochs !== undefined && epoch >= opts.epochs) ||
    (opts.maxSeconds !== undefined && (performance.now() - start) / 1000 >= opts.maxSeconds) ||
    Boolean(opts.stopSignal?.stop);

  try {
    log({ event: opts.resume ? 'resume' : 'start', step, epoch, trainMolecules: opts.train.length, batches: batches.length, workers, shards: options.shards });
    while (!done()) {
      if (batchIndex >= batches.length) {
        epoch++;
        batchIndex = 0;
        epochRngState = dataRng.state();
        batches = bucketedBatches(opts.train, options.batchSize, dataRng);
        if (done()) break;
      }
      const mols = batches[batchIndex++].map((i) => opts.train[i]);
      const tasks = makeShardTasks(model, mols, options.shards, noiseRng);
      const results = await engine.compute(flatten(raw, order), tasks, denomN);
      const { loss, grad } = combineShards(results, tasks.map((t) => t.molecules.length));
      const norm = flatNorm(grad);
      if (!Number.isFinite(loss) || !Number.isFinite(norm)) {
        nanSteps++;
        log({ event: 'nonfinite', step, loss, gradNorm: norm, nanSteps });
        if (nanSteps > maxNan) throw new UserError(`training stopped: ${nanSteps} steps had a non-finite loss or gradient`);
        continue;
      }
      if (options.clipGrad) {
        const maxNorm = queue.maxNorm();
        if (norm > maxNorm) {
          const scale = maxNorm / (norm + 1e-6);
          for (let i = 0; i < grad.length; i++) grad[i] *= scale;
        }
        queue.add(Math.min(norm, maxNorm));
      }
      const grads = unflatten(grad, raw, order);
      optimizer.apply(grads);
      tf.dispose(Object.values(grads));
      updateEma(ema, raw, options.emaDecay);
      step++;
      moleculesSeen += mols.length;
      windowMols += mols.length;
      const now = performance.now();
      if (now - windowStart > 5000) {
        lastRate = (windowMols / (now - windowStart)) * 1000;
        windowStart = now;
        windowMols = 0;
      }
      opts.onStep?.({ step, epoch, epochProgress: batchIndex / batches.length, loss, gradNorm: norm, moleculesPerSecond: lastRate, nanSteps });
      if (step % (opts.logEvery ?? 50) === 0) log({ event: 'step', step, epoch, loss, gradNorm: norm, molPerSec: lastRate });
      const curveDue = opts.curve !== undefined && step % opts.curve.every === 0;
      let validNll = NaN;
      if (validSet && ((opts.validateEvery && step % opts.validateEvery === 0) || curveDue)) {
        validNll = validationNll(emaModel, validSet, options.batchSize);
        log({ event: 'validation', step, epoch, nll: validNll, molecules: validSet.length });
      }
      if (curveDue || (step % checkpointEvery === 0 && !done())) await save();
      if (curveDue) await curvePoint(validNll);
      // let signal handlers run between steps
      await new Promise((r) => setImmediate(r));
    }
    await save();
  } finally {
    await engine.close();
    tf.dispose([...Object.values(raw), ...Object.values(ema), ...Object.values(optimizer.m), ...Object.values(optimizer.v), ...Object.values(optimizer.vmax)]);
  }
  return { step, epoch, checkpoint: opts.outDir };
}
