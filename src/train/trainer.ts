/**
 * Training loop (EDM main_qm9.py / train_test.train_epoch): L2 loss on eps, AdamW with amsgrad,
 * EMA of the weights, EDM's adaptive gradient clipping, NaN/Inf guard, periodic validation NLL,
 * a learning curve, atomic checkpoints every K steps and on stop, and exact resume (weights,
 * EMA, optimiser moments, RNG states, step, position in the epoch). The parts: options and
 * start-up (setup.ts), the state and its checkpoint names (state.ts), one step (step.ts).
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { closeModel, withRuntime } from '../backend.js';
import { saveCheckpoint } from '../checkpoint/format.js';
import { type EdmConfig, type TrainingProvenance, bondClasses } from '../config.js';
import { writeFileAtomic } from '../data/files.js';
import { bucketedBatches } from '../data/dataset.js';
import { type TrainingExample, exampleNodes, isComplex } from '../data/examples.js';
import { UNIFORM_WEIGHTING } from '../diffusion/loss.js';
import { type EdmModel, makeModel } from '../diffusion/model.js';
import { UserError } from '../errors.js';
import { Rng, type RngState } from '../random.js';
import { curveSvg } from '../report/curve-plot.js';
import { type CurveRow, isBest, readCurve, writeCurve } from '../report/curve-data.js';
import { probeSamples } from './curve.js';
import { type GradientEngine, LocalGradients, WorkerGradients } from './grad-pool.js';
import { OnnxGradients } from './onnx-gradients.js';
import { paramOrder } from './gradients.js';
import { CONSTANT_LR, describeLrSchedule, lrAt } from './lr-schedule.js';
import { GradNormQueue } from './optimizer.js';
import type { TrainOptions } from './options.js';
import { type ResolvedOptions, openRun, resolveOptions } from './setup.js';
import { type RunWeights, type SavedState, disposeWeights, stateTensors } from './state.js';
import { type StepContext, trainStep } from './step.js';
import { validationNll } from './validation.js';
import { trainingSetDigest } from './data.js';
import { elementAccuracy } from '../elements/accuracy.js';
import { regressorMae } from '../properties/regressor.js';
import type { Molecule } from '../data/molecule.js';
import { labelBonds } from './data.js';
import { writeTrainingReport } from './report.js';

export type { StepReport, TrainOptions } from './options.js';

/** Pockets a pocket model's curve samples in: the first of the validation set, else of the training set. */
const CURVE_POCKETS = 4;

/** Process CPU seconds (all threads). */
const cpuNow = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/** A run in progress: its counters, clocks, random streams and the tensors it trains. */
class TrainingRun {
  step: number;
  epoch: number;
  batchIndex: number;
  nanSteps: number;
  moleculesSeen: number;
  private epochRngState: RngState;
  private readonly dataRng: Rng;
  private batches: number[][];
  private readonly ctx: StepContext;
  private readonly emaModel: EdmModel;
  private readonly validSet: TrainingExample[] | undefined;
  private readonly curvePath: string;
  private readonly start = performance.now();
  private readonly cpuStart = cpuNow();
  private readonly wallBefore: number;
  private readonly cpuBefore: number;
  private probeCpu = 0;
  private rate = { since: performance.now(), molecules: 0, last: 0 };
  /** fingerprint of the training set, saved so that a resumed run checks its data */
  private readonly dataDigest: string;

  constructor(
    private readonly opts: TrainOptions,
    private readonly o: ResolvedOptions,
    private readonly config: EdmConfig,
    private readonly weights: RunWeights,
    engine: GradientEngine,
    saved: SavedState | undefined,
  ) {
    this.dataDigest = trainingSetDigest(opts.train);
    this.step = saved?.step ?? 0;
    this.epoch = saved?.epoch ?? 0;
    this.batchIndex = saved?.batchIndex ?? 0;
    this.nanSteps = saved?.nanSteps ?? 0;
    this.moleculesSeen = saved?.moleculesSeen ?? 0;
    this.wallBefore = saved?.wallTimeSeconds ?? 0;
    // early checkpoints were trained on one core, where CPU time equals wall time
    this.cpuBefore = saved?.cpuSeconds ?? this.wallBefore;
    this.epochRngState = saved?.epochRng ?? new Rng(`${o.seed}:data`).state();
    this.dataRng = new Rng(`${o.seed}:data`, this.epochRngState);
    this.batches = this.epochBatches();
    this.ctx = {
      model: makeModel(config, weights.raw),
      weights,
      order: paramOrder(weights.raw),
      engine,
      denomN: config.dataset.maxNAtoms,
      shards: o.recipe.shards!,
      clipGrad: o.recipe.clipGrad,
      emaDecay: o.recipe.emaDecay,
      queue: new GradNormQueue(saved?.gradNorms ?? [3000]),
      noiseRng: new Rng(`${o.seed}:noise`, saved?.noiseRng),
      lossWeighting: o.recipe.lossWeighting ?? UNIFORM_WEIGHTING,
    };
    this.emaModel = makeModel(config, weights.ema);
    this.validSet = opts.valid ? new Rng(`${o.seed}:validset`).shuffle([...opts.valid]).slice(0, o.validSize) : undefined;
    this.curvePath = join(opts.outDir, 'curve.csv');
    // a resumed run measures again the curve points it passes
    if (opts.resume) writeCurve(this.curvePath, readCurve(this.curvePath).filter((r) => r.step <= this.step));
  }

