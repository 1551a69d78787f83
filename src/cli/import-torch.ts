/**
 * `edm import-torch DIR --out checkpoints/NAME`: convert EDM's published PyTorch files.
 */
import type { Argv } from 'yargs';
import { DEFAULT_CHECKPOINT, DEFAULT_TRAIN_FILE, importDatasetInfo, importTorchDir, saveCheckpoint } from '../index.js';
import { runCommand, startBackend, userPath } from './common.js';

/** Register the command. */
export function importTorchCommand(y: Argv): Argv {
  return y.command(
    'import-torch <dir>',
    'import an EDM PyTorch output folder (generative_model_ema.npy + args.pickle)',
    (a) =>
      a
        .positional('dir', { type: 'string', demandOption: true, describe: "EDM's output folder, holding args.pickle and generative_model_ema.npy" })
        .option('out', { type: 'string', demandOption: true, describe: 'checkpoint folder to write' })
        .option('train', { type: 'string', describe: 'training molecules for the atom-count histogram', defaultDescription: "QM9 train split if present, else the shipped checkpoint's" }),
    (argv) =>
      runCommand(async () => {
        await startBackend('auto');
        const info = importDatasetInfo(argv.train ? userPath(argv.train) : undefined, DEFAULT_TRAIN_FILE, DEFAULT_CHECKPOINT);
        const { config, params } = importTorchDir(userPath(argv.dir!), info);
        await saveCheckpoint(userPath(argv.out), config, params);
        process.stdout.write(`imported ${argv.dir} (nf ${config.dynamics.nf}, ${config.dynamics.nLayers} layers) to ${argv.out}\n`);
      }),
  );
}
