/**
 * `edm evaluate FILE`: EDM's metrics on any SDF/XYZ file.
 */
import type { Argv } from 'yargs';
import { UserError, EVALUATION_ELEMENTS, evaluate, formatReport, htmlReport, readMolecules, writeFileAtomic } from '../index.js';
import { integerOption, startProgress, writeReportFiles } from '../cli-support.js';
import { InterruptedError, type Molecule, loadCheckpointConfig, protocolOf, type PropertyCheck, PROPERTY_NAMES, PROPERTY_UNITS, computeProperties, propertyErrors, targetsOf, xtbVersion } from '../index.js';
import { checkOutputs, defineCommand, interruptedExitCode, stopOnSignals, referenceFromArgs, numberFlag, scoringProgress, textFlag, userPath } from './common.js';

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
          dataset: { type: 'string', choices: ['qm9', 'geom'], describe: "EDM's analysis to score by: QM9's, or GEOM-Drugs' (bonds looked up by sorted atom types, validity with every bond single)", defaultDescription: "the --checkpoint's dataset, else qm9" },
          properties: { type: 'boolean', default: false, describe: 'compute each molecule\'s properties with GFN2-xTB (needs the xtb program) and give the mean absolute error against its target_<name> fields (edm sample --condition writes them); open-shell molecules are not scored' },
          'properties-csv': textFlag('with --properties: write each molecule\'s targets and computed values to this CSV'),
          'xtb-jobs': numberFlag('--xtb-jobs', 'xtb processes at once for --properties', 2),
        }),
    async (argv) => {
      const t0 = performance.now();
      const maxSvg = integerOption('--max-svg', argv['max-svg'], 0);
      const maxHtml = integerOption('--max-html', argv['max-html'], 1);
      const outputs = { '--json': argv.json, '--svg': argv.svg, '--html': argv.html };
      checkOutputs({ ...outputs, '--properties-csv': argv['properties-csv'] }, [argv.file!, typeof argv.train === 'string' ? argv.train : undefined]);
      if (argv['properties-csv'] && !argv.properties) throw new UserError('--properties-csv belongs to --properties');
      const xtbJobs = integerOption('--xtb-jobs', argv['xtb-jobs'], 1, 64);
      const mols = readMolecules(userPath(argv.file!), EVALUATION_ELEMENTS);
      const xtb = argv.properties ? await checkXtb(argv.file!, mols) : undefined;
      // EDM's protocol ignores a file's bonds; --own-bonds scores them too (as a bond-aware model's)
      if (argv['own-bonds']) {
        // an XYZ file (or an SDF written without bonds) has none of its own to score
        if (!mols.some((m) => m.bonds && m.bonds.length > 0)) throw new UserError(`--own-bonds: ${argv.file} holds no bonds of its own (an SDF's bond block); EDM's scores from distances need no flag`);
        for (const m of mols) if (m.bonds) m.modelBonds = m.bonds;
      }
      const ref = await referenceFromArgs(argv.train, argv.checkpoint ? userPath(argv.checkpoint) : undefined);
      const scoring = scoringProgress();
      const protocol = protocolOf(argv.dataset ?? (argv.checkpoint ? loadCheckpointConfig(userPath(argv.checkpoint)).dataset.name : 'qm9'));
      const r = await evaluate(mols, { trainSmiles: ref?.smiles, trainStats: ref?.stats, onProgress: scoring.onProgress, protocol });
      scoring.stop();
      r.seconds = (performance.now() - t0) / 1000;
      // EDM's QM9 rows unless the molecules are compared with another dataset
      const anchors = protocol.name === 'qm9' && (!ref || /qm9/i.test(ref.source));
      process.stdout.write(formatReport(r, `${argv.file}${ref ? ` (novelty vs ${ref.source}, ${ref.molecules} molecules)` : ''}`, anchors));
      // EDM's stability counts hydrogens: a heavy-atom-only file scores 0% without this being wrong
      if (mols.length > 0 && !mols.some((m) => m.elements.includes('H'))) process.stderr.write('edm: note: these molecules have no hydrogen atoms; EDM\'s atom and molecule stability count them (valences are filled by explicit H), so heavy-atom-only molecules score low there. Validity (RDKit) is unaffected\n');
      if (!ref) process.stderr.write(`edm: note: novelty is n/a: ${(argv.train as unknown) === false ? '--no-train was given' : 'no training molecules (give --train FILE or --checkpoint DIR with stored training SMILES)'}\n`);
      if (xtb && !(await propertiesReport(mols, xtbJobs, xtb, r.outcomes.map((o) => o.stable), argv['properties-csv'] ? userPath(argv['properties-csv']) : undefined))) return;
      const paths = { json: argv.json ? userPath(argv.json) : undefined, svg: argv.svg ? userPath(argv.svg) : undefined };
      await writeReportFiles(r, paths, maxSvg, { file: argv.file, train: ref?.source ?? null });
      if (argv.html) {
        const details = [`${r.molecules} molecules scored in ${r.seconds.toFixed(1)} s`, ref ? `novelty vs ${ref.source}` : 'novelty: no training data'];
        writeFileAtomic(userPath(argv.html), await htmlReport({ title: `edm evaluate: ${argv.file}`, details, report: r, molecules: mols, trainStats: ref?.stats, maxMolecules: maxHtml, anchors }));
        process.stdout.write(`HTML report written to ${argv.html}\n`);
      }
    },
  );