  /** Append an event to train-log.jsonl and tell the caller. */
  log(e: Record<string, unknown>): void {
    appendFileSync(join(this.opts.outDir, 'train-log.jsonl'), JSON.stringify({ time: new Date().toISOString(), ...e }) + '\n');
    this.opts.onEvent?.(e);
  }

  wallSeconds(): number {
    return this.wallBefore + (performance.now() - this.start) / 1000;
  }

  /** CPU seconds of training over the whole run, curve probes excluded. */
  cpuSeconds(): number {
    return this.cpuBefore + cpuNow() - this.cpuStart - this.probeCpu;
  }

  /** The learning rate of the next update (the recipe's schedule at this step). */
  lr(): number {
    return lrAt(this.o.recipe.lrSchedule ?? CONSTANT_LR, this.o.recipe.lr, this.step);
  }

  /** Whether a stop condition holds. */
  done(): boolean {
    const { maxSteps, epochs, hours, stopSignal } = this.opts;
    return (
      (maxSteps !== undefined && this.step >= maxSteps) ||
      (epochs !== undefined && this.epoch >= epochs) ||
      (hours !== undefined && (performance.now() - this.start) / 3.6e6 >= hours) ||
      Boolean(stopSignal?.stop)
    );
  }

  /** An epoch's batches of similar-size examples, drawn from the data stream. */
  private epochBatches(): number[][] {
    const train = this.opts.train;
    return bucketedBatches(train.length, (i) => exampleNodes(train[i]), this.o.recipe.batchSize, this.dataRng);
  }

  /** The next batch of examples, rolling over to a new epoch; undefined when that ends the run. */
  nextBatch(): TrainingExample[] | undefined {
    if (this.batchIndex >= this.batches.length) {
      this.epoch++;
      this.batchIndex = 0;
      this.epochRngState = this.dataRng.state();
      this.batches = this.epochBatches();
      if (this.done()) return undefined;
    }
    return this.batches[this.batchIndex++].map((i) => this.opts.train[i]);
  }

  /** One step with its bookkeeping, validation, checkpoint and curve point. */
  async advance(mols: TrainingExample[]): Promise<void> {
    const lr = this.lr();
    const s = await trainStep(this.ctx, mols, lr);
    if (!s.applied) {
      this.nanSteps++;
      this.log({ event: 'nonfinite', step: this.step, loss: s.loss, gradNorm: s.gradNorm, nanSteps: this.nanSteps });
      if (this.nanSteps > this.o.maxNanSteps) throw new UserError(`training stopped: ${this.nanSteps} steps had a non-finite loss or gradient`);
      return;
    }
    this.step++;
    this.moleculesSeen += mols.length;
    this.rate.molecules += mols.length;
    const now = performance.now();
    if (now - this.rate.since > 5000) this.rate = { since: now, molecules: 0, last: (this.rate.molecules / (now - this.rate.since)) * 1000 };
    const epochProgress = this.batchIndex / this.batches.length;
    this.opts.onStep?.({ step: this.step, epoch: this.epoch, epochProgress, loss: s.loss, gradNorm: s.gradNorm, moleculesPerSecond: this.rate.last, nanSteps: this.nanSteps });
    if (this.step % this.o.logEvery === 0) this.log({ event: 'step', step: this.step, epoch: this.epoch, loss: s.loss, gradNorm: s.gradNorm, lr, molPerSec: this.rate.last });
    const curveDue = this.opts.curve !== undefined && this.step % this.opts.curve.every === 0;
    let validNll = NaN;
    const elements = this.emaModel.config.elementModel;
    if (this.validSet && elements && this.o.validateEvery && this.step % this.o.validateEvery === 0) {
      // an element model has no likelihood: its validation is typing accuracy, clean and at tMax
      const acc = await this.onEma((m) => [0, elements.tMax].map((t) => elementAccuracy(m, this.validSet!, t, this.o.recipe.batchSize)));
      for (const a of acc) this.log({ event: 'element-accuracy', step: this.step, epoch: this.epoch, molecules: this.validSet.length, ...a });
    } else if (this.validSet && this.emaModel.config.regressor && this.o.validateEvery && this.step % this.o.validateEvery === 0) {
      // a regressor's validation is its mean absolute error on the validation molecules
      const mae = await this.onEma((m) => regressorMae(m, this.validSet as Molecule[], this.o.recipe.batchSize));
      this.log({ event: 'regressor-mae', step: this.step, epoch: this.epoch, property: this.emaModel.config.regressor.property.name, mae, molecules: this.validSet.length });
    } else if (this.validSet && ((this.o.validateEvery && this.step % this.o.validateEvery === 0) || curveDue)) {
      validNll = await this.onEma((m) => validationNll(m, this.validSet!, this.o.recipe.batchSize));
      this.log({ event: 'validation', step: this.step, epoch: this.epoch, nll: validNll, molecules: this.validSet.length });
    }
    if (curveDue || (this.step % this.o.checkpointEvery === 0 && !this.done())) await this.save();
    if (curveDue) await this.curvePoint(validNll);
  }

