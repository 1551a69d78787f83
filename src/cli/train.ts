/**
 * `edm train`: train on QM9 (EDM split) or on a user's own SDF/XYZ files.
 */
import { basename, join } from 'node:path';
import { existsSync, rmSync } from 'node:fs';
import type { ArgumentsCamelCase, Argv, InferredOptionTypes } from 'yargs';
import { DEFAULT_QM9_DIR, BOND_DIFFUSION, InterruptedError, ELEMENT_MODEL, EDM_QM9_DIFFUSION, EDM_QM9_DYNAMICS, type LossWeighting, type NoiseScheduleName, UserError, type StepReport, type TrainingData, type TrainOptions, type Runtime, loadComplexTrainingData, loadTrainingData, pocketDynamics, storeTrainingReference, train } from '../index.js';
import { checkRun, removeRun, startProgress } from '../cli-support.js';
import { type PropertyRegressor, conditionData, conditionNames, regressorData } from '../index.js';
import { backendOption, interruptedExitCode, numberFlag, startBackend, stopOnSignals, userPath, defineCommand, textFlag } from './common.js';

/** The options of `edm train`. */
const TRAIN_FLAGS = {
  out: { type: 'string', demandOption: true, describe: 'checkpoint folder to write (and to resume from)' },
  qm9: textFlag("folder with QM9 in EDM's split (qm9_train.xyz.gz, ...)", '../shared/data/qm9 beside the package'),
  'train-file': textFlag('your own training molecules (SDF/XYZ); replaces --qm9'),
  'valid-file': textFlag('your own validation molecules (SDF/XYZ)'),
  atoms: textFlag('atom decoder, comma separated', 'H,C,N,O,F for QM9, else the elements present'),
  nf: numberFlag('--nf', 'hidden width of the EGNN (EDM QM9: 256)', 64),
  layers: numberFlag('--layers', 'equivariant blocks of the EGNN (EDM QM9: 9)', 4),
  'batch-size': recipeFlag('--batch-size', 'molecules per optimiser step (EDM: 64)', '64'),
  lr: recipeFlag('--lr', 'learning rate of AdamW, the peak of a cosine schedule (EDM: 1e-4)', '1e-4'),
  ema: recipeFlag('--ema', 'EMA decay of the weights (EDM QM9: 0.9999)', '0.999'),
  'loss-weighting': { type: 'string', choices: ['uniform', 'min-snr'], describe: "weighting of the eps loss over t: uniform (EDM's) or min-SNR-gamma (Hang et al. 2023: min(SNR, gamma) / SNR)", defaultDescription: 'uniform; a branch keeps its parent\'s' },
  'snr-gamma': { ...numberFlag('--snr-gamma', 'gamma of --loss-weighting min-snr (Hang et al.: 5)'), defaultDescription: '5' },
  'lr-schedule': { type: 'string', choices: ['constant', 'cosine'], describe: "learning rate over the run: constant (EDM's) or a warm-up then a cosine decay to --final-lr at the last step (needs --steps or --epochs)", defaultDescription: "constant; a branch keeps its parent's" },
  'warmup-steps': { ...numberFlag('--warmup-steps', 'linear warm-up steps of --lr-schedule cosine'), defaultDescription: '0' },
  'final-lr': { ...numberFlag('--final-lr', 'learning rate at the end of --lr-schedule cosine'), defaultDescription: '0' },
  from: textFlag('branch a new run (in --out) from this checkpoint folder: weights, optimiser, step, data and noise streams and CPU-hours continue from it; its recipe is kept except for the options given here (for trials of a recipe change)'),
  bonds: { type: 'boolean', default: false, describe: "diffuse bond orders (none, single, double, triple) with the atoms: the network reads and predicts them, and the sampled molecules carry them (labels: EDM's distance-based bonds of the training molecules)" },
  'element-model': { type: 'boolean', default: false, describe: 'train an element model p(h | x) that types atoms from their positions (with --from: starting from that noise predictor\'s weights and architecture), for edm sample --element-model' },
  condition: textFlag('train a model conditioned on these molecular properties (comma separated: alpha, gap, homo, lumo, mu), as EDM\'s conditional generation; on QM9, EDM\'s generator half of the train split with the project\'s xtb labels (or --labels); with --from an unconditional checkpoint, its network grows zero-initialised context weights'),
  regressor: textFlag('train an EGNN property regressor for this property (alpha, gap, homo, lumo or mu) instead of a generator: EDM\'s check of conditional samples, trained on the half of QM9\'s train split the conditional generator does not see (scripts/property-regressor.ts applies it)'),
  labels: textFlag('property labels for --condition or --regressor: a CSV (id,gap,...) keyed by QM9 id', 'data/qm9-xtb.csv.gz for QM9'),
  'element-t-max': { ...numberFlag('--element-t-max', 'largest diffusion time (fraction of T) whose position noise the element model learns to read'), defaultDescription: String(ELEMENT_MODEL.tMax) },
  schedule: { type: 'string', default: 'polynomial_2', describe: 'noise schedule: polynomial_<power> or cosine (EDM: polynomial_2)' },
  timesteps: numberFlag('--timesteps', 'diffusion steps T (EDM: 1000)', 1000),
  seed: numberFlag('--seed', 'integer seed of initialisation, batches and noise (a resumed run must give the same)', 0),
  steps: numberFlag('--steps', 'stop after this many optimiser steps in total'),
  epochs: numberFlag('--epochs', 'stop after this many epochs in total'),
  hours: numberFlag('--hours', 'stop after this many hours of this run'),
  'checkpoint-every': numberFlag('--checkpoint-every', 'optimiser steps between checkpoints (one is also written on stop)', 500),
  'log-every': numberFlag('--log-every', 'steps between loss lines in train-log.jsonl', 50),
  'validate-every': numberFlag('--validate-every', 'steps between validation NLLs (0: never)', 2000),
  'valid-size': numberFlag('--valid-size', 'validation molecules (a fixed random subset)', 500),
  workers: { ...numberFlag('--workers', 'threads computing gradients (0 = this thread); results do not depend on it'), defaultDescription: 'one per core on WebAssembly' },
  threads: { ...numberFlag('--threads', 'ONNX Runtime threads computing gradients with the onnx backend; results do not depend on it'), defaultDescription: 'one per core' },
  shards: recipeFlag('--shards', 'micro-batches per step, summed in a fixed order: results depend on this, not on --workers (kept on --resume)', '2'),
  'curve-every': numberFlag('--curve-every', 'steps between learning-curve points (sample, score, write curve.csv; 0: never)', 0),
  'curve-samples': numberFlag('--curve-samples', 'molecules sampled (fixed seed) at each curve point', 200),
  'curve-steps': numberFlag('--curve-steps', 'denoising steps of the curve samples', 500),
  resume: { type: 'boolean', default: false, describe: 'continue exactly from the checkpoint in --out' },
  force: { type: 'boolean', default: false, describe: 'start a new run in --out even though it holds one: that run\'s checkpoint, log and curve are removed (named on stderr)' },
  pockets: textFlag('train a pocket-conditioned model (DiffSBDD form) on the pocket/ligand pairs (PDB + SDF) of this folder instead of molecules; every other option works as for molecules'),
  'valid-pockets': textFlag('pocket/ligand pairs for the validation NLL of a --pockets run'),
  backend: backendOption,
} as const;

