/**
 * `edm import-torch DIR --out checkpoints/NAME`: convert EDM's published PyTorch files.
 */
import type { Argv } from 'yargs';
import { loadCheckpoint, saveCheckpoint } from '../checkpoint/format.js';
import { importTorchDir } from '../checkpoint/torch-import.js';
import type { DatasetInfo } from '../config.js';
import { QM9_ATOM_DECODER, datasetInfoFrom } from '../data/dataset.js';
import { readMolecules } from '../data/read.js';
import { CheckpointError } from '../errors.js';
import { DEFAULT_CHECKPOINT, exists, runCommand, startBackend, userPath } from './common.js';
import { DEFAULT_TRAIN_FILE } from './evaluate.js';

/** Register the command. */
export function importTorchCommand(y: Argv): Argv {
  return y.command(
    'import-torch <dir>',
    'import an EDM PyTorch output folder (generative_model_ema.npy + args.pickle)',
    (a) =>
      a
        .positional('dir', { type: 'string', demandOption: true })
        .option('out', { type: 'string', demandOption: true, describe: 'checkpoint folder to write' })
        .option('train', { type: 'string', describe: 'training molecules for the atom-count histogram (default: QM9 train split, or the shipped checkpoint\'s)' }),
    (argv) =>
      runCommand(async () => {
        await startBackend('auto');
        let info: DatasetInfo;
        if (argv.train) info = datasetInfoFrom('qm9', readMolecules(userPath(argv.train), QM9_ATOM_DECODER), QM9_ATOM_DECODER);
        else if (exists(DEFAULT_TRAIN_FILE)) info = datasetInfoFrom('qm9', readMolecules(DEFAULT_TRAIN_FILE, QM9_ATOM_DECODER), QM9_ATOM_DECODER);
        else if (exists(DEFAULT_CHECKPOINT)) info = loadCheckpoint(DEFAULT_CHECKPOINT).config.dataset;
        else throw new CheckpointError('no dataset info: give --train with the training molecules');
        const { config, params } = importTorchDir(userPath(argv.dir!), info);
        await saveCheckpoint(userPath(argv.out), config, params);
        process.stdout.write(`imported ${argv.dir} (nf ${config.dynamics.nf}, ${config.dynamics.nLayers} layers) to ${argv.out}\n`);
      }),
  );
}