  /**
   * Run `fn` on the EMA model; with the onnx backend its network runs in ONNX Runtime on the
   * EMA weights of this moment (exported for the call, freed after).
   */
  private async onEma<T>(fn: (model: EdmModel) => T | Promise<T>): Promise<T> {
    const model = withRuntime(this.emaModel, this.o.runtime);
    try {
      return await fn(model);
    } finally {
      closeModel(model);
    }
  }

  /** Write a checkpoint (EMA weights and training state) to `dir`, atomically. */
  async save(dir = this.opts.outDir): Promise<void> {
    const { recipe, seed } = this.o;
    const state: SavedState = {
      step: this.step,
      epoch: this.epoch,
      batchIndex: this.batchIndex,
      epochRng: this.epochRngState,
      noiseRng: this.ctx.noiseRng.state(),
      seed,
      gradNorms: this.ctx.queue.items,
      nanSteps: this.nanSteps,
      optimizerStep: this.weights.optimizer.step,
      wallTimeSeconds: this.wallSeconds(),
      cpuSeconds: this.cpuSeconds(),
      moleculesSeen: this.moleculesSeen,
      options: recipe,
      compute: computeOf(this.o),
      data: { molecules: this.opts.train.length, digest: this.dataDigest },
    };
    const training: TrainingProvenance = {
      command: this.opts.command,
      steps: this.step,
      epochs: this.moleculesSeen / this.opts.train.length,
      wallTimeSeconds: Math.round(this.wallSeconds()),
      cpuSeconds: Math.round(this.cpuSeconds()),
      batchSize: recipe.batchSize,
      lr: recipe.lr,
      emaDecay: recipe.emaDecay,
      trainMolecules: this.opts.train.length,
    };
    const trainState = { tensors: stateTensors(this.weights), state: state as unknown as Record<string, unknown> };
    await saveCheckpoint(dir, { ...this.config, training }, this.weights.ema, trainState, `step${this.step}`);
    this.log({ event: 'checkpoint', step: this.step, dir });
  }

  /** The recipe in words, for titles. */
  recipe(): string {
    return describeRecipe(this.config, this.o);
  }

  /** Write report.html (learning curves) beside the checkpoint. */
  async report(): Promise<void> {
    const progress = `step ${this.step}, ${(this.moleculesSeen / this.opts.train.length).toFixed(2)} epochs, ${(this.cpuSeconds() / 3600).toFixed(2)} CPU-hours`;
    await writeTrainingReport(this.opts.outDir, `Training ${this.opts.outDir}`, [this.recipe(), progress]);
  }

  /** A curve point on the checkpoint just saved; a new best is copied to `best/`. */
  async curvePoint(validNll: number): Promise<void> {
    const cpu0 = cpuNow();
    const t0 = performance.now();
    const curve = this.opts.curve!;
    const pockets = this.config.conditioning ? (this.validSet ?? this.opts.train).slice(0, CURVE_POCKETS).filter(isComplex) : undefined;
    const m = await this.onEma((model) => probeSamples(model, this.opts.outDir, { samples: curve.samples, steps: curve.steps, workers: this.o.workers, backend: this.o.backend, pockets }));
    const row: CurveRow = {
      step: this.step,
      epoch: this.moleculesSeen / this.opts.train.length,
      cpu_hours: this.cpuSeconds() / 3600,
      wall_hours: this.wallSeconds() / 3600,
      ...m,
      valid_nll: validNll,
      probe_seconds: (performance.now() - t0) / 1000,
    };
    const rows = readCurve(this.curvePath);
    const best = isBest(row, rows);
    writeCurve(this.curvePath, [...rows, row]);
    writeFileAtomic(join(this.opts.outDir, 'curve.svg'), await curveSvg([...rows, row], `${this.opts.outDir}: ${this.recipe()}`));
    await this.report();
    this.log({ event: 'curve', ...row, best });
    // the probe's CPU time is not training time, also for the copy of the best checkpoint
    this.probeCpu += cpuNow() - cpu0;
    if (best) await this.save(join(this.opts.outDir, 'best'));
  }
}

