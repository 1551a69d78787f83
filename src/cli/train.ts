/**
 * `edm train`: train on QM9 (EDM split) or on a user's own SDF/XYZ files.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Argv } from 'yargs';
import cliProgress from 'cli-progress';
import { EDM_QM9_DIFFUSION, EDM_QM9_DYNAMICS, type NoiseScheduleName } from '../config.js';
import { QM9_ATOM_DECODER, datasetInfoFrom } from '../data/dataset.js';
import { loadQm9Split } from '../data/qm9.js';
import { readMolecules } from '../data/read.js';
import { OptionError } from '../errors.js';
import { CHECKPOINT_REFERENCE_FILE, computeReference, saveReference } from '../metrics/reference.js';
import { train } from '../train/trainer.js';
import { DEFAULT_QM9_DIR, runCommand, startBackend, userPath } from './common.js';

/** Register the command. */
export function trainCommand(y: Argv): Argv {
  return y.command(
    'train',
    'train a model (EDM recipe) on QM9 or your own molecules',
    (a) =>
      a
        .option('out', { type: 'string', demandOption: true, describe: 'checkpoint folder to write (and to resume from)' })
        .option('qm9', { type: 'string', describe: 'folder with QM9 in EDM\'s split (qm9_train.xyz.gz, ...)', default: DEFAULT_QM9_DIR })
        .option('train-file', { type: 'string', describe: 'your own training molecules (SDF/XYZ); replaces --qm9' })
        .option('valid-file', { type: 'string', describe: 'your own validation molecules (SDF/XYZ)' })
        .option('atoms', { type: 'string', describe: 'atom decoder, comma separated (default: H,C,N,O,F for QM9, else the elements present)' })
        .option('nf', { type: 'number', default: 64, describe: 'hidden width (EDM QM9: 256)' })
        .option('layers', { type: 'number', default: 4, describe: 'equivariant blocks (EDM QM9: 9)' })
        .option('batch-size', { type: 'number', default: 64 })
        .option('lr', { type: 'number', default: 1e-4 })
        .option('ema', { type: 'number', default: 0.999, describe: 'EMA decay of the weights (EDM QM9: 0.9999)' })
        .option('schedule', { type: 'string', default: 'polynomial_2' })
        .option('timesteps', { type: 'number', default: 1000 })
        .option('seed', { type: 'number', default: 0 })
        .option('steps', { type: 'number', describe: 'stop after this many steps in total' })
        .option('epochs', { type: 'number', describe: 'stop after this many epochs in total' })
        .option('hours', { type: 'number', describe: 'stop after this many hours of this run' })
        .option('checkpoint-every', { type: 'number', default: 500 })
        .option('log-every', { type: 'number', default: 50, describe: 'steps between loss lines in train-log.jsonl' })
        .option('validate-every', { type: 'number', default: 2000 })
        .option('valid-size', { type: 'number', default: 500 })
        .option('workers', { type: 'number', describe: 'threads computing gradients (default: one per core on wasm; 0 = this thread)' })
        .option('shards', { type: 'number', default: 2, describe: 'micro-batches per step, summed in a fixed order: results depend on this, not on --workers (kept on --resume)' })
        .option('curve-every', { type: 'number', default: 0, describe: 'steps between learning-curve points (sample, score, write curve.csv; 0: never)' })
        .option('curve-samples', { type: 'number', default: 200, describe: 'molecules sampled (fixed seed) at each curve point' })
        .option('curve-steps', { type: 'number', default: 500, describe: 'denoising steps of the curve samples' })
        .option('resume', { type: 'boolean', default: false, describe: 'continue exactly from --out' })
        .option('backend', { type: 'string', choices: ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] }),
    (argv) =>
      runCommand(async () => {
        await startBackend(argv.backend);
        if (argv.steps === undefined && argv.epochs === undefined && argv.hours === undefined) {
          throw new OptionError('say when to stop: --steps, --epochs or --hours');
        }
        for (const [k, v] of Object.entries({ nf: argv.nf, layers: argv.layers, 'batch-size': argv['batch-size'], timesteps: argv.timesteps })) {
          if (!Number.isInteger(v) || v < 1) throw new OptionError(`--${k} must be a positive integer, got ${v}`);
        }
        let trainMols;
        let validMols;
        let name: string;
        let source: string;
        let decoder: string[];
        if (argv['train-file']) {
          const given = argv.atoms ? argv.atoms.split(',').map((s) => s.trim()) : undefined;
          trainMols = readMolecules(userPath(argv['train-file']), given);
          decoder = given ?? [...new Set(trainMols.flatMap((m) => m.elements))].sort();
          validMols = argv['valid-file'] ? readMolecules(userPath(argv['valid-file']), decoder) : undefined;
          name = 'custom';
          source = argv['train-file'];
        } else {
          const dir = userPath(argv.qm9);
          decoder = argv.atoms ? argv.atoms.split(',').map((s) => s.trim()) : QM9_ATOM_DECODER;
          trainMols = await loadQm9Split(dir, 'train', decoder);
          validMols = await loadQm9Split(dir, 'valid', decoder);
          name = 'qm9';
          source = 'QM9 train split (EDM split)';
        }
        const info = datasetInfoFrom(name, trainMols, decoder);
        // the checkpoint carries its training SMILES, so novelty needs no training data later
        const outDir = userPath(argv.out);
        if (!existsSync(join(outDir, CHECKPOINT_REFERENCE_FILE))) {
          process.stderr.write(`edm: computing the SMILES of ${trainMols.length} training molecules for novelty (stored in the checkpoint)\n`);
          mkdirSync(outDir, { recursive: true });
          await saveReference(outDir, await computeReference(trainMols, source, `${name}:${trainMols.length}`));
        }
        const stop = { stop: false };
        const onSignal = (): void => {
          if (stop.stop) process.exit(130);
          stop.stop = true;
          process.stderr.write('\nedm: stopping after this step and writing a checkpoint (signal again to abort)\n');
        };
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
        const tty = process.stderr.isTTY;
        // the bar counts steps when the run has a step budget, else seconds of the --hours budget
        const stepBudget = argv.steps ?? (argv.epochs ? Math.ceil((argv.epochs * trainMols.length) / argv['batch-size']) : 0);
        const timeBudget = argv.hours !== undefined ? Math.round(argv.hours * 3600) : 0;
        const byTime = stepBudget === 0;
        const bar = tty
          ? new cliProgress.SingleBar(
              { format: `train |{bar}| step {step} epoch {epoch} loss {loss} {rate} mol/s ${byTime ? 'time left' : 'ETA'} {eta_formatted}`, etaBuffer: 200 },
              cliProgress.Presets.shades_classic,
            )
          : undefined;
        bar?.start(byTime ? timeBudget : stepBudget, 0, { step: 0, epoch: 0, loss: '-', rate: '-' });
        const t0 = Date.now();
        const result = await train({
          outDir,
          train: trainMols,
          valid: validMols,
          datasetInfo: info,
          dynamics: { ...EDM_QM9_DYNAMICS, nf: argv.nf, nLayers: argv.layers },
          diffusion: { ...EDM_QM9_DIFFUSION, noiseSchedule: argv.schedule as NoiseScheduleName, timesteps: argv.timesteps },
          batchSize: argv['batch-size'],
          lr: argv.lr,
          emaDecay: argv.ema,
          seed: argv.seed,
          maxSteps: argv.steps,
          epochs: argv.epochs,
          maxSeconds: argv.hours !== undefined ? argv.hours * 3600 : undefined,
          checkpointEvery: argv['checkpoint-every'],
          logEvery: argv['log-every'],
          validateEvery: argv['validate-every'],
          validSize: argv['valid-size'],
          resume: argv.resume,
          command: `edm ${process.argv.slice(2).join(' ')}`,
          stopSignal: stop,
          workers: argv.workers,
          shards: argv.shards,
          curve: argv['curve-every'] > 0 ? { every: argv['curve-every'], samples: argv['curve-samples'], steps: argv['curve-steps'] } : undefined,
          onStep: (s) => {
            const payload = { step: s.step, epoch: (s.epoch + s.epochProgress).toFixed(2), loss: s.loss.toFixed(4), rate: s.moleculesPerSecond.toFixed(1) };
            if (bar) bar.update(byTime ? Math.round((Date.now() - t0) / 1000) : s.step, payload);
            else if (s.step % 100 === 0) {
              process.stderr.write(`step ${s.step} epoch ${(s.epoch + s.epochProgress).toFixed(3)} loss ${s.loss.toFixed(4)} grad ${s.gradNorm.toFixed(2)} ${s.moleculesPerSecond.toFixed(1)} mol/s ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
            }
          },
          onEvent: (e) => {
            if (e.event === 'validation' || e.event === 'curve' || e.event === 'nonfinite') {
              const line = `${JSON.stringify(e)}\n`;
              if (bar) bar.stop();
              process.stderr.write(line);
            }
          },
        });
        bar?.stop();
        process.stdout.write(`trained to step ${result.step} (epoch ${result.epoch}); checkpoint in ${result.checkpoint}\n`);
      }),
  );
}
