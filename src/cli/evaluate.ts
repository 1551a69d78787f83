/**
 * `edm evaluate FILE`: EDM's metrics on any SDF/XYZ file.
 */
import type { Argv } from 'yargs';
import { UserError, EVALUATION_ELEMENTS, evaluate, formatReport, htmlReport, integerOption, readMolecules, writeFileAtomic, writeReportFiles } from '../index.js';
import { checkOutputs, defineCommand, referenceFromArgs, numberFlag, scoringProgress, textFlag, userPath } from './common.js';

/** Register the command. */
export const evaluateCommand = (y: Argv): Argv =>
  defineCommand(y, 'evaluate <file>', 'score molecules in an SDF/XYZ file (atom/molecule stability, validity, uniqueness, novelty)', (a) =>
      a.positional('file', { type: 'string', demandOption: true, describe: 'molecules to score: .sdf, .xyz (multi-frame), optionally .gz' })
        .options({
          train: textFlag('training molecules for novelty and distributions; --no-train to skip', 'QM9 train split if present'),
          checkpoint: textFlag('use the training SMILES stored in this checkpoint for novelty (when --train is not given)'),
          json: textFlag('write the full report as JSON'),
          svg: textFlag('draw valid molecules in an SVG grid'),
          'max-svg': numberFlag('--max-svg', 'molecules drawn in the SVG', 48),
          html: textFlag('also write a self-contained HTML report (3D views, plots; opens offline)'),
          'max-html': numberFlag('--max-html', 'molecule cards in the HTML report', 100),
          'own-bonds': { type: 'boolean', default: false, describe: "also score the file's own bonds (an SDF's bond block, e.g. from a bond-aware model) beside EDM's bonds inferred from distances" },
        }),
    async (argv) => {
      const t0 = performance.now();
      const maxSvg = integerOption('--max-svg', argv['max-svg'], 0);
      const maxHtml = integerOption('--max-html', argv['max-html'], 1);
      const outputs = { '--json': argv.json, '--svg': argv.svg, '--html': argv.html };
      checkOutputs(outputs, [argv.file!, typeof argv.train === 'string' ? argv.train : undefined]);
      const mols = readMolecules(userPath(argv.file!), EVALUATION_ELEMENTS);
      // EDM's protocol ignores a file's bonds; --own-bonds scores them too (as a bond-aware model's)
      if (argv['own-bonds']) {
        // an XYZ file (or an SDF written without bonds) has none of its own to score
        if (!mols.some((m) => m.bonds && m.bonds.length > 0)) throw new UserError(`--own-bonds: ${argv.file} holds no bonds of its own (an SDF's bond block); EDM's scores from distances need no flag`);
        for (const m of mols) if (m.bonds) m.modelBonds = m.bonds;
      }
      const ref = await referenceFromArgs(argv.train, argv.checkpoint ? userPath(argv.checkpoint) : undefined);
      const scoring = scoringProgress();
      const r = await evaluate(mols, { trainSmiles: ref?.smiles, trainStats: ref?.stats, onProgress: scoring.onProgress });
      scoring.stop();
      r.seconds = (performance.now() - t0) / 1000;
      // EDM's QM9 rows unless the molecules are compared with another dataset
      const anchors = !ref || /qm9/i.test(ref.source);
      process.stdout.write(formatReport(r, `${argv.file}${ref ? ` (novelty vs ${ref.source}, ${ref.molecules} molecules)` : ''}`, anchors));
      // EDM's stability counts hydrogens: a heavy-atom-only file scores 0% without this being wrong
      if (mols.length > 0 && !mols.some((m) => m.elements.includes('H'))) process.stderr.write('edm: note: these molecules have no hydrogen atoms; EDM\'s atom and molecule stability count them (valences are filled by explicit H), so heavy-atom-only molecules score low there. Validity (RDKit) is unaffected\n');
      if (!ref) process.stderr.write(`edm: note: novelty is n/a: ${(argv.train as unknown) === false ? '--no-train was given' : 'no training molecules (give --train FILE or --checkpoint DIR with stored training SMILES)'}\n`);
      const paths = { json: argv.json ? userPath(argv.json) : undefined, svg: argv.svg ? userPath(argv.svg) : undefined };
      await writeReportFiles(r, paths, maxSvg, { file: argv.file, train: ref?.source ?? null });
      if (argv.html) {
        const details = [`${r.molecules} molecules scored in ${r.seconds.toFixed(1)} s`, ref ? `novelty vs ${ref.source}` : 'novelty: no training data'];
        writeFileAtomic(userPath(argv.html), await htmlReport({ title: `edm evaluate: ${argv.file}`, details, report: r, molecules: mols, trainStats: ref?.stats, maxMolecules: maxHtml, anchors }));
        process.stdout.write(`HTML report written to ${argv.html}\n`);
      }
    },
  );
