/**
 * `edm import-torch DIR --out checkpoints/NAME`: convert EDM's published PyTorch files.
 */
import type { Argv } from 'yargs';
import { DEFAULT_CHECKPOINT, DEFAULT_TRAIN_FILE, type PropertyNorms, UserError, importTorchDir, saveCheckpoint } from '../index.js';
import { importDatasetInfo } from '../cli-support.js';
import { startBackend, userPath, defineCommand, textFlag } from './common.js';

/** Register the command. */
export const importTorchCommand = (y: Argv): Argv =>
  defineCommand(y, 'import-torch <dir>', 'import an EDM PyTorch output folder (generative_model_ema.npy + args.pickle)', (a) =>
      a.positional('dir', { type: 'string', demandOption: true, describe: "EDM's output folder, holding args.pickle and generative_model_ema.npy" })
        .options({
          out: { type: 'string', demandOption: true, describe: 'checkpoint folder to write' },
          train: textFlag('training molecules for the atom-count histogram', "QM9 train split if present, else the shipped checkpoint's; EDM's own for its qm9_second_half runs"),
          'property-norm': textFlag("a conditional model's normalisation of each property, NAME=MEAN,MAD (mean and mean absolute deviation over QM9's validation split, EDM's compute_mean_mad), several separated by ';'", 'alpha=75.3734,6.2728, the values quoted for EDM\'s alpha runs'),
        }),
    async (argv) => {
      await startBackend('auto');
      const info = importDatasetInfo(argv.train ? userPath(argv.train) : undefined, DEFAULT_TRAIN_FILE, DEFAULT_CHECKPOINT);
      const { config, params } = importTorchDir(userPath(argv.dir!), info, propertyNorms(argv['property-norm']));
      await saveCheckpoint(userPath(argv.out), config, params);
      const c = config.conditioning?.kind === 'properties' ? `, conditioned on ${config.conditioning.properties.map((p) => `${p.name} (mean ${p.mean}, MAD ${p.mad} ${p.unit})`).join(', ')}` : '';
      process.stdout.write(`imported ${argv.dir} (nf ${config.dynamics.nf}, ${config.dynamics.nLayers} layers${c}) to ${argv.out}\n`);
    },
  );

/**
 * `--property-norm alpha=75.37,6.27;gap=...` as the importer's norms.
 * @throws UserError for an item that is not NAME=MEAN,MAD with a finite mean and a positive MAD
 */
function propertyNorms(text: string | undefined): PropertyNorms {
  const out: PropertyNorms = {};
  for (const item of (text ?? '').split(';').map((s) => s.trim()).filter(Boolean)) {
    const m = /^(\w+)=([^,]+),([^,]+)$/.exec(item);
    const [mean, mad] = m ? [Number(m[2]), Number(m[3])] : [NaN, NaN];
    if (!m || !Number.isFinite(mean) || !(mad > 0)) throw new UserError(`--property-norm ${item}: give NAME=MEAN,MAD with a number and a positive MAD (e.g. alpha=75.3734,6.2728)`);
    out[m[1]] = { mean, mad };
  }
  return out;
}
