/**
 * Training loop (EDM main_qm9.py / train_test.train_epoch): L2 loss on eps, AdamW with amsgrad,
 * EMA of the weights, EDM's adaptive gradient clipping, NaN/Inf guard, periodic validation NLL,
 * atomic checkpoints every K steps and on stop, and exact resume (weights, EMA, optimiser
 * moments, RNG states, step, position in the epoch).
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { type DatasetInfo, type DiffusionConfig, type DynamicsConfig, type EdmConfig, type TrainingProvenance, dynamicsInputDim } from '../config.js';
import { loadCheckpoint, saveCheckpoint } from '../checkpoint/format.js';
import { disposeBatch, makeBatch } from '../data/batch.js';
import { bucketedBatches } from '../data/dataset.js';
import type { Molecule } from '../data/molecule.js';
import { drawStepNoise, trainingLoss } from '../diffusion/loss.js';
import { type EdmModel, makeModel } from '../diffusion/model.js';
import { validationNll } from './validation.js';
import { initParams, type Params } from '../egnn/params.js';
import { CheckpointError, OptionError, UserError } from '../errors.js';
import { Rng, type RngState } from '../random.js';
import { AdamW, GradNormQueue, globalNorm, updateEma } from './optimizer.js';

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
  /** extra evaluation run every `sampleEvery` steps on the EMA model (e.g. sampling stability) */
  sampleEvery?: number;
  onSample?: (model: EdmModel, step: number) => Promise<Record<string, number>>;
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
  moleculesSeen: number;
  options: { batchSize: number; lr: number; emaDecay: number; clipGrad: boolean };
}

function toVariables(p: Params, trainable: boolean): Record<string, tf.Variable> {
  const out: Record<string, tf.Variable> = {};
  for (const [k, t] of Object.entries(p)) out[k] = tf.variable(t, trainable);
  return out;
}

/**
 * Train (or resume training) a model; returns when a stop condition is met, after writing a
 * final checkpoint.
 * @throws OptionError for impossible options, CheckpointError for a bad resume folder,
 *   UserError when too many steps are non-finite
 */
