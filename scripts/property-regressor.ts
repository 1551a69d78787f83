/**
 * EDM's check of property-conditioned samples (issue 42, check (a); Hoogeboom et al. 2022 Table 3,
 * reference: eval_conditional_qm9.py): an EGNN property regressor (`edm train --regressor NAME`,
 * trained on the classifier half) predicts the property of each generated molecule, and the MAE
 * against the value it was asked for (its `target_<name>` field) is compared with the baselines
 * computed the same way on real molecules of the generator half: L-bound (the regressor against
 * their labels), #Atoms (against a value drawn for their atom count from the conditional
 * checkpoint's distribution) and Naive (against shuffled labels).
 *
 *   node --import tsx scripts/property-regressor.ts REGRESSOR --checkpoint CONDITIONAL [SAMPLES.sdf ...]
 *        [--labels data/qm9-xtb.csv.gz] [--qm9 DIR] [--molecules 5000] [--seed 0]
 *
 * Needs ../shared/data/qm9 (or --qm9) and the labels. Prints one line per row.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { conditionData, DEFAULT_LABELS, DEFAULT_QM9_DIR, baselineErrors, loadCheckpoint, loadTrainingData, makeModel, type Molecule, predictProperty, propertyConditioning, propertyValue, readMolecules, Rng, startRuntime, withRuntime } from '../src/internal.js';

const { values: a, positionals } = parseArgs({
  options: { checkpoint: { type: 'string' }, labels: { type: 'string', default: DEFAULT_LABELS }, qm9: { type: 'string', default: DEFAULT_QM9_DIR }, molecules: { type: 'string', default: '5000' }, seed: { type: 'string', default: '0' } },
  allowPositionals: true,
});
const [regDir, ...samples] = positionals;
if (!regDir || !a.checkpoint) {
  process.stderr.write('usage: property-regressor.ts REGRESSOR --checkpoint CONDITIONAL [SAMPLES.sdf ...] [--labels FILE] [--qm9 DIR] [--molecules 5000]\n');
  process.exit(2);
}
const runtime = await startRuntime();
const reg = loadCheckpoint(resolve(regDir));
const model = withRuntime(makeModel(reg.config, reg.params), runtime);
const r = reg.config.regressor;
const c = propertyConditioning(loadCheckpoint(resolve(a.checkpoint)).config);
const p = c?.properties.find((q) => q.name === r?.property.name);
if (!r || !p) {
  process.stderr.write(`${regDir} must be a property regressor and ${a.checkpoint} a checkpoint conditioned on its property\n`);
  process.exit(2);
}
const unit = r.property.unit;
const mae = (xs: ArrayLike<number>, ys: ArrayLike<number>): number => Array.from(xs).reduce((s, x, i) => s + Math.abs(x - ys[i]), 0) / xs.length;
const line = (row: string, value: number, count: number, note: string): void => void process.stdout.write(`${row.padEnd(10)} ${r.property.name} MAE ${value.toFixed(4)} ${unit} (${count} molecules; ${note})\n`);

// the generator half's real molecules: L-bound, #Atoms and Naive as EDM computes them
const qm9Dir = resolve(a.qm9!);
const data = conditionData(await loadTrainingData({ qm9Dir }), [p.name], { labels: resolve(a.labels!), qm9Dir }).data;
const rng = new Rng(`${a.seed}:regressor-baselines`);
const real = rng.shuffle([...(data.train as Molecule[])]).slice(0, Number(a.molecules));
const predicted = predictProperty(model, real);
const labels = real.map((m) => propertyValue(m, p.name)!);
line('L-bound', mae(predicted, labels), real.length, 'the regressor on real molecules of the generator half');
const b = baselineErrors(real.map((m, i) => ({ n: m.elements.length, value: labels[i], measured: predicted[i] })), p, rng);
line('#Atoms', b.atoms, real.length, 'against a value drawn for the atom count');
line('Naive', b.naive, real.length, 'against shuffled values');
for (const file of samples) {
  const mols = readMolecules(resolve(file), reg.config.dataset.atomDecoder).filter((m) => propertyValue(m, `target_${p.name}`) !== undefined);
  line('samples', mae(predictProperty(model, mols), mols.map((m) => propertyValue(m, `target_${p.name}`)!)), mols.length, `${file}: against each molecule's target_${p.name}`);
}