/** A run's recipe in words: architecture, optimiser, loss weighting and lr schedule. */
export function describeRecipe(config: EdmConfig, o: Pick<ResolvedOptions, 'recipe'>): string {
  const d = config.dynamics;
  const { lr, batchSize, emaDecay, lossWeighting, lrSchedule } = o.recipe;
  const weighting = lossWeighting?.kind === 'min-snr' ? `, min-SNR gamma ${lossWeighting.gamma}` : '';
  const schedule = lrSchedule?.kind === 'cosine' ? `, ${describeLrSchedule(lrSchedule)}` : '';
  return `nf ${d.nf}, ${d.nLayers} layers, lr ${lr}, batch ${batchSize}, EMA ${emaDecay}${weighting}${schedule}`;
}

/** Where a run's gradients are computed: ONNX Runtime, worker threads or this thread. */
function makeEngine(o: ResolvedOptions, config: EdmConfig, order: string[], shapes: Record<string, number[]>, weights: RunWeights): GradientEngine {
  if (o.backend === 'onnx') return new OnnxGradients(config, order, shapes, o.threads);
  return o.workers > 0 ? new WorkerGradients(o.workers, config, shapes, o.backend) : new LocalGradients(config, weights.raw);
}

/** The compute engine of a run as saved in its checkpoint. */
function computeOf(o: ResolvedOptions): NonNullable<SavedState['compute']> {
  return o.backend === 'onnx' ? { engine: 'onnx', threads: o.threads } : { engine: 'tfjs', threads: Math.max(1, o.workers) };
}

/**
 * Train (or resume training) a model; returns when a stop condition is met, after writing a
 * final checkpoint. Each step's batch is cut into `shards` micro-batches whose gradients are
 * computed on `workers` threads and summed in a fixed order (see gradients.ts). Every tensor
 * and worker of the run is freed on return or error.
 * @returns the last step, the epoch it is in (whole epochs started), the epochs of data seen
 *   (fractional, as the checkpoint records them) and the checkpoint folder
 * @throws OptionError for impossible options (naming the option as the CLI spells it),
 *   CheckpointError for a bad resume folder, UserError when too many steps are non-finite or a
 *   gradient worker fails
 */
export async function train(opts: TrainOptions): Promise<{ step: number; epoch: number; epochs: number; checkpoint: string }> {
  const o = resolveOptions(opts);
  mkdirSync(opts.outDir, { recursive: true });
  const { config, weights, saved } = openRun(opts, o);
  // a bond-aware model learns the bonds EDM's protocol scores (distance-based labels)
  const labels = bondClasses(config) > 0 ? labelBonds([...opts.train, ...(opts.valid ?? [])]) : undefined;
  let engine: GradientEngine | undefined;
  try {
    const order = paramOrder(weights.raw);
    const shapes = Object.fromEntries(order.map((k) => [k, [...weights.raw[k].shape]]));
    engine = makeEngine(o, config, order, shapes, weights);
    const run = new TrainingRun(opts, o, config, weights, engine, saved);
    const compute = computeOf(o);
    const event = opts.resume ? 'resume' : opts.from ? 'branch' : 'start';
    run.log({ event, step: run.step, epoch: run.epoch, ...(opts.from ? { from: opts.from } : {}), recipe: run.recipe(), trainMolecules: opts.train.length, workers: o.workers, shards: o.recipe.shards, ...compute });
    if (labels) run.log({ event: 'note', message: `bond labels from distances (EDM's bond table): ${labels.stable} of ${labels.molecules} molecules stable under them` });
    if (saved?.compute && saved.compute.engine !== compute.engine) {
      run.log({ event: 'note', message: `the checkpoint was trained on ${saved.compute.engine}, this run computes on ${compute.engine}: steps from here differ from an uninterrupted run in float32 rounding` });
    }
    while (!run.done()) {
      const mols = run.nextBatch();
      if (!mols) break;
      await run.advance(mols);
      // let signal handlers run between steps
      await new Promise((r) => setImmediate(r));
    }
    await run.save();
    await run.report();
    return { step: run.step, epoch: run.epoch, epochs: run.moleculesSeen / opts.train.length, checkpoint: opts.outDir };
  } finally {
    await engine?.close();
    disposeWeights(weights);
  }
}
