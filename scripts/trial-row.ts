/**
 * The decision protocol of training trials: one checkpoint -> 1,000 molecules (seed 0, sizes from
 * the training histogram, 500 denoising steps), scored by `edm evaluate` (EDM's protocol), and
 * the validation NLL on the trainer's 300 fixed molecules; one row appended to the
 * "Decision protocol" table of TRAINING.md.
 *
 *   node --import tsx scripts/trial-row.ts --checkpoint runs/b --arm b --recipe "cosine lr to 0" \
 *     [--samples 1000] [--steps 500] [--temperature 1] [--training-md checkpoints/qm9-default/TRAINING.md] \
 *     [--work .scratch/trials] [--verdict "..."]
 *
 * Noise: molecule stability p on n samples has a standard error sqrt(p (1 - p) / n), about 1.3
 * points at 20% on 1,000 samples; call no difference below 4 points (about 2 standard errors of
 * a difference). Exits 2 with a one-line error for a missing checkpoint or table.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { closeModel, DEFAULT_QM9_DIR, loadCheckpoint, loadQm9Split, makeModel, type OwnBondScores, PACKAGE_ROOT, Rng, startRuntime, validationNll, withRuntime, writeFileAtomic } from '../src/internal.js';
import { failer, sampleAndScore } from './sample-score.js';

/** Heading of the table the rows go to (created after `## Trials` when absent). */
const TABLE_HEADING = '### Decision protocol: 1,000 samples';
const TABLE_HEAD = `${TABLE_HEADING}

Every row: \`node --import tsx scripts/trial-row.ts\` on the arm's final checkpoint (EMA weights):
1,000 molecules (seed 0, sizes from the training histogram, 500 denoising steps, EDM's sampler
unless a temperature is given) scored by \`edm evaluate\`, and the validation NLL (nats per
molecule, the trainer's 300 fixed molecules). Noise: about +-1.3 points of molecule stability at
20% (one standard error); no difference below 4 points is called.

| arm | recipe | step | epochs | CPU-hours | atom stab. | mol. stab. | validity | connected | uniqueness | novelty | NLL | verdict |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
`;

const fail = failer('trial-row');

const { values: a } = parseArgs({
  options: {
    checkpoint: { type: 'string' },
    arm: { type: 'string' },
    recipe: { type: 'string', default: '' },
    samples: { type: 'string', default: '1000' },
    steps: { type: 'string', default: '500' },
    temperature: { type: 'string', default: '1' },
    'training-md': { type: 'string', default: join(PACKAGE_ROOT, 'checkpoints', 'qm9-default', 'TRAINING.md') },
    work: { type: 'string', default: join(PACKAGE_ROOT, '.scratch', 'trials') },
    verdict: { type: 'string', default: '' },
  },
});
if (!a.checkpoint || !a.arm) fail('usage: trial-row.ts --checkpoint DIR --arm NAME [--recipe TEXT] [--samples 1000] [--steps 500] [--temperature 1] [--training-md FILE] [--verdict TEXT]');
const ckDir = resolve(a.checkpoint!);
if (!existsSync(join(ckDir, 'config.json'))) fail(`${ckDir}: not a checkpoint (no config.json)`);
const mdPath = resolve(a['training-md']!);
if (!existsSync(mdPath)) fail(`${mdPath}: not found`);
mkdirSync(a.work!, { recursive: true });
const tag = `${a.arm}-${basename(ckDir)}-t${a.temperature}`.replace(/[^\w.-]/g, '_');
const sdf = join(resolve(a.work!), `${tag}.sdf`);
const ck = loadCheckpoint(ckDir);
// a bond-aware model's SDF bond block is its own bonds: score them beside EDM's protocol
const r = sampleAndScore('trial-row', ckDir, sdf, ['-n', a.samples!, '--seed', '0', '--steps', a.steps!, '--temperature', a.temperature!, '--corrector-steps', '0'], ck.config.diffusion.bonds ? ['--own-bonds'] : []) as Record<string, number | null> & { ownBonds?: OwnBondScores };

// validation NLL as the trainer measures it (train/trainer.ts: seed 0's fixed subset of 300)
const runtime = await startRuntime();
const model = withRuntime(makeModel(ck.config, ck.params), runtime);
const valid = await loadQm9Split(DEFAULT_QM9_DIR, 'valid');
const nllValue = validationNll(model, new Rng('0:validset').shuffle([...valid]).slice(0, 300), 64);
closeModel(model);

const t = ck.config.training ?? {};
const pct = (v: number | null | undefined): string => (v === null || v === undefined ? '-' : `${(100 * v).toFixed(1)}`);
const tempNote = a.temperature === '1' ? '' : `, temperature ${a.temperature}`;
const own = r.ownBonds;
const ownNote = own ? `; own bonds: atom ${pct(own.atomStability)}, mol. ${pct(own.moleculeStability)}, valid ${pct(own.validity)}` : '';
const row = `| ${a.arm} | ${a.recipe}${tempNote}${ownNote} | ${t.steps} | ${Number(t.epochs).toFixed(2)} | ${((t.cpuSeconds ?? 0) / 3600).toFixed(2)} | ${pct(r.atomStability)} | ${pct(r.moleculeStability)} | ${pct(r.validity)} | ${pct(r.connectedValidity)} | ${pct(r.uniqueness)} | ${pct(r.novelty)} | ${nllValue.toFixed(1)} | ${a.verdict} |`;

let md = readFileSync(mdPath, 'utf8');
if (!md.includes(TABLE_HEADING)) {
  if (!md.includes('\n## Trials')) fail(`${mdPath}: no "## Trials" section to put the table in`);
  md = `${md.trimEnd()}\n\n${TABLE_HEAD}`;
}
// the table ends at the first blank line after its heading
const start = md.indexOf(TABLE_HEADING);
const end = md.indexOf('\n\n', md.indexOf('| --- |', start));
md = end < 0 ? `${md.trimEnd()}\n${row}\n` : `${md.slice(0, end)}\n${row}${md.slice(end)}`;
writeFileAtomic(mdPath, md);
process.stdout.write(`${row}\n`);