/** `edm train`'s parsed options. */
type TrainArgv = ArgumentsCamelCase<InferredOptionTypes<typeof TRAIN_FLAGS>>;

/** Register the command. */
export const trainCommand = (y: Argv): Argv =>
  defineCommand(y, 'train', 'train a model (EDM recipe) on QM9 or your own molecules', (a) =>
      a
        .options(TRAIN_FLAGS),
    async (argv) => {
      const runtime = await startBackend(argv.backend, argv.threads);
      const { data, regressor } = await runData(argv);
      const outDir = userPath(argv.out);
      const progress = trainProgress(argv.steps, argv.epochs, argv.hours, argv['batch-size'] ?? 64, data.train.length);
      const interrupt = stopOnSignals();
      let training = false;
      interrupt.signal.addEventListener('abort', () => training && process.stderr.write('\nedm: stopping after this step and writing a checkpoint (signal again to abort)\n'));
      const stop = { get stop(): boolean { return interrupt.signal.aborted; } };
      const opts: TrainOptions = { ...trainOptions(argv, data, runtime, outDir), regressor, stopSignal: stop, onStep: progress.onStep };
      // every option and the folder are checked before any file is written or any SMILES computed
      checkRun(opts, argv.force);
      if (argv.force && !argv.resume) {
        const removed = removeRun(outDir);
        if (removed.length) process.stderr.write(`edm: --force: replacing the run in ${argv.out} (removed ${removed.join(', ')})\n`);
      }
      const created = !existsSync(outDir);
      let result;
      try {
        await storeTrainingReference(outDir, data, (n) => process.stderr.write(`edm: computing the SMILES of ${n} training molecules for novelty (stored in the checkpoint)\n`), interrupt.signal);
        training = true;
        result = await train(opts);
      } catch (e) {
        // a run that failed before its first checkpoint leaves no folder behind
        if (created && !existsSync(join(outDir, 'config.json'))) rmSync(outDir, { recursive: true, force: true });
        if (!(e instanceof InterruptedError)) throw e;
        process.stderr.write(`\nedm: interrupted (${String(interrupt.signal.reason)}) before the first step (${e.message}): nothing was written${created ? `; ${argv.out} was not created` : ''}\n`);
        process.exitCode = interruptedExitCode(interrupt);
        return;
      }
      progress.stop();
      if (stop.stop) {
        process.stderr.write(`edm: interrupted (${String(interrupt.signal.reason)}) at step ${result.step}; the checkpoint in ${argv.out} keeps every step so far: continue with the same command and --resume (its data and options), e.g. edm ${resumeCommand()}\n`);
        process.exitCode = interruptedExitCode(interrupt);
        return;
      }
      process.stdout.write(`trained to step ${result.step} (${result.epochs.toFixed(3)} epochs); checkpoint in ${result.checkpoint}\n`);
    },
  );

