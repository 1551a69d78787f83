/**
 * `edm evaluate FILE`: EDM's metrics on any SDF/XYZ file.
 */
import type { Argv } from 'yargs';
import { writeFileAtomic } from '../data/files.js';
import { readMolecules } from '../data/read.js';
import { SINGLE_BOND_PM } from '../decode/bond-tables.js';
import { type EvaluationReport, evaluateMolecules } from '../metrics/evaluate.js';
import { type TrainingReference, cacheDir, loadReference, trainingReference } from '../metrics/reference.js';
import { svgGrid } from '../report/svg.js';
import { formatReport, reportJson } from '../report/table.js';
import { DEFAULT_QM9_DIR, exists, runCommand, userPath } from './common.js';
import { join } from 'node:path';

/** The training file used for novelty when none is given (QM9 train split, if present). */
export const DEFAULT_TRAIN_FILE = join(DEFAULT_QM9_DIR, 'qm9_train.xyz.gz');

/** Elements the evaluation tables know (bond lengths exist for them). */
export const EVALUATION_ELEMENTS = Object.keys(SINGLE_BOND_PM);

/**
 * The training reference for novelty: the file named by `--train`; else the one stored in the
 * checkpoint (its own training set); else QM9's train split when present; none for
 * `--no-train` (yargs turns `--no-train` into `train: false`).
 */
export async function referenceFor(train: string | boolean | undefined, checkpointDir?: string): Promise<TrainingReference | undefined> {
  if (train === false) return undefined;
  const say = (p: string) => () => process.stderr.write(`edm: computing the SMILES of ${p} for novelty (once; cached in ${cacheDir()})\n`);
  if (typeof train === 'string' && train !== '') return trainingReference(userPath(train), say(train));
  if (checkpointDir) {
    const stored = loadReference(checkpointDir);
    if (!('missing' in stored)) return stored;
    if (!exists(DEFAULT_TRAIN_FILE)) process.stderr.write(`edm: novelty n/a: ${stored.missing} (give --train FILE)\n`);
  }
  if (exists(DEFAULT_TRAIN_FILE)) return trainingReference(DEFAULT_TRAIN_FILE, say(DEFAULT_TRAIN_FILE));
  return undefined;
}

/** Write the optional JSON and SVG outputs of an evaluation. */
export async function writeReportFiles(r: EvaluationReport, json: string | undefined, svg: string | undefined, maxSvg: number, extra: Record<string, unknown>): Promise<void> {
  if (json) writeFileAtomic(userPath(json), reportJson(r, extra));
  if (svg) {
    const items = r.outcomes.filter((o) => o.valid).slice(0, maxSvg).map((o) => ({ smiles: o.smiles!, label: `${o.index + 1}${o.stable ? '' : ' (unstable)'}` }));
    writeFileAtomic(userPath(svg), await svgGrid(items));
  }
}

/** Register the command. */
export function evaluateCommand(y: Argv): Argv {
  return y.command(
    'evaluate <file>',
    'score molecules in an SDF/XYZ file (atom/molecule stability, validity, uniqueness, novelty)',
    (a) =>
      a
        .positional('file', { type: 'string', demandOption: true, describe: '.sdf, .xyz (multi-frame), optionally .gz' })
        .option('train', { type: 'string', describe: 'training molecules for novelty and distributions (default: QM9 train split if present; --no-train to skip)' })
        .option('checkpoint', { type: 'string', describe: 'use the training SMILES stored in this checkpoint for novelty (when --train is not given)' })
        .option('json', { type: 'string', describe: 'write the full report as JSON' })
        .option('svg', { type: 'string', describe: 'draw valid molecules in an SVG grid' })
        .option('max-svg', { type: 'number', default: 48, describe: 'molecules drawn in the SVG' }),
    (argv) =>
      runCommand(async () => {
        const t0 = performance.now();
        const mols = readMolecules(userPath(argv.file!), EVALUATION_ELEMENTS);
        const ref = await referenceFor(argv.train as string | boolean | undefined, argv.checkpoint ? userPath(argv.checkpoint) : undefined);
        const r = await evaluateMolecules(mols, { trainSmiles: ref?.smiles, trainStats: ref?.stats });
        r.seconds = (performance.now() - t0) / 1000;
        process.stdout.write(formatReport(r, `${argv.file}${ref ? ` (novelty vs ${ref.source}, ${ref.molecules} molecules)` : ''}`));
        await writeReportFiles(r, argv.json, argv.svg, argv['max-svg'], { file: argv.file, train: ref?.source ?? null });
      }),
  );
}