/**
 * Before any scoring: xtb is installed and some molecule asks for a property.
 * @returns xtb's version line
 * @throws UserError naming what is missing
 */
async function checkXtb(file: string, mols: Molecule[]): Promise<string> {
  if (!mols.some((m) => Object.keys(targetsOf(m)).length > 0)) throw new UserError(`--properties: no molecule of ${file} has a target_<name> field (alpha, gap, homo, lumo or mu) to compare with; edm sample --condition writes them`);
  const version = await xtbVersion();
  if (!version) throw new UserError('--properties needs the xtb program (GFN2-xTB), which is not installed: apt-get install xtb');
  return version;
}

/**
 * xtb on every molecule, then one line per property: molecules asked, computed, MAE, the
 * correlation of asked and computed values, the MAE over the molecule-stable ones.
 * @param stable each molecule's stability (EDM's protocol), in file order
 * @returns false when a signal stopped it (the exit code is set)
 */
async function propertiesReport(mols: Molecule[], jobs: number, version: string, stable: boolean[], csv: string | undefined): Promise<boolean> {
  const progress = startProgress({ total: mols.length, barFormat: 'xtb |{bar}| {value}/{total} molecules', line: (v, t) => `xtb: ${v}/${t} molecules` });
  // Ctrl-C kills the running xtb processes and removes their folders; nothing is written
  const interrupt = stopOnSignals();
  let checks: PropertyCheck[];
  try {
    checks = await computeProperties(mols, { jobs, signal: interrupt.signal, onDone: (d) => progress.update(d) });
  } catch (e) {
    progress.stop();
    if (!(e instanceof InterruptedError)) throw e;
    process.stderr.write(`\nedm: interrupted (${String(interrupt.signal.reason)}): the xtb runs were stopped and their files removed; no properties written\n`);
    process.exitCode = interruptedExitCode(interrupt);
    return false;
  }
  progress.stop();
  const skipped = checks.filter((c) => 'skipped' in c).length;
  const failed = checks.filter((c) => 'failed' in c).length;
  const lines = [`properties by GFN2-xTB (${version}): ${mols.length - skipped - failed} of ${mols.length} molecules computed (${skipped} open-shell or unknown elements not scored, ${failed} xtb failures)`];
  const fixed = (v: number, digits: number): string => (Number.isFinite(v) ? v.toFixed(digits) : 'n/a');
  for (const e of propertyErrors(mols, checks, stable)) {
    const unit = PROPERTY_UNITS[e.property];
    lines.push(`  ${e.property.padEnd(6)} MAE ${fixed(e.mae, 3)} ${unit} over ${e.computed} of ${e.asked} molecules that asked for it; correlation of asked and computed ${fixed(e.correlation, 2)}; the molecule-stable ones: MAE ${fixed(e.stable!.mae, 3)} ${unit} over ${e.stable!.computed}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  if (!csv) return true;
  const rows = [['molecule', ...PROPERTY_NAMES.map((n) => `target_${n}`), ...PROPERTY_NAMES, 'molecule_stable', 'status'].join(',')];
  mols.forEach((m, i) => {
    const t = targetsOf(m);
    const c = checks[i];
    const status = 'properties' in c ? 'ok' : 'skipped' in c ? c.skipped : `failed: ${c.failed}`;
    rows.push([i + 1, ...PROPERTY_NAMES.map((n) => t[n] ?? ''), ...PROPERTY_NAMES.map((n) => ('properties' in c ? c.properties[n] : '')), stable[i] ? 1 : 0, `"${status}"`].join(','));
  });
  writeFileAtomic(csv, `${rows.join('\n')}\n`);
  process.stdout.write(`per-molecule properties written to ${csv}\n`);
  return true;
}
