/**
 * Publish a training run as a shipped checkpoint, validated and written atomically:
 *
 *   node --import tsx scripts/publish-checkpoint.ts runs/A checkpoints/qm9-default [--latest]
 *   node --import tsx scripts/publish-checkpoint.ts runs/b checkpoints/qm9-default --state runs/A
 *
 * - the weights users get are the run's best checkpoint by molecule stability on the learning
 *   curve's fixed sample set (`RUN/best`, written by `edm train --curve-every`), else (or with
 *   `--latest`: when the final state was scored on 1,000 samples, not only the curve's 200) its latest;
 * - when the run's latest step is not the best one, the latest checkpoint goes to `DEST/latest`
 *   so that training can continue exactly (`--resume`) on another machine;
 * - a finished branch (an lr decayed to 0) keeps no optimiser state: `--state DIR` names the
 *   checkpoint training continues from instead (e.g. the state the branch started from), copied
 *   to `DEST/latest`, and RUN_DIR's own latest weights are shipped;
 * - the run's curve.csv, train-log.jsonl and training SMILES (novelty) are copied, and curve.svg
 *   is drawn again with the checkpoint's name and recipe as its title;
 * - report.html (the training report) is drawn from the curve and the log;
 * - TRAINING.md is written from the checkpoint's provenance and the curve (a bond-aware model's
 *   with its own-bond columns), keeping the hand-written `## Trials` section of an existing TRAINING.md.
 */
import { copyFileSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { CHECKPOINT_REFERENCE_FILE, countParams, type CurveRow, curveSvg, hasOwnBondColumns, hoursText, initBackend, loadCheckpoint, type LoadedCheckpoint, publishedReportDetails, readCurve, saveCheckpoint, UserError, writeFileAtomic, writeTrainingReport } from '../src/internal.js';

const { values: flags, positionals } = parseArgs({
  options: { latest: { type: 'boolean', default: false }, state: { type: 'string' } },
  allowPositionals: true,
});
/** a finished branch's weights, another checkpoint's state (--state) */
const branch = flags.state !== undefined;
const useLatest = flags.latest || branch;
const [from, to] = positionals;
if (!from || !to) {
  process.stderr.write('usage: publish-checkpoint.ts RUN_DIR CHECKPOINT_DIR [--latest | --state STATE_DIR]\n');
  process.exit(2);
}
await initBackend('wasm');
/** A checkpoint, or a one-line error naming it (a missing folder, a run without a state). */
const load = (dir: string, withTrainState: boolean): LoadedCheckpoint => {
  try {
    return loadCheckpoint(dir, withTrainState);
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    process.stderr.write(`publish-checkpoint: ${e.message}\n`);
    process.exit(2);
  }
};
// the state training continues from: the run's own, or (--state) another checkpoint's
const latest = load(flags.state ?? from, true);
const fromBest = !useLatest && existsSync(join(from, 'best', 'config.json'));
const best = fromBest ? load(join(from, 'best'), true) : branch ? load(from, false) : latest;
// loaded before anything is written, so that DEST/latest may itself be the --state
await saveCheckpoint(to, best.config, best.params, best.trainState, 'final');
const stepOf = (ck: LoadedCheckpoint): number => ck.config.training?.steps ?? 0;
rmSync(join(to, 'latest'), { recursive: true, force: true });
if (stepOf(latest) !== stepOf(best)) await saveCheckpoint(join(to, 'latest'), latest.config, latest.params, latest.trainState, 'final');
for (const f of ['curve.csv', 'train-log.jsonl', CHECKPOINT_REFERENCE_FILE]) {
  if (existsSync(join(from, f))) copyFileSync(join(from, f), join(to, f));
}

const pct = (v: number | undefined): string => (v !== undefined && Number.isFinite(v) ? `${(100 * v).toFixed(1)}%` : 'n/a');
const rows = readCurve(join(from, 'curve.csv'));
// a bond-aware model's curve also has its samples scored on their own bonds
const own = hasOwnBondColumns(rows);
const curveRows = (rs: CurveRow[]): string =>
  rs
    .map(
      (r) =>
        `| ${r.step} | ${r.epoch.toFixed(2)} | ${r.cpu_hours.toFixed(2)} | ${pct(r.atom_stability)} | ${pct(r.molecule_stability)} | ${pct(r.validity)} | ${pct(r.uniqueness)} | ${r.valid_nll.toFixed(1)} |` +
        (own ? ` ${pct(r.own_atom_stability)} | ${pct(r.own_molecule_stability)} | ${pct(r.own_validity)} |` : ''),
    )
    .join('\n');
const name = basename(to);
const { recipe, details } = publishedReportDetails(best.config, latest.config.training?.steps);
if (rows.length) writeFileAtomic(join(to, 'curve.svg'), await curveSvg(rows, `${name}: ${recipe}`));
const events = existsSync(join(from, 'train-log.jsonl'))
  ? readFileSync(join(from, 'train-log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l))
  : [];
/** Where a run segment computed its gradients, as its start/resume event says. */
const computeText = (e: Record<string, unknown>): string => {
  if (e.engine === 'onnx') return ` (ONNX Runtime, ${e.threads} threads, ${e.shards} shards)`;
  return e.workers !== undefined ? ` (${e.workers} gradient workers, ${e.shards} shards)` : '';
};
const runs = events.filter((e) => e.event === 'start' || e.event === 'resume' || e.event === 'branch').map((e) => `${e.time}: ${e.event} at step ${e.step}${computeText(e)}`);
const t = best.config.training ?? {};
const lt = latest.config.training ?? {};
const d = best.config.dynamics;
const df = best.config.diffusion;
const old = existsSync(join(to, 'TRAINING.md')) ? readFileSync(join(to, 'TRAINING.md'), 'utf8') : '';
const trials = old.includes('\n## Trials') ? old.slice(old.indexOf('\n## Trials') + 1) : '## Trials\n\n(none recorded yet)\n';
// a branch names both commands: its own, and the one that made the state in latest/
const lastCommand = branch ? `\`${t.command}\` (of the state in \`latest/\`: \`${lt.command}\`)` : `\`${lt.command}\``;
const md = `# How this checkpoint was trained

- Architecture: egnn_dynamics, nf ${d.nf}, ${d.nLayers} layers, ${d.invSublayers} GCL per block, attention, tanh, coords_range ${d.coordsRange}; ${countParams(best.params).toLocaleString('en')} parameters
- Diffusion: ${df.noiseSchedule}, ${df.timesteps} steps, precision ${df.noisePrecision}, normalize factors [${df.normalizeFactors}], L2 loss (EDM's)${df.bonds ? `; bond-aware (\`edm train --bonds\`): ${df.bonds.classes} bond orders per pair, one-hot / ${df.bonds.normalizeFactor}, loss weight ${df.bonds.lossWeight}` : ''}
- Data: QM9 train split, EDM's split (${t.trainMolecules} molecules)
- Optimiser: AdamW (amsgrad, weight decay 1e-12), lr ${t.lr}, batch ${t.batchSize}, EMA ${t.emaDecay}, EDM's adaptive gradient clipping
- Shipped weights (EMA): step ${t.steps}, ${Number(t.epochs).toFixed(2)} epochs, ${hoursText(t.cpuSeconds)} CPU-hours (${hoursText(t.wallTimeSeconds)} wall hours), ${fromBest ? 'the best point of the curve by molecule stability (then atom stability)' : branch ? "a finished branch's final state (no optimiser state kept)" : "the run's latest state"}
- ${branch ? 'Training continues from' : 'Run so far'}: step ${lt.steps}, ${Number(lt.epochs).toFixed(2)} epochs, ${hoursText(lt.cpuSeconds)} CPU-hours${stepOf(latest) !== stepOf(best) ? '; its latest state is in `latest/`' : ''}
- Last command: ${lastCommand}
- Runs: ${runs.join('; ')}
- CPU-hours count every core's time of training (all threads: ONNX Runtime's, or the WebAssembly gradient workers'), curve probes excluded.

To continue training exactly: copy ${stepOf(latest) !== stepOf(best) ? '`latest/`' : 'this folder'} with \`train-log.jsonl\`, \`curve.csv\` and
\`${CHECKPOINT_REFERENCE_FILE}\` to \`runs/A\`, then \`edm train --out runs/A --resume --hours H --curve-every K ...\`
(the recipe, seed and shard count come from the checkpoint).

## Learning curve

Every point samples the same ${rows[0]?.samples ?? 200} molecules (fixed seed, ${rows[0]?.sampling_steps ?? 500} denoising steps) from the EMA
weights; NLL is the validation NLL (nats per molecule, 300 fixed molecules${df.bonds ? "; atoms and bonds, so not comparable with EDM's model" : ''}).${own ? " The first columns score the samples by EDM's protocol (bonds inferred from distances), the own-bond ones on the model's own bonds (n/a before they were recorded)." : ''} \`curve.svg\` draws it;
\`node --import tsx scripts/plot-curve.ts ${to}\` redraws it from \`curve.csv\`.

| step | epoch | CPU-hours | atom stability | molecule stability | validity | uniqueness | NLL |${own ? ' own bonds: atom stability | molecule stability | validity |' : ''}
| --- | --- | --- | --- | --- | --- | --- | --- |${own ? ' --- | --- | --- |' : ''}
${curveRows(rows)}

${trials}`;
writeFileAtomic(join(to, 'TRAINING.md'), md);
await writeTrainingReport(to, `Training of ${name}`, details);
process.stdout.write(`published ${from} -> ${to}: step ${t.steps} (run at ${lt.steps}), ${Number(t.epochs).toFixed(2)} epochs, ${hoursText(t.cpuSeconds)} CPU-hours\n`);
