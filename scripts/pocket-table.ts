/**
 * The `edm pocket` acceptance table on the development complexes of ../shared/data/pockets:
 *
 *   node --import tsx scripts/pocket-table.ts [--checkpoint DIR] [-n 50] [--steps 1000] [--guidance 1] [--seed 0]
 *     [--corrector-steps K] [--temperature 1] [--no-dock] [--backend auto]
 *
 * For each complex (pocket from its reference ligand) it generates n ligands and prints one
 * markdown row: validity, clash-free fraction (< 2.0 Å heavy-heavy), ligands with >= 90% of
 * their atoms in the pocket region, mean minimum distance, mean QED and mean Vina scores, then
 * the reference ligand's. `--corrector-steps K`: K Langevin corrector steps (snr 0.1, last 20%;
 * default as `edm pocket`), 0 for EDM's sampler; `--temperature tau` scales the reverse step's
 * noise as in `edm pocket` (default 1). Exits 2 with one line when ../shared/data/pockets is absent.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkSamplerOptions, DEFAULT_CHECKPOINT, DEFAULT_CORRECTOR, loadModel, pocketRun, pocketTotals, startRuntime, UserError, withRuntime } from '../src/internal.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dir = resolve(root, '..', 'shared', 'data', 'pockets');
if (!existsSync(dir)) {
  process.stderr.write(`pocket-table: ${dir} not found (the development complexes are needed)\n`);
  process.exit(2);
}
const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const COMPLEXES: [string, string, string][] = [
  ['3rfm', '3rfm.pdb', '3rfm_B_CFF.sdf'],
  ['5ndu', '5ndu.pdb', '5ndu_C_8V2.sdf'],
  ['1h36 pocket10', '1h36_A_rec_1h36_r88_lig_tt_docked_0_pocket10.pdb', '1h36_A_rec_1h36_r88_lig_tt_docked_0.sdf'],
  ['3ug2', '3ug2_protein.pdb', '3ug2_ligand.sdf'],
];
const pct = (v: number): string => `${(100 * v).toFixed(0)}%`;
const num = (v: number | undefined, d = 2): string => (v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(d));

const runtime = await startRuntime({ backend: opt('--backend', 'auto') as 'auto' });
const model = withRuntime(loadModel(resolve(opt('--checkpoint', DEFAULT_CHECKPOINT))), runtime);
const n = Number(opt('-n', '50'));
const steps = Number(opt('--steps', String(model.schedule.timesteps)));
const guidance = Number(opt('--guidance', '1'));
const seed = Number(opt('--seed', '0'));
const correctorSteps = Number(opt('--corrector-steps', String(DEFAULT_CORRECTOR.steps)));
const temperature = Number(opt('--temperature', '1'));
const corrector = correctorSteps > 0 ? { ...DEFAULT_CORRECTOR, steps: correctorSteps } : false;
// the library's own check of the sampler options, up front and as one line rather than a stack trace
try {
  checkSamplerOptions({ temperature, corrector: corrector || undefined });
} catch (e) {
  if (!(e instanceof UserError)) throw e;
  process.stderr.write(`pocket-table: ${e.message}\n`);
  process.exit(2);
}
process.stdout.write(`n ${n}, ${steps} steps, guidance ${guidance}, corrector steps ${correctorSteps}, temperature ${temperature}, seed ${seed}\n\n`);
process.stdout.write('| complex | validity | no clash | >= 90% in region | min distance, Å | QED | Vina / local opt. / after MMFF94 | reference Vina |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n');
for (const [name, pdb, ligand] of COMPLEXES) {
  const { report } = await pocketRun(model, { pdb: join(dir, pdb), ligand: join(dir, ligand), n, seed, steps, guidance, temperature, corrector, dock: !args.includes('--no-dock') });
  const t = pocketTotals(report.ligands);
  const r = report.reference;
  process.stdout.write(
    `| ${name} | ${pct(t.validity)} | ${pct(t.noClash)} | ${pct(t.mostlyInside)} | ${num(t.meanMinDistance)} | ${num(t.meanQed, 3)} | ` +
      `${num(t.meanVinaScore, 1)} / ${num(t.meanVinaLocalOpt, 1)} / ${num(t.meanVinaAfterMmff, 1)} | ${num(r?.vinaScore, 1)} / ${num(r?.vinaLocalOpt, 1)} / ${num(r?.vinaAfterMmff, 1)} |\n`,
  );
}