/** The library's options of the run the command line asks for (callbacks added by the caller). */
function trainOptions(argv: TrainArgv, data: TrainingData, runtime: Runtime, outDir: string): TrainOptions {
  return {
    outDir,
    train: data.train,
    valid: data.valid,
    datasetInfo: data.info,
    conditioning: data.conditioning,
    dynamics: networkOf(argv, data),
    diffusion: { ...EDM_QM9_DIFFUSION, noiseSchedule: argv.schedule as NoiseScheduleName, timesteps: argv.timesteps!, ...(argv.bonds ? { bonds: BOND_DIFFUSION } : {}) },
    ...(argv['element-model'] ? { elementModel: { ...ELEMENT_MODEL, ...(argv['element-t-max'] !== undefined ? { tMax: argv['element-t-max'] } : {}) } } : {}),
    batchSize: argv['batch-size'],
    lr: argv.lr,
    emaDecay: argv.ema,
    lossWeighting: lossWeighting(argv['loss-weighting'], argv['snr-gamma']),
    lrSchedule: argv['lr-schedule'] as 'constant' | 'cosine' | undefined,
    warmupSteps: argv['warmup-steps'],
    finalLr: argv['final-lr'],
    from: argv.from ? userPath(argv.from) : undefined,
    seed: argv.seed,
    maxSteps: argv.steps,
    epochs: argv.epochs,
    hours: argv.hours,
    checkpointEvery: argv['checkpoint-every'],
    logEvery: argv['log-every'],
    validateEvery: argv['validate-every'],
    validSize: argv['valid-size'],
    resume: argv.resume,
    command: `edm ${process.argv.slice(2).join(' ')}`,
    workers: argv.workers,
    runtime,
    shards: argv.shards,
    curve: argv['curve-every']! > 0 ? { every: argv['curve-every']!, samples: argv['curve-samples']!, steps: argv['curve-steps']! } : undefined,
    onEvent: (e) => {
      const line = eventLine(e);
      if (line) process.stderr.write(`${line}\n`);
    },
  };
}

