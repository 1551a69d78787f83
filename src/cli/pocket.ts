/**
 * `edm pocket`: ligands generated inside a protein binding site, scored for fit (clashes, pocket
 * region), validity, QED and, when installed, AutoDock Vina.
 */
import type { Argv } from 'yargs';
import { DEFAULT_CHECKPOINT, OptionError, InterruptedError, formatPdbAtoms, formatSdf, htmlReport, loadModel, withRuntime, pocketRun, writeFileAtomic, readPdb } from '../index.js';
import { complexPdb, formatLigandTable, ligandNote, ligandTable, pocketSummary, formatPocketReport, integerOption, numberOption, startProgress } from '../cli-support.js';
import { backendOption, checkOutputs, checkpointFiles, defineCommand, interruptedExitCode, moleculeSteps, stopOnSignals, numberFlag, samplerArgs, samplerFlags, startBackend, threadsFlag, textFlag, userPath } from './common.js';

/** `x,y,z` -> a point. @throws OptionError naming the option */
function parseCenter(text: string): [number, number, number] {
  const v = text.split(',').map((s) => Number(s.trim()));
  if (v.length !== 3 || v.some((x) => !Number.isFinite(x))) throw new OptionError(`--center must be x,y,z in Å, got "${text}"`);
  return v as [number, number, number];
}

