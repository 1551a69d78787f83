/**
 * `edm import-torch DIR --out checkpoints/NAME`: convert EDM's published PyTorch files.
 */
import type { Argv } from 'yargs';
import { DEFAULT_CHECKPOINT, DEFAULT_TRAIN_FILE, importDatasetInfo, importTorchDir, saveCheckpoint } from '../index.js';
import { startBackend, userPath, defineCommand, textFlag } from './common.js';

/** Register the command. */
export const importTorchCommand = (y: Argv): Argv =>
  defineCommand(y, 'import-torch <dir>', 'import an EDM PyTorch output folder (generative_model_ema.npy + args.pickle)', (a) =>
      a.positional('dir', { type: 'string', demandOption: true, describe: "EDM's output folder, holding args.pickle and generative_model_ema.npy" })
        .options({
          out: { type: 'string', demandOption: true, describe: 'checkpoint folder to write' },
          train: textFlag('training molecules for the atom-count histogram', "QM9 train split if present, else the shipped checkpoint's"),
        }),
    async (argv) => {
      await startBackend('auto');
      const info = importDatasetInfo(argv.train ? userPath(argv.train) : undefined, DEFAULT_TRAIN_FILE, DEFAULT_CHECKPOINT);
      const { config, params } = importTorchDir(userPath(argv.dir!), info);
      await saveCheckpoint(userPath(argv.out), config, params);
      process.stdout.write(`imported ${argv.dir} (nf ${config.dynamics.nf}, ${config.dynamics.nLayers} layers) to ${argv.out}\n`);
    },
  );
