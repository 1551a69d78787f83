/**
 * `edm sample`: the main job. Generate molecules from a checkpoint, write SDF/XYZ, print and save
 * their metrics.
 */
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Argv } from 'yargs';
import cliProgress from 'cli-progress';
import { loadCheckpoint } from '../checkpoint/format.js';
import { writeFileAtomic } from '../data/files.js';
import { formatXyz } from '../data/xyz.js';
import { writeMolecules } from '../decode/write.js';
import { makeModel } from '../diffusion/model.js';
import { OptionError, InputError } from '../errors.js';
import { evaluateMolecules } from '../metrics/evaluate.js';
import { formatReport } from '../report/table.js';
import { planSampling, sampleMoleculesWithChains } from '../sample.js';
import { defaultWorkers, sampleInWorkers } from '../parallel/pool.js';
import type { BackendName } from '../backend.js';
import { DEFAULT_CHECKPOINT, runCommand, startBackend, userPath } from './common.js';
import { referenceFor, writeReportFiles } from './evaluate.js';

/** `samples.sdf` -> `samples.<suffix>` */
export function besideOutput(out: string, suffix: string): string {
  return out.replace(/\.(sdf|sd|xyz)$/i, '') + suffix;
}

/** Fail before any work if `path` cannot be written. */
function assertWritable(path: string): void {
  const dir = dirname(path);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new InputError('cannot write: the folder does not exist', path);
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    throw new InputError('cannot write: the folder is not writable', path);
  }
  if (existsSync(path) && statSync(path).isDirectory()) throw new InputError('cannot write: it is a folder', path);
}

/** Register the command. */
export function sampleCommand(y: Argv): Argv {
  return y.command(
    'sample',
    'generate 3D molecules and report their quality',
    (a) =>
      a
        .option('n', { alias: 'num', type: 'number', default: 20, describe: 'number of molecules' })
        .option('seed', { type: 'number', default: 0, describe: 'the same seed gives byte-identical output' })
        .option('checkpoint', { type: 'string', describe: 'checkpoint folder (default: the shipped QM9 model)' })
        .option('batch-size', { type: 'number', describe: 'molecules denoised together (default: min(50, ceil(n / 2)), so two cores share small runs)' })
        .option('workers', { type: 'number', describe: 'worker threads (default: one per core, at most one per batch; 1 = this thread)' })
        .option('n-atoms', { type: 'number', describe: 'fixed atom count (default: drawn from the training histogram)' })
        .option('steps', { type: 'number', describe: 'denoising steps (default: all of the trained schedule, 1000)' })
        .option('out', { type: 'string', default: 'samples.sdf', describe: '.sdf (with bonds) or .xyz' })
        .option('chain', { type: 'number', default: 0, describe: 'write the denoising trajectory of this many molecules as multi-frame XYZ' })
        .option('train', { type: 'string', describe: 'training molecules for novelty (default: the SMILES stored in the checkpoint, else QM9 train split if present; --no-train to skip)' })
        .option('eval', { type: 'boolean', default: true, describe: 'score the samples (--no-eval to skip)' })
        .option('svg', { type: 'string', describe: 'also draw the valid molecules in an SVG grid' })
        .option('backend', { type: 'string', choices: ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] }),
    (argv) =>
      runCommand(async () => {
        const n = argv.n;
        if (!Number.isInteger(n) || n < 1) throw new OptionError(`-n must be a positive integer, got ${n}`);
        if (argv.steps !== undefined && (!Number.isInteger(argv.steps) || argv.steps < 1)) throw new OptionError(`--steps must be a positive integer, got ${argv.steps}`);
        const batchSize = argv['batch-size'] ?? Math.min(50, Math.ceil(n / 2));
        if (!Number.isInteger(batchSize) || batchSize < 1) throw new OptionError(`--batch-size must be a positive integer, got ${batchSize}`);
        if (argv.workers !== undefined && (!Number.isInteger(argv.workers) || argv.workers < 1)) throw new OptionError(`--workers must be a positive integer, got ${argv.workers}`);
        if (!Number.isInteger(argv.chain) || argv.chain < 0) throw new OptionError(`--chain must be a non-negative integer, got ${argv.chain}`);
        const out = userPath(argv.out);
        if (!/\.(sdf|sd|xyz)$/i.test(out)) throw new OptionError(`--out must end in .sdf or .xyz, got ${argv.out}`);
        assertWritable(out);
        const jsonPath = besideOutput(out, '.metrics.json');
        const chainPath = besideOutput(out, '.chain.xyz');
        const backend = await startBackend(argv.backend);
        const ckDir = argv.checkpoint ? userPath(argv.checkpoint) : DEFAULT_CHECKPOINT;
        const ck = loadCheckpoint(ckDir);
        const model = makeModel(ck.config, ck.params);
        const steps = argv.steps ?? model.schedule.timesteps;
        if (steps > model.schedule.timesteps) throw new OptionError(`--steps must be at most ${model.schedule.timesteps} (the trained schedule)`);
        const plan = planSampling(model, { n, batchSize, steps, nAtoms: argv['n-atoms'], seed: argv.seed, chain: argv.chain });
        const workers = Math.min(argv.workers ?? defaultWorkers(plan), plan.batches.length);
        const bar = process.stderr.isTTY
          ? new cliProgress.SingleBar({ format: 'sample |{bar}| {percentage}% {done}/{total_mols} molecules ETA {eta_formatted}', etaBuffer: 500 }, cliProgress.Presets.shades_classic)
          : undefined;
        bar?.start(plan.batches.length * steps, 0, { done: 0, total_mols: n });
        const t0 = performance.now();
        const result =
          workers > 1
            ? await sampleInWorkers(ckDir, backend as BackendName, plan, workers, (done, stepsDone) => bar?.update(stepsDone, { done }))
            : sampleMoleculesWithChains(model, {
                n,
                batchSize,
                steps,
                nAtoms: argv['n-atoms'],
                seed: argv.seed,
                chain: argv.chain,
                onProgress: (done, step) => bar?.update(Math.floor(done / batchSize) * steps + step, { done }),
              });
        bar?.stop();
        const seconds = (performance.now() - t0) / 1000;
        writeMolecules(out, result.molecules);
        if (argv.chain > 0) writeFileAtomic(chainPath, formatXyz(result.chains.flat()));
        process.stdout.write(`wrote ${n} molecules to ${argv.out} (${steps} denoising steps, ${seconds.toFixed(1)} s, ${((n * steps) / seconds).toFixed(1)} molecule-steps/s on ${backend}${workers > 1 ? ` x ${workers} workers` : ''})\n`);
        if (argv.chain > 0) process.stdout.write(`wrote denoising trajectories of ${Math.min(argv.chain, n)} molecules to ${besideOutput(argv.out, '.chain.xyz')}\n`);
        if (!argv.eval) return;
        const ref = await referenceFor(argv.train as string | boolean | undefined, ckDir);
        const r = await evaluateMolecules(result.molecules, { trainSmiles: ref?.smiles, trainStats: ref?.stats });
        process.stdout.write('\n' + formatReport(r, `metrics of ${n} samples from ${ckDir}${ref ? ` (novelty vs ${ref.source})` : ''}`));
        await writeReportFiles(r, jsonPath, argv.svg, 48, {
          checkpoint: ckDir,
          seed: argv.seed,
          steps,
          samplingSeconds: seconds,
          backend,
          train: ref?.source ?? null,
        });
        process.stdout.write(`metrics written to ${besideOutput(argv.out, '.metrics.json')}\n`);
      }),
  );
}
