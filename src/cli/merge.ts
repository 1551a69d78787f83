/**
 * `edm merge SHARDS... --out all.sdf`: join the SDF files of a sharded run and score the whole.
 */
import type { Argv } from 'yargs';
import { InputError, type MergedSamples, type MoleculeOutcome, chemistFields, evaluate, formatReport, formatSdf, htmlReport, loadRDKit, mergeSampleFiles, withBondsAndStability, writeFileAtomic } from '../index.js';
import { writeReportFiles } from '../cli-support.js';
import { checkOutputs, defineCommand, referenceFromArgs, scoringProgress, textFlag, userPath } from './common.js';

/** Register the command. */
export const mergeCommand = (y: Argv): Argv =>
  defineCommand(y, 'merge <files..>', 'join the SDF files of a sharded run (edm sample --shard i/k) and score them', (a) =>
      a.positional('files', { type: 'string', array: true, demandOption: true, describe: 'shard SDF files, in any order (records are ordered by their "sample N" names)' })
        .options({
          out: { type: 'string', demandOption: true, describe: 'the merged SDF file (byte-identical to the run without --shard)' },
          train: textFlag('training molecules for novelty; --no-train to skip', 'the SMILES stored in --checkpoint, else QM9 train split if present'),
          checkpoint: textFlag('the checkpoint that made the shards (its stored training SMILES give novelty)'),
          json: textFlag('write the full report as JSON'),
          html: textFlag('also write a self-contained HTML report'),
          'allow-missing': { type: 'boolean', default: false, describe: 'merge even when sample numbers are missing (a shard lost)' },
        }),
    async (argv) => {
      const files = (argv.files as string[]).map(userPath);
      if (!/\.(sdf|sd)$/i.test(argv.out)) throw new InputError('the merged file must be .sdf', argv.out);
      const outputs = { '--out': argv.out, '--json': argv.json, '--html': argv.html };
      checkOutputs(outputs, [...files, typeof argv.train === 'string' ? argv.train : undefined]);
      const merged = mergeSampleFiles(files);
      // a lost or forgotten shard is an error, not a note: the merged run would not be the run
      if (merged.missing.length && !argv['allow-missing']) throw new InputError(`missing samples ${merged.missing.slice(0, 20).join(', ')}${merged.missing.length > 20 ? ', ...' : ''}: give every shard's file (or --allow-missing to merge what there is); nothing written`, argv.out);
      const ref = await referenceFromArgs(argv.train, argv.checkpoint ? userPath(argv.checkpoint) : undefined);
      const scoring = scoringProgress();
      const outcomes: MoleculeOutcome[] = [];
      const r = await evaluate(merged.molecules, { trainSmiles: ref?.smiles, trainStats: ref?.stats, onProgress: scoring.onProgress, onOutcome: (o) => outcomes.push(o) });
      scoring.stop();
      writeFileAtomic(userPath(argv.out), await mergedText(merged, outcomes));
      const gaps = merged.missing.length ? `; missing samples: ${merged.missing.slice(0, 20).join(', ')}${merged.missing.length > 20 ? ', ...' : ''}` : '; none missing';
      process.stdout.write(`merged ${merged.molecules.length} molecules from ${files.length} files into ${argv.out}${gaps}\n`);
      const anchors = !ref || /qm9/i.test(ref.source);
      process.stdout.write('\n' + formatReport(r, `${argv.out}${ref ? ` (novelty vs ${ref.source})` : ''}`, anchors));
      await writeReportFiles(r, { json: argv.json ? userPath(argv.json) : undefined }, 0, { files: argv.files, train: ref?.source ?? null });
      if (argv.html) writeFileAtomic(userPath(argv.html), await htmlReport({ title: `edm merge: ${argv.out}`, details: [`${files.length} shard files`], report: r, molecules: merged.molecules, trainStats: ref?.stats, anchors }));
    },
  );

/**
 * The merged file: the shards' records as written, or, when shards were made with --no-eval (no
 * `valid` field), every record re-written with the scoring fields `edm sample` adds (valid,
 * fragments, connected, SMILES), so a merged run's file has them whichever way its shards ran.
 */
async function mergedText(merged: MergedSamples, outcomes: MoleculeOutcome[]): Promise<string> {
  if (merged.molecules.every((m) => m.properties?.valid !== undefined)) return merged.sdf;
  const rdkit = await loadRDKit();
  // EDM's protocol: bonds inferred from the positions, as the shards' own decode step did
  const decoded = withBondsAndStability(merged.molecules.map(({ bonds: _bonds, ...m }) => m));
  decoded.forEach((m, k) => (m.properties = { ...m.properties, ...chemistFields(rdkit, m, outcomes[k]) }));
  return formatSdf(decoded);
}
