/**
 * `edm sample`: the main job. Generate molecules from a checkpoint, write SDF/XYZ, print and save
 * their metrics.
 */
import { accessSync, constants, statSync } from 'node:fs';
import type { Argv } from 'yargs';
import { DEFAULT_CHECKPOINT, type SamplerSettings, samplerWords, InterruptedError, OptionError, Evaluator, MoleculeStreamWriter, withBondsAndStability, protocolOf, chemistFields, keeps, loadRDKit, type KeepRule, type MoleculeOutcome, type Molecule, formatReport, formatXyz, generate, htmlReport, loadModel, withRuntime, writeFileAtomic } from '../index.js';
import { OutcomeSpool, integerOption, parseShard, startProgress, writeReportFiles } from '../cli-support.js';
import { backendOption, checkOutputs, checkpointFiles, defineCommand, interruptedExitCode, stopOnSignals, numberFlag, referenceFromArgs, samplerArgs, samplerFlags, startBackend, threadsFlag, textFlag, userPath } from './common.js';
import { type EdmConfig, parseCondition, propertyConditioning } from '../index.js';

/** Valid molecules drawn in the --svg grid. */
const SVG_MOLECULES = 48;

/** `samples.sdf` -> `samples.<suffix>` */
export function besideOutput(out: string, suffix: string): string {
  return out.replace(/\.(sdf|sd|xyz)$/i, '') + suffix;
}

/**
 * The checks of `edm sample`'s options that need no compute: the seed, an atom count an SDF can
 * hold, a --keep rule that has its scores.
 * @returns the --keep rule
 * @throws OptionError naming the option
 */
function checkRunArgs(out: string, keep: KeepRule, argv: { seed?: number; 'n-atoms'?: number; eval?: boolean }): KeepRule {
  integerOption('--seed', argv.seed, 0);
  // SDF's V2000 atom block holds 999 atoms: say so before any compute
  const nAtoms = argv['n-atoms'];
  if (nAtoms !== undefined && nAtoms > 999 && /\.(sdf|sd)$/i.test(out)) throw new OptionError(`--n-atoms ${nAtoms}: an SDF (V2000) record holds at most 999 atoms; write .xyz for larger molecules`);
  if ((keep === 'valid' || keep === 'connected') && !argv.eval) throw new OptionError(`--keep ${keep} needs the scoring that --no-eval turns off`);
  return keep;
}

/** The novelty reference is read after sampling: a missing --train file must stop the run before it. */
function checkTrainFile(train: unknown): void {
  if (typeof train === 'string' && train !== '') readableFile('--train', userPath(train));
}

/** Say so when --n-atoms asks for larger molecules than the checkpoint was trained on. */
function warnPastTraining(nAtoms: number | undefined, maxNAtoms: number): void {
  if (nAtoms !== undefined && nAtoms > maxNAtoms) process.stderr.write(`edm: warning: --n-atoms ${nAtoms}: the checkpoint was trained on molecules of at most ${maxNAtoms} atoms; larger ones tend to come apart into fragments\n`);
}

/**
 * @throws OptionError unless `path` is a file this process can read
 */
function readableFile(option: string, path: string): void {
  try {
    accessSync(path, constants.R_OK);
    if (!statSync(path).isFile()) throw new Error('not a file');
  } catch {
    throw new OptionError(`${option} ${path}: no readable file there`);
  }
}

/** What `reportMetrics` reports on. */
interface RunScores {
  evaluator: Evaluator;
  spool: OutcomeSpool;
  ckDir: string;
  /** molecules made */
  n: number;
  seconds: number;
  steps: number;
  backend: string;
  /** the sampler the run used (its plan's) */
  sampler: SamplerSettings;
  molecules: Molecule[];
  chain?: Molecule[];
  /** print EDM's QM9 rows (a QM9 model's molecules only) */
  anchors: boolean;
  maxHtml: number;
  html?: string;
}

