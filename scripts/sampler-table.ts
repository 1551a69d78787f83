/**
 * The sampler's options on one checkpoint, as a markdown table: for each setting, `edm sample`
 * (seed 0 unless --seed, sizes from the training histogram) then `edm evaluate` on the written SDF (EDM's
 * protocol, novelty against the checkpoint's training SMILES), one row with atom / molecule
 * stability, validity, connected validity, uniqueness, novelty, valid x unique x novel,
 * atom-type TV, the bond-length W1 of every pair, the molecules with an odd valence sum, and
 * stable molecules per second of the whole `edm sample` command (when this script ran it).
 *
 *   node --import tsx scripts/sampler-table.ts --checkpoint checkpoints/qm9-default \
 *     [-n 1000] [--steps 1000] [--seed 0] [--work .scratch/sampler] \
 *     --setting "EDM's sampler=--corrector-steps 0" --setting "tau 0.8=--temperature 0.8 --corrector-steps 0" ...
 *
 * A setting is LABEL=FLAGS (flags of edm sample, whose defaults apply: `--corrector-steps 0` for
 * EDM's sampler). Samples already written under --work are
 * scored again rather than drawn again. Exits 2 with a one-line error for bad arguments or a
 * failed edm command.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { PACKAGE_ROOT } from '../src/internal.js';
import { failer, sampleAndScore } from './sample-score.js';

const fail = failer('sampler-table');

const { values: a } = parseArgs({
  options: {
    checkpoint: { type: 'string' },
    n: { type: 'string', short: 'n', default: '1000' },
    steps: { type: 'string', default: '1000' },
    seed: { type: 'string', default: '0' },
    work: { type: 'string', default: join(PACKAGE_ROOT, '.scratch', 'sampler') },
    setting: { type: 'string', multiple: true, default: [] },
  },
});
if (!a.checkpoint || a.setting!.length === 0) fail('usage: sampler-table.ts --checkpoint DIR [-n 1000] [--steps 1000] --setting "LABEL=FLAGS" ...');
const ckDir = resolve(a.checkpoint!);
if (!/^\d+$/.test(a.seed!)) fail(`--seed ${a.seed}: expected a non-negative integer`);
if (!existsSync(join(ckDir, 'config.json'))) fail(`${ckDir}: not a checkpoint (no config.json)`);
const work = resolve(a.work!);
mkdirSync(work, { recursive: true });

const PAIRS = ['C-C', 'C-H', 'C-N', 'C-O', 'H-N', 'H-O', 'N-N', 'N-O'];
const pct = (v: number | null): string => (v === null ? '-' : (100 * v).toFixed(1));
const rows: string[] = [];
for (const setting of a.setting!) {
  const eq = setting.indexOf('=');
  if (eq < 1) fail(`--setting ${setting}: expected LABEL=FLAGS`);
  const label = setting.slice(0, eq);
  const flags = setting.slice(eq + 1).split(/\s+/).filter(Boolean);
  // Seed 0 keeps the file names earlier tables were written under.
  const tag = `${label}-n${a.n}-s${a.steps}${a.seed === '0' ? '' : `-seed${a.seed}`}`.replace(/[^\w.-]/g, '_');
  const r = sampleAndScore('sampler-table', ckDir, join(work, `${tag}.sdf`), ['-n', a.n!, '--seed', a.seed!, '--steps', a.steps!, ...flags]);
  const vun = r.counts.novel === null ? null : r.counts.novel / r.molecules;
  const w1 = PAIRS.map((p) => (r.distributions?.bondLengthW1?.[p] ?? NaN).toFixed(3));
  const stablePerSecond = r.sampleSeconds ? (r.counts.stableMolecules / r.sampleSeconds).toFixed(2) : '-';
  rows.push(`| ${label} | ${pct(r.atomStability)} | ${pct(r.moleculeStability)} | ${pct(r.validity)} | ${pct(r.connectedValidity)} | ${pct(r.uniqueness)} | ${pct(r.novelty)} | ${pct(vun)} | ${(r.distributions?.atomTypesTV ?? NaN).toFixed(3)} | ${w1.join(' | ')} | ${r.counts.oddValence} | ${stablePerSecond} |`);
  process.stdout.write(`${rows[rows.length - 1]}\n`);
}
process.stdout.write(`\n${a.n} molecules x ${a.steps} steps, seed ${a.seed}, from ${ckDir}\n\n| setting | atom stab. | mol. stab. | validity | connected | uniqueness | novelty | V x U x N | atom-type TV | ${PAIRS.map((p) => `W1 ${p}`).join(' | ')} | odd valence sum | stable mol./s |\n|${' --- |'.repeat(11 + PAIRS.length)}\n${rows.join('\n')}\n`);