/** The run's data: QM9, the user's molecules or pocket/ligand pairs, with property values for --condition. */
async function runData(argv: TrainArgv): Promise<{ data: TrainingData; regressor?: PropertyRegressor }> {
  if (argv['valid-pockets'] && !argv.pockets) throw new UserError('--valid-pockets belongs to --pockets');
  if (argv.pockets && (argv['train-file'] || argv['valid-file'] || argv.qm9 || argv.atoms)) throw new UserError('--pockets trains on complexes: --qm9, --train-file, --valid-file and --atoms are for molecules');
  if (argv.labels && !argv.condition && !argv.regressor) throw new UserError('--labels belongs to --condition or --regressor');
  if (argv.condition && argv.regressor) throw new UserError('--condition trains a generator and --regressor a property regressor: give one');
  const names = argv.condition ? conditionNames(argv.condition) : undefined;
  const qm9Dir = argv.qm9 ? userPath(argv.qm9) : DEFAULT_QM9_DIR;
  const data = argv.pockets ? pocketData(argv.pockets, argv['valid-pockets']) : await loadTrainingData({
    qm9Dir,
    trainFile: argv['train-file'] ? userPath(argv['train-file']) : undefined,
    validFile: argv['valid-file'] ? userPath(argv['valid-file']) : undefined,
    atoms: argv.atoms ? argv.atoms.split(',').map((s) => s.trim()) : undefined,
  });
  const labels = argv.labels ? userPath(argv.labels) : undefined;
  const c = names ? conditionData(data, names, { labels, qm9Dir }) : argv.regressor ? regressorData(data, argv.regressor, { labels, qm9Dir }) : undefined;
  if (!c) return { data };
  for (const note of c.notes) process.stderr.write(`edm: ${note}\n`);
  if (c.unlabelled > 0) process.stderr.write(`edm: ${c.unlabelled} molecules have no value of ${names?.join(' or ') ?? argv.regressor} and are left out\n`);
  return { data: c.data, regressor: 'regressor' in c ? (c.regressor as PropertyRegressor) : undefined };
}

/** The network of a new run: EDM's at the asked width and depth, with the context its conditioning needs. */
function networkOf(argv: TrainArgv, data: TrainingData): TrainOptions['dynamics'] {
  const base = { ...EDM_QM9_DYNAMICS, nf: argv.nf!, nLayers: argv.layers! };
  const c = data.conditioning;
  if (c?.kind === 'pocket') return pocketDynamics(base, c);
  return c?.kind === 'properties' ? { ...base, contextNodeNf: c.properties.length } : base;
}

/** This command line with --resume (and without --force), for the hint of an interrupted run. */
function resumeCommand(): string {
  // a resumed run reads its parent from its own checkpoint: --from (and its value) goes
  const raw = process.argv.slice(2);
  const args = raw.filter((a, i) => a !== '--force' && a !== '--resume' && a !== '--from' && !a.startsWith('--from=') && raw[i - 1] !== '--from');
  return [...args, '--resume'].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`)).join(' ');
}

/** A training event worth a line on stderr, in words (train-log.jsonl keeps every field). */
function eventLine(e: Record<string, unknown>): string | undefined {
  const pct = (v: unknown): string => `${(100 * Number(v)).toFixed(1)}%`;
  if (e.event === 'validation') return `validation: step ${e.step}, NLL ${Number(e.nll).toFixed(2)} nats per molecule (${e.molecules} molecules)`;
  if (e.event === 'curve') {
    const nll = Number.isFinite(Number(e.valid_nll)) ? `, NLL ${Number(e.valid_nll).toFixed(2)}` : '';
    const own = e.own_molecule_stability === undefined ? '' : ` (own bonds: atom stability ${pct(e.own_atom_stability)}, molecule stability ${pct(e.own_molecule_stability)}, validity ${pct(e.own_validity)})`;
    return `curve: step ${e.step} (${Number(e.cpu_hours).toFixed(2)} CPU-hours): atom stability ${pct(e.atom_stability)}, molecule stability ${pct(e.molecule_stability)}, validity ${pct(e.validity)} on ${e.samples} samples x ${e.sampling_steps} steps${own}${nll}${e.best ? ', best so far (copied to best/)' : ''}`;
  }
  if (e.event === 'element-accuracy') {
    const per = Object.entries(e.perElement as Record<string, { atoms: number; correct: number }>).filter(([, v]) => v.atoms > 0).map(([k, v]) => `${k} ${pct(v.correct / v.atoms)}`).join(', ');
    return `element accuracy: step ${e.step}, t ${e.t}: atoms ${pct(e.accuracy)}, whole molecules ${pct(e.moleculeAccuracy)} (${per}; ${e.molecules} molecules)`;
  }
  if (e.event === 'regressor-mae') return `validation: step ${e.step}, ${e.property} mean absolute error ${Number(e.mae).toFixed(4)} (${e.molecules} molecules)`;
  if (e.event === 'nonfinite') return `warning: step ${e.step} skipped: non-finite loss or gradient (${e.nanSteps} so far)`;
  return undefined;
}

/**
 * A recipe option: no yargs default, so that a branch (`--from`) can tell what was typed; the
 * library fills in the default of a fresh run.
 */
function recipeFlag(label: string, describe: string, defaultDescription: string): ReturnType<typeof numberFlag> & { defaultDescription: string } {
  return { ...numberFlag(label, describe), defaultDescription: `${defaultDescription}; a branch keeps its parent's` };
}

