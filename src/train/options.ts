/**
 * What a training run is given: data, architecture, recipe, stop conditions, checkpoints,
 * workers, the learning curve and callbacks.
 */
import type { BackendName } from '../backend.js';
import type { DatasetInfo, DiffusionConfig, DynamicsConfig } from '../config.js';
import type { Molecule } from '../data/molecule.js';

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
   * backend the gradient and sampling workers start (default: this thread's); `onnx` computes
   * gradients with ONNX Runtime in this thread (no workers) on `threads` threads
   */
  backend?: BackendName;
  /** ONNX Runtime intra-op threads with the onnx backend (default one per core); results do not depend on it */
  threads?: number;
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