/** The metrics of a finished run: the table, the metrics JSON, and the SVG grid and HTML report when asked. */
async function reportMetrics(s: RunScores, argv: { train?: unknown; seed?: number; out: string; svg?: string; html?: string }): Promise<void> {
  const { evaluator, spool, ckDir, n, sampler, anchors } = s;
  const ref = await referenceFromArgs(argv.train, ckDir);
  const r = evaluator.finish({ trainSmiles: ref?.smiles, trainStats: ref?.stats });
  // EDM's QM9 rows only beside a QM9 model's molecules: another dataset has its own figures
  process.stdout.write('\n' + formatReport(r, `metrics of ${n} samples from ${ckDir}${ref ? ` (novelty vs ${ref.source})` : ''}`, anchors));
  spool.writeJson(r, { checkpoint: ckDir, seed: argv.seed, steps: s.steps, temperature: sampler.temperature ?? 1, corrector: sampler.corrector ?? null, samplingSeconds: s.seconds, backend: s.backend, train: ref?.source ?? null });
  if (argv.svg) await writeReportFiles(r, { svg: userPath(argv.svg) }, SVG_MOLECULES, {});
  process.stdout.write(`metrics written to ${besideOutput(argv.out, '.metrics.json')}\n`);
  if (s.html) {
    const details = [`${n} molecules sampled with seed ${argv.seed}, ${s.steps} denoising steps, ${samplerWords(sampler)}, ${s.seconds.toFixed(1)} s on ${s.backend}`, ref ? `novelty vs ${ref.source}` : 'novelty: no training data'];
    writeFileAtomic(s.html, await htmlReport({ title: `edm sample: ${ckDir}`, details, report: r, molecules: s.molecules, trainStats: ref?.stats, maxMolecules: s.maxHtml, chain: s.chain, anchors }));
    process.stdout.write(`HTML report written to ${argv.html}\n`);
  }
}


/**
 * The evaluator of a scored run: the checkpoint's analysis (QM9's or GEOM's), keeping the
 * outcomes the SVG grid and the HTML cards show, each outcome handed on as it is scored.
 */
function runEvaluator(config: EdmConfig, htmlCards: number, onOutcome: (o: MoleculeOutcome) => void): Promise<Evaluator> {
  return Evaluator.create({ protocol: protocolOf(config.dataset.name), keepOutcomes: Math.max(SVG_MOLECULES, htmlCards), onOutcome });
}

/** The options that depend on the checkpoint: warnings for --n-atoms and --condition, and the condition. */
function modelArgs(config: EdmConfig, nAtoms: number | undefined, condition: string | undefined): Record<string, number | 'draw'> | undefined {
  warnPastTraining(nAtoms, config.dataset.maxNAtoms);
  return conditionArg(condition, config);
}

/** `--condition` parsed, with a warning on stderr for each value outside the range the model was trained on. */
function conditionArg(text: string | undefined, config: EdmConfig): Record<string, number | 'draw'> | undefined {
  if (text === undefined) return undefined;
  const condition = parseCondition(text);
  for (const p of propertyConditioning(config)?.properties ?? []) {
    const v = condition[p.name];
    if (typeof v === 'number' && p.range && (v < p.range[0] || v > p.range[1])) process.stderr.write(`edm: warning: --condition ${p.name}=${v}: outside the values the model was trained on (${p.range[0].toPrecision(4)} to ${p.range[1].toPrecision(4)} ${p.unit}); expect molecules that miss it\n`);
  }
  return condition;
}