/**
 * `--loss-weighting` as the library takes it.
 * @throws UserError for --snr-gamma without min-snr
 */
function lossWeighting(kind: string | undefined, gamma: number | undefined): LossWeighting | undefined {
  if (gamma !== undefined && kind !== 'min-snr') throw new UserError('--snr-gamma belongs to --loss-weighting min-snr');
  if (kind === undefined) return undefined;
  return kind === 'min-snr' ? { kind: 'min-snr', gamma: gamma ?? 5 } : { kind: 'uniform' };
}

/**
 * Progress of a run: counts steps when it has a step or epoch budget, else seconds of --hours.
 */
function trainProgress(steps: number | undefined, epochs: number | undefined, hours: number | undefined, batchSize: number, molecules: number): { onStep: (s: StepReport) => void; stop: () => void } {
  const stepBudget = steps ?? (epochs ? Math.ceil((epochs * molecules) / batchSize) : 0);
  const byTime = stepBudget === 0;
  const t0 = Date.now();
  const progress = startProgress({
    total: byTime ? Math.round((hours ?? 0) * 3600) : stepBudget,
    barFormat: `train |{bar}| step {step} epoch {epoch} loss {loss} {rate} ${byTime ? 'time left' : 'ETA'} {eta_formatted}`,
    line: (_v, _t, p) => `train: step ${p.step} epoch ${p.epoch} loss ${p.loss} grad ${p.grad} ${p.rate} ${((Date.now() - t0) / 1000).toFixed(0)} s`,
    initialPayload: { step: 0, epoch: 0, loss: '-', grad: '-', rate: 'rate not measured yet' },
  });
  return {
    onStep: (s) => {
      const payload = { step: s.step, epoch: (s.epoch + s.epochProgress).toFixed(3), loss: s.loss.toFixed(4), grad: s.gradNorm.toFixed(2), rate: s.moleculesPerSecond > 0 ? `${s.moleculesPerSecond.toFixed(1)} mol/s` : 'rate not measured yet' };
      progress.update(byTime ? Math.round((Date.now() - t0) / 1000) : s.step, payload);
    },
    stop: () => progress.stop(),
  };
}

/**
 * `edm train --pockets DIR [--valid-pockets DIR]`: complexes as the run's data, with the default
 * pocket conditioning.
 * @throws InputError for a folder without pairs or unreadable files
 */
function pocketData(dir: string, validDir: string | undefined): TrainingData {
  const d = loadComplexTrainingData(userPath(dir));
  const valid = validDir ? loadComplexTrainingData(userPath(validDir), d.conditioning).train : undefined;
  return { train: d.train, valid, info: d.info, conditioning: d.conditioning, source: `pocket/ligand pairs of ${basename(dir)}` };
}
