/**
 * What a training run is given: data, architecture, recipe, stop conditions, checkpoints,
 * workers, the learning curve and callbacks.
 */
import type { Runtime } from '../backend.js';
import type { Conditioning, DatasetInfo, DiffusionConfig, DynamicsConfig, ElementModel, PropertyRegressor } from '../config.js';
import type { LossWeighting } from '../diffusion/loss.js';
import type { TrainingExample } from '../data/examples.js';

/** Options of `train`. */
export interface TrainOptions {
  /** checkpoint folder (written atomically; `--resume` reads it) */
  outDir: string;
  /** molecules, or complexes for a pocket-conditioned model (`conditioning`) */
  train: TrainingExample[];
  /** molecules for the periodic validation NLL (a fixed subset of `validSize` is used) */
  valid?: TrainingExample[];
  datasetInfo: DatasetInfo;
  /**
   * a pocket-conditioned model (DiffSBDD's form): `train` and `valid` are complexes, and
   * `dynamics.contextNodeNf` must be `pocketContextDim(conditioning)`; or a property-conditioned
   * model (EDM's conditional generation): every molecule carries each property's value in
   * `properties`, and `dynamics.contextNodeNf` is the number of properties (with `from`, an
   * unconditional parent grows the context channels, zero-initialised)
   */
  conditioning?: Conditioning;
  dynamics: DynamicsConfig;
  diffusion: DiffusionConfig;
  /**
   * train an element model p(h | x) (config.ts ElementModel) instead of a noise predictor; with
   * `from`, its network starts from that checkpoint's weights (EMA) with a fresh optimiser at
   * step 0, and takes that checkpoint's architecture
   */
  elementModel?: ElementModel;
  /**
   * train a property regressor (config.ts PropertyRegressor) instead of a noise predictor: every
   * molecule carries the property's value in `properties`; a new run only (no `from`)
   */
  regressor?: PropertyRegressor;
  batchSize?: number;
  lr?: number;
  emaDecay?: number;
  seed?: number;
  /** stop after this many optimiser steps in total (counting resumed ones) */
  maxSteps?: number;
  /** stop after this many epochs in total */
  epochs?: number;
  /** stop after this many hours of this run */
  hours?: number;
  checkpointEvery?: number;
  validateEvery?: number;
  validSize?: number;
  clipGrad?: boolean;
  /** steps between `step` lines in train-log.jsonl (default 50) */
  logEvery?: number;
  /** stop with an error after this many skipped (non-finite) steps */
  maxNanSteps?: number;
  resume?: boolean;
  /**
   * branch from this checkpoint folder (it needs a training state): weights, EMA, optimiser
   * moments, step, epoch, random streams and CPU-hours continue from it into `outDir`, with its
   * recipe except what is given here (batchSize, lr, emaDecay, shards, lossWeighting,
   * lrSchedule); its seed is kept. For controlled trials of a recipe change from one point.
   */
  from?: string;
  /** loss weighting over t (default uniform, EDM's; a branch keeps its parent's) */
  lossWeighting?: LossWeighting;
  /**
   * `cosine`: warm up over `warmupSteps`, then decay from `lr` to `finalLr` by the last step
   * (`maxSteps`, or the step `epochs` ends at); a branch decays over its own steps.
   * Default constant (EDM's; a branch keeps its parent's)
   */
  lrSchedule?: 'constant' | 'cosine';
  /** linear warm-up steps of a cosine schedule (default 0) */
  warmupSteps?: number;
  /** last learning rate of a cosine schedule (default 0) */
  finalLr?: number;
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
  /**
   * how the run computes (`startRuntime`; default: tfjs on this thread's backend, the workers
   * starting the same): on the onnx engine, gradients and curve samples come from ONNX Runtime in
   * this thread (no workers) on `runtime.threads` threads; results do not depend on the thread count
   */
  runtime?: Runtime;
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
