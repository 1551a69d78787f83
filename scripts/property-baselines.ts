/**
 * EDM's #Atoms and Naive baselines for a property-conditioned checkpoint (issue 42), measured
 * with the same values its samples are checked against (the xtb labels): on the molecules of
 * EDM's generator half of QM9's train split, each molecule's labelled value against a value drawn
 * for its atom count from the checkpoint's stored distribution (#Atoms), or against a shuffled
 * molecule's value (Naive). L-bound is 0 here: xtb on a real molecule gives its label exactly.
 *
 *   node --import tsx scripts/property-baselines.ts CHECKPOINT [--labels data/qm9-xtb.csv.gz] [--qm9 DIR] [--seed 0]
 *
 * Needs ../shared/data/qm9 (or --qm9) and the labels file. Prints one line per property.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { baselineErrors, conditionData, DEFAULT_LABELS, DEFAULT_QM9_DIR, loadCheckpoint, loadTrainingData, type Molecule, propertyConditioning, propertyValue, Rng } from '../src/internal.js';

const { values: a, positionals } = parseArgs({ options: { labels: { type: 'string', default: DEFAULT_LABELS }, qm9: { type: 'string', default: DEFAULT_QM9_DIR }, seed: { type: 'string', default: '0' } }, allowPositionals: true });
if (!positionals[0]) {
  process.stderr.write('usage: property-baselines.ts CHECKPOINT [--labels FILE] [--qm9 DIR] [--seed 0]\n');
  process.exit(2);
}
const ck = loadCheckpoint(resolve(positionals[0]));
const c = propertyConditioning(ck.config);
if (!c) {
  process.stderr.write(`${positionals[0]}: not a property-conditioned checkpoint\n`);
  process.exit(2);
}
const names = c.properties.map((p) => p.name);
const qm9Dir = resolve(a.qm9!);
const data = conditionData(await loadTrainingData({ qm9Dir }), names, { labels: resolve(a.labels!), qm9Dir }).data;
const mols = data.train as Molecule[];
for (const p of c.properties) {
  const b = baselineErrors(mols.map((m) => ({ n: m.elements.length, value: propertyValue(m, p.name)! })), p, new Rng(`${a.seed}:baselines:${p.name}`));
  process.stdout.write(`${p.name} (${p.unit}): #Atoms MAE ${b.atoms.toFixed(4)}, Naive MAE ${b.naive.toFixed(4)}, L-bound 0 (xtb on the real molecules; ${mols.length} molecules of the generator half)\n`);
}