/** Register the command. */
export const sampleCommand = (y: Argv): Argv =>
  defineCommand(y, 'sample', 'generate 3D molecules and report their quality', (a) =>
      a
        .options({
          n: { alias: 'num', ...numberFlag('-n', 'number of molecules', 20) },
          seed: numberFlag('--seed', 'integer seed: the same seed gives byte-identical output', 0),
          checkpoint: textFlag('checkpoint folder', 'the shipped QM9 model (checkpoints/qm9-default)'),
          'batch-size': { ...numberFlag('--batch-size', 'molecules denoised together (memory grows with batch size x atoms^2)'), defaultDescription: 'min(50, n / 2), so two cores share small runs' },
          workers: { ...numberFlag('--workers', 'worker threads; 1 = this thread; the molecules do not depend on it'), defaultDescription: 'one per core, at most one per batch' },
          'n-atoms': { ...numberFlag('--n-atoms', 'fixed atom count for every molecule (2..1000)'), defaultDescription: 'drawn from the training histogram' },
          steps: { ...numberFlag('--steps', 'denoising steps (fewer than trained strides the schedule)'), defaultDescription: 'all of the trained schedule (1000)' },
          out: { type: 'string', default: 'samples.sdf', describe: 'output file: .sdf (with bonds) or .xyz' },
          chain: numberFlag('--chain', 'write the denoising trajectory of this many molecules as multi-frame XYZ', 0),
          train: textFlag('training molecules for novelty (SDF/XYZ); --no-train to skip', 'the SMILES stored in the checkpoint, else QM9 train split if present'),
          eval: { type: 'boolean', default: true, describe: 'score the samples (--no-eval to skip); adds SDF fields valid, fragments, connected, smiles, largest_fragment_smiles' },
          keep: { type: 'string', choices: ['all', 'valid', 'stable', 'connected'], default: 'all', requiresArg: true, describe: 'molecules written to --out (the metrics always cover every molecule made): valid (EDM validity), stable (molecule stability), connected (valid, one fragment)' },
          svg: textFlag('also draw the valid molecules in an SVG grid'),
          html: textFlag('also write a self-contained HTML report (3D views, plots; opens offline)'),
          shard: textFlag('make only shard i of k (0-based, e.g. 0/4): the k shards, joined by edm merge, are the run without --shard'),
          'max-html': numberFlag('--max-html', 'molecule cards in the HTML report', 100),
          condition: textFlag('for a property-conditioned checkpoint: the asked value of each property, e.g. gap=4.5 (eV) or alpha=70,gap=4.5; a name alone (gap) draws each molecule\'s value with its atom count from the training distribution, as EDM\'s protocol does; written as the SDF field target_<name>'),
          ...samplerFlags,
          threads: threadsFlag,
          backend: backendOption,
        }),
    async (argv) => {
      const out = userPath(argv.out);
      if (!/\.(sdf|sd|xyz)$/i.test(out)) throw new OptionError(`--out must end in .sdf or .xyz, got "${argv.out}"`);
      const html = argv.html ? userPath(argv.html) : undefined;
      const ckDir = argv.checkpoint ? userPath(argv.checkpoint) : DEFAULT_CHECKPOINT;
      const written = { '--out': out, '--html': html, '--svg': argv.svg ? userPath(argv.svg) : undefined, 'the metrics file': argv.eval ? besideOutput(out, '.metrics.json') : undefined, 'the trajectory file': argv.chain ? besideOutput(out, '.chain.xyz') : undefined };
      checkOutputs(written, [typeof argv.train === 'string' ? userPath(argv.train) : undefined, ...checkpointFiles(ckDir)]);
      checkTrainFile(argv.train);
      const maxHtml = integerOption('--max-html', argv['max-html'], 1);
      const sampler = samplerArgs(argv);
      const keep = checkRunArgs(out, argv.keep as KeepRule, argv);
      const runtime = await startBackend(argv.backend, argv.threads);
      const backend = runtime.name;
      const model = withRuntime(loadModel(ckDir), runtime);
      const condition = modelArgs(model.config, argv['n-atoms'], argv.condition);
      // molecules are written and scored batch by batch, and their outcomes spooled to disk, so
      // memory does not grow with -n; the evaluator keeps only what the SVG grid and HTML show
      const jsonPath = besideOutput(out, '.metrics.json');
      const spool = argv.eval ? new OutcomeSpool(jsonPath) : undefined;
      try {
        // the outcomes of the batch being written (its SDF fields and --keep)
        let batchOutcomes: MoleculeOutcome[] = [];
        const evaluator = spool && (await runEvaluator(model.config, html ? maxHtml : 0, (o) => (spool.add(o), batchOutcomes.push(o))));
        const rdkit = evaluator ? await loadRDKit() : undefined;
        let made = 0;
        const writer = new MoleculeStreamWriter(out);
        let progress: ReturnType<typeof startProgress> | undefined;
        // Ctrl-C / SIGTERM stop the run (at once on workers, else after the batch); a second one
        // exits at once, with the temporary files removed either way
        const interrupt = stopOnSignals(() => {
          writer.abort();
          spool?.abort();
        });
        let result;
        try {
          result = await generate(ckDir, model, {
            n: argv.n!,
            seed: argv.seed!,
            batchSize: argv['batch-size'],
            workers: argv.workers,
            nAtoms: argv['n-atoms'],
            steps: argv.steps,
            ...sampler, condition, runtime,
            chain: argv.chain,
            shard: argv.shard ? parseShard(argv.shard) : undefined,
            keep: html ? maxHtml : 0,
            signal: interrupt.signal,
            onBatch: (batch) => {
              // one decode step: the bonds written are the bonds scored
              const decoded = withBondsAndStability(batch.molecules, protocolOf(model.config.dataset.name));
              batchOutcomes = [];
              evaluator?.add(decoded);
              made += decoded.length;
              decoded.forEach((m, k) => rdkit && (m.properties = { ...m.properties, ...chemistFields(rdkit, m, batchOutcomes[k]) }));
              writer.append(decoded.filter((m, k) => keeps(keep, m, batchOutcomes[k])));
            },
            onProgress: (p) => {
              progress ??= startProgress({
                total: p.totalSteps,
                barFormat: `sample |{bar}| {percentage}% {done}/${argv.n} molecules ETA {eta_formatted}`,
                line: (v, total, pl) => `sample: ${pl.done}/${argv.n} molecules, ${((100 * v) / total).toFixed(0)}% of denoising steps`,
                initialPayload: { done: 0 },
              });
              progress.update(p.stepsDone, { done: p.molecules });
            },
          });
          writer.commit();
        } catch (e) {
          writer.abort();
          if (!(e instanceof InterruptedError)) throw e;
          progress?.stop();
          const signal = String(interrupt.signal.reason);
          process.stderr.write(`\nedm: interrupted (${signal}) after ${writer.written} of ${argv.n} molecules: nothing was written to ${argv.out} (no partial file is left); run the command again to make them\n`);
          process.exitCode = interruptedExitCode(interrupt);
          return;
        }
        progress?.stop();
        const n = made;
        // a shard past the first --chain molecules has no trajectory to write
        if (result.chains.length > 0) writeFileAtomic(besideOutput(out, '.chain.xyz'), formatXyz(result.chains.flat()));
        const rate = ((n * result.steps) / result.seconds).toFixed(1);
        const scored = evaluator ? ', scored on the way' : '';
        const kept = keep === 'all' ? '' : ` of ${n}`;
        process.stdout.write(`wrote ${writer.written}${kept} molecules to ${argv.out}${keep === 'all' ? '' : ` (--keep ${keep})`} (${result.steps} denoising steps, ${samplerWords(result.plan)}, ${result.seconds.toFixed(1)} s${scored}, ${rate} molecule-steps/s on ${backend}${result.workers > 1 ? ` x ${result.workers} workers` : ''})\n`);
        if (result.chains.length > 0) process.stdout.write(`wrote denoising trajectories of ${result.chains.length} molecules to ${besideOutput(argv.out, '.chain.xyz')}\n`);
        if (!evaluator || !spool) return;
        await reportMetrics({ evaluator, spool, ckDir, n, seconds: result.seconds, steps: result.steps, backend, sampler: result.plan, molecules: result.molecules, chain: result.chains[0], anchors: model.config.dataset.name === 'qm9', maxHtml, html }, argv);
      } finally {
        // writeJson removes the spool; this removes it when an error ends the run before that
        spool?.abort();
      }
    },
  );