export async function train(opts: TrainOptions): Promise<{ step: number; epoch: number; checkpoint: string }> {
  const batchSize = opts.batchSize ?? 64;
  const lr = opts.lr ?? 1e-4;
  const emaDecay = opts.emaDecay ?? 0.999;
  const seed = opts.seed ?? 0;
  const clipGrad = opts.clipGrad ?? true;
  const maxNan = opts.maxNanSteps ?? 100;
  const checkpointEvery = opts.checkpointEvery ?? 500;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new OptionError(`batch size must be a positive integer, got ${batchSize}`);
  if (!(lr > 0)) throw new OptionError(`learning rate must be > 0, got ${lr}`);
  if (!(emaDecay >= 0 && emaDecay < 1)) throw new OptionError(`EMA decay must be in [0, 1), got ${emaDecay}`);
  if (opts.train.length === 0) throw new OptionError('the training set is empty');
  if (opts.maxSteps === undefined && opts.epochs === undefined && opts.maxSeconds === undefined) {
    throw new OptionError('give at least one of maxSteps, epochs, maxSeconds');
  }
  mkdirSync(opts.outDir, { recursive: true });
  const logPath = join(opts.outDir, 'train-log.jsonl');
  const log = (e: Record<string, unknown>): void => {
    appendFileSync(logPath, JSON.stringify({ time: new Date().toISOString(), ...e }) + '\n');
    opts.onEvent?.(e);
  };

  let config: EdmConfig;
  let raw: Record<string, tf.Variable>;
  let ema: Record<string, tf.Variable>;
  let saved: SavedState | undefined;
  let optimizer: AdamW;
  if (opts.resume) {
    const ck = loadCheckpoint(opts.outDir, true);
    config = ck.config;
    saved = ck.trainState!.state as unknown as SavedState;
    if (saved.seed !== seed) throw new OptionError(`resume: the checkpoint was trained with seed ${saved.seed}, not ${seed}`);
    const t = ck.trainState!.tensors;
    const pick = (prefix: string): Params => {
      const out: Params = {};
      for (const k of Object.keys(ck.params)) {
        const v = t[`${prefix}/${k}`];
        if (!v) throw new CheckpointError(`${opts.outDir}: training state lacks ${prefix}/${k}`);
        out[k] = v;
      }
      return out;
    };
    raw = toVariables(pick('param'), true);
    ema = toVariables(ck.params, false);
    optimizer = new AdamW(raw, { lr: saved.options.lr });
    for (const k of Object.keys(raw)) {
      optimizer.m[k].assign(t[`m/${k}`]);
      optimizer.v[k].assign(t[`v/${k}`]);
      optimizer.vmax[k].assign(t[`vmax/${k}`]);
    }
    optimizer.step = saved.optimizerStep;
    tf.dispose(Object.values(t));
    tf.dispose(Object.values(ck.params));
  } else {
    config = {
      format: 'edm-ts-checkpoint',
      version: 1,
      dynamics: opts.dynamics,
      diffusion: opts.diffusion,
      dataset: opts.datasetInfo,
    };
    const init = initParams(config.dynamics, dynamicsInputDim(config), new Rng(`${seed}:init`));
    raw = toVariables(init, true);
    ema = toVariables(init, false);
    tf.dispose(Object.values(init));
    optimizer = new AdamW(raw, { lr });
  }
  const options = saved?.options ?? { batchSize, lr, emaDecay, clipGrad };
  const model = makeModel(config, raw);
  const emaModel = makeModel(config, ema);
  const denomN = config.dataset.maxNAtoms;
  const queue = new GradNormQueue(saved?.gradNorms ?? [3000]);
  let step = saved?.step ?? 0;
  let epoch = saved?.epoch ?? 0;
  let batchIndex = saved?.batchIndex ?? 0;
  let nanSteps = saved?.nanSteps ?? 0;
  let moleculesSeen = saved?.moleculesSeen ?? 0;
  const wallBefore = saved?.wallTimeSeconds ?? 0;
  let epochRngState: RngState = saved?.epochRng ?? new Rng(`${seed}:data`).state();
  const dataRng = new Rng(`${seed}:data`, epochRngState);
  let batches = bucketedBatches(opts.train, options.batchSize, dataRng);
  const noiseRng = new Rng(`${seed}:noise`, saved?.noiseRng);
  const validSet = opts.valid ? new Rng(`${seed}:validset`).shuffle([...opts.valid]).slice(0, opts.validSize ?? 500) : undefined;
  const start = performance.now();
  let windowStart = performance.now();
  let windowMols = 0;
  let lastRate = 0;
  const varList = Object.values(raw);
  const paramOfVariable = new Map(Object.entries(raw).map(([k, v]) => [v.name, k]));

  const save = async (): Promise<void> => {
    const tensors: Record<string, tf.Tensor> = {};
    for (const k of Object.keys(raw)) {
      tensors[`param/${k}`] = raw[k];
      tensors[`m/${k}`] = optimizer.m[k];
      tensors[`v/${k}`] = optimizer.v[k];
      tensors[`vmax/${k}`] = optimizer.vmax[k];
    }
    const wall = wallBefore + (performance.now() - start) / 1000;
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
      wallTimeSeconds: wall,
      moleculesSeen,
      options,
    };
    const training: TrainingProvenance = {
      command: opts.command,
      steps: step,
      epochs: moleculesSeen / opts.train.length,
      wallTimeSeconds: Math.round(wall),
      batchSize: options.batchSize,
      lr: options.lr,
      emaDecay: options.emaDecay,
      trainMolecules: opts.train.length,
    };
    await saveCheckpoint(opts.outDir, { ...config, training }, ema, { tensors, state: state as unknown as Record<string, unknown> }, `step${step}`);
    log({ event: 'checkpoint', step, dir: opts.outDir });
  };

  const done = (): boolean =>
    (opts.maxSteps !== undefined && step >= opts.maxSteps) ||
    (opts.epochs !== undefined && epoch >= opts.epochs) ||
    (opts.maxSeconds !== undefined && (performance.now() - start) / 1000 >= opts.maxSeconds) ||
    Boolean(opts.stopSignal?.stop);

  log({ event: opts.resume ? 'resume' : 'start', step, epoch, trainMolecules: opts.train.length, batches: batches.length });
  while (!done()) {
    if (batchIndex >= batches.length) {
      epoch++;
      batchIndex = 0;
      epochRngState = dataRng.state();
      batches = bucketedBatches(opts.train, options.batchSize, dataRng);
      if (done()) break;
    }
    const mols = batches[batchIndex++].map((i) => opts.train[i]);
    const batch = makeBatch(mols, config.dataset.atomDecoder);
    const noise = drawStepNoise(model, batch, noiseRng);
    const { value, grads: byVariable } = tf.variableGrads(() => trainingLoss(model, batch, noise, denomN), varList);
    const loss = value.dataSync()[0];
    // variableGrads keys gradients by tfjs variable name; the optimiser works by parameter name
    const grads: Record<string, tf.Tensor> = {};
    for (const [name, g] of Object.entries(byVariable)) grads[paramOfVariable.get(name)!] = g;
    const gradList = Object.values(grads);
    const norm = globalNorm(gradList);
    disposeBatch(batch);
    value.dispose();
    if (!Number.isFinite(loss) || !Number.isFinite(norm)) {
      nanSteps++;
      tf.dispose(gradList);
      log({ event: 'nonfinite', step, loss, gradNorm: norm, nanSteps });
      if (nanSteps > maxNan) throw new UserError(`training stopped: ${nanSteps} steps had a non-finite loss or gradient`);
      continue;
    }
    let applied: Record<string, tf.Tensor> = grads;
    if (options.clipGrad) {
      const maxNorm = queue.maxNorm();
      if (norm > maxNorm) {
        const scale = maxNorm / (norm + 1e-6);
        applied = tf.tidy(() => Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, tf.mul(g, scale)])));
        tf.dispose(gradList);
      }
      queue.add(Math.min(norm, maxNorm));
    }
    optimizer.apply(applied);
    tf.dispose(Object.values(applied));
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
    if (validSet && opts.validateEvery && step % opts.validateEvery === 0) {
      const v = validationNll(emaModel, validSet, options.batchSize);
      log({ event: 'validation', step, epoch, nll: v, molecules: validSet.length });
    }
    if (opts.onSample && opts.sampleEvery && step % opts.sampleEvery === 0) {
      const m = await opts.onSample(emaModel, step);
      log({ event: 'sample', step, ...m });
    }
    if (step % checkpointEvery === 0 && !done()) await save();
    // let signal handlers run between steps
    await new Promise((r) => setImmediate(r));
  }
  await save();
  tf.dispose([...Object.values(raw), ...Object.values(ema), ...Object.values(optimizer.m), ...Object.values(optimizer.v), ...Object.values(optimizer.vmax)]);
  return { step, epoch, checkpoint: opts.outDir };
}