/** Register the command. */
export const pocketCommand = (y: Argv): Argv =>
  defineCommand(y, 'pocket', 'generate ligands inside a protein binding site and score how they fit', (a) =>
      a.options({
        pdb: { type: 'string', demandOption: true, describe: 'protein structure (PDB): a whole protein or a pre-cut pocket' },
        ligand: textFlag('reference ligand (SDF/XYZ): the pocket is the residues within --radius of it, and it is scored for comparison'),
        center: textFlag('pocket centre x,y,z in Å (instead of --ligand)'),
        radius: numberFlag('--radius', 'residues with an atom within this distance (Å) form the pocket', 10),
        n: { alias: 'num', ...numberFlag('-n', 'number of ligands', 20) },
        seed: numberFlag('--seed', 'integer seed: the same seed gives byte-identical output', 0),
        checkpoint: textFlag('checkpoint folder', 'the shipped QM9 model (checkpoints/qm9-default)'),
        steps: { ...numberFlag('--steps', 'denoising steps'), defaultDescription: 'all of the trained schedule (1000)' },
        guidance: { ...numberFlag('--guidance', 'strength of the pocket guidance (clash repulsion, keep in region); 0 = off'), defaultDescription: '1 (0 with --fix-fragment or a pocket model)' },
        'fix-fragment': textFlag('keep this fragment (SDF/XYZ in the protein frame, elements of the checkpoint) and grow ligands from it (RePaint inpainting)'),
        jumps: numberFlag('--jumps', 'with --fix-fragment: times each denoising step is taken (RePaint resampling)', 5),
        'n-atoms': { ...numberFlag('--n-atoms', 'atoms per ligand'), defaultDescription: "the reference ligand's size +- --size-margin, else the training histogram" },
        'size-margin': numberFlag('--size-margin', 'ligand sizes are drawn within the reference size +- this', 2),
        out: { type: 'string', default: 'pocket-ligands.sdf', describe: 'ligands (SDF, protein frame, scores as data fields)' },
        complex: textFlag('also write pocket + ligands as one PDB file'),
        table: textFlag('also write the per-ligand scores as a tab-separated table'),
        relaxed: textFlag('also write the ligands after their MMFF94 relaxation in the fixed pocket (SDF; needs Open Babel)'),
        json: textFlag('also write the whole report as JSON'),
        html: textFlag('also write a self-contained HTML report: the pocket with its ligands in 3D, scores, a card per ligand'),
        'max-html': numberFlag('--max-html', 'ligand cards in the HTML report', 100),
        dock: { type: 'boolean', default: true, describe: 'score with AutoDock Vina when vina/obabel are installed (--no-dock to skip)' },
        ...samplerFlags,
        threads: threadsFlag,
        backend: backendOption,
      }),
    async (argv) => {
      const n = integerOption('-n', argv.n, 1);
      const seed = integerOption('--seed', argv.seed, 0);
      const center = argv.center ? parseCenter(argv.center) : undefined;
      const written = { '--out': argv.out, '--complex': argv.complex, '--table': argv.table, '--relaxed': argv.relaxed, '--json': argv.json, '--html': argv.html };
      const ckDir = argv.checkpoint ? userPath(argv.checkpoint) : DEFAULT_CHECKPOINT;
      checkOutputs(written, [argv.pdb, argv.ligand, argv['fix-fragment'], ...checkpointFiles(ckDir)]);
      // without a reference ligand or a centre the file is taken as the pocket: fine for a pre-cut
      // pocket, not for a whole protein, so say which it was given
      if (!argv.ligand && !center) process.stderr.write(`edm: note: no --ligand or --center: all ${readPdb(userPath(argv.pdb)).atoms.length} atoms of ${argv.pdb} are the pocket; for a whole protein, give --ligand (a reference ligand) or --center x,y,z to cut the binding site\n`);
      const runtime = await startBackend(argv.backend, argv.threads);
      const model = withRuntime(loadModel(ckDir), runtime);
      let progress: ReturnType<typeof startProgress> | undefined;
      const count = moleculeSteps(n);
      let docking: ReturnType<typeof startProgress> | undefined;
      // Ctrl-C / SIGTERM: docking tools are killed and the working folder removed (sampling, in
      // this thread, ends its batch first); a second signal exits at once
      const interrupt = stopOnSignals();
      let run;
      try {
        run = await pocketRun(model, {
          pdb: userPath(argv.pdb),
          ligand: argv.ligand ? userPath(argv.ligand) : undefined,
          center,
          radius: numberOption('--radius', argv.radius, { above: 0 }),
          n,
          seed,
          steps: argv.steps === undefined ? undefined : integerOption('--steps', argv.steps, 1),
          guidance: argv.guidance === undefined ? undefined : numberOption('--guidance', argv.guidance, { atLeast: 0 }),
          fixFragment: argv['fix-fragment'] ? userPath(argv['fix-fragment']) : undefined,
          jumps: integerOption('--jumps', argv.jumps, 1),
          ...samplerArgs(argv),
          nAtoms: argv['n-atoms'] === undefined ? undefined : integerOption('--n-atoms', argv['n-atoms'], 1),
          sizeMargin: integerOption('--size-margin', argv['size-margin'], 0),
          dock: argv.dock,
          signal: interrupt.signal,
          onProgress: (done, step, steps) => {
            const at = count(done, step, steps);
            if (!at) return;
            progress ??= startProgress({ total: at.total, barFormat: 'pocket |{bar}| {value}/{total} ligand-steps', line: (v, t) => `pocket: ${v}/${t} ligand-steps` });
            progress.update(at.value);
          },
          onScored: (done, total, dock) => {
            if (!dock) return;
            progress?.stop();
            docking ??= startProgress({ everySeconds: 0, total, barFormat: 'dock |{bar}| {value}/{total} ligands (Vina, MMFF94) ETA {eta_formatted}', line: (v, t) => `dock: ${v}/${t} ligands scored` });
            docking.update(done);
          },
        });
      } catch (e) {
        if (!(e instanceof InterruptedError)) throw e;
        progress?.stop();
        docking?.stop();
        const signal = String(interrupt.signal.reason);
        process.stderr.write(`\nedm: interrupted (${signal}): nothing was written to ${argv.out} (no partial file is left); run the command again to make the ligands\n`);
        process.exitCode = interruptedExitCode(interrupt);
        return;
      }
      progress?.stop();
      docking?.stop();
      const { ligands, report, relaxed } = run;
      writeFileAtomic(userPath(argv.out), formatSdf(ligands));
      if (argv.complex) writeFileAtomic(userPath(argv.complex), complexPdb(report.pocketAtoms, ligands));
      if (argv.table) writeFileAtomic(userPath(argv.table), formatLigandTable(report.ligands));
      if (argv.relaxed) writeFileAtomic(userPath(argv.relaxed), formatSdf(relaxed));
      if (argv.json) writeFileAtomic(userPath(argv.json), JSON.stringify({ ...report, pocketAtoms: undefined, referenceMolecule: undefined }, null, 1));
      const summary = formatPocketReport(report, `edm pocket: ${n} ligands in ${argv.pdb}`);
      if (argv.html) {
        const { intro, table, note } = pocketSummary(report, `edm pocket: ${n} ligands in ${argv.pdb}`);
        const pocket = {
          pdb: formatPdbAtoms(report.pocketAtoms),
          ligandsSdf: formatSdf(ligands),
          referenceSdf: report.referenceMolecule ? formatSdf([report.referenceMolecule]) : undefined,
          intro: note ? [...intro, `note: ${note}`] : intro,
          tables: [table, ligandTable(report.ligands)],
          notes: report.ligands.map(ligandNote),
        };
        const details = [`seed ${seed}, ${report.steps} steps, guidance ${report.guidance}`, `${report.sizes}`];
        const page = await htmlReport({ title: `edm pocket: ${argv.pdb}`, details, report: report.evaluation, molecules: ligands, maxMolecules: integerOption('--max-html', argv['max-html'], 1), pocket });
        writeFileAtomic(userPath(argv.html), page);
      }
      process.stdout.write(summary);
      const files = Object.entries(written).flatMap(([k, v]) => (v && k !== '--out' ? [`${k} ${v}`] : []));
      process.stdout.write(`ligands written to ${argv.out}${files.length ? `; also written: ${files.join(', ')}` : ''}\n`);
    },
  );
