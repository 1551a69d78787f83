/**
 * Per-element accuracy of an element model (issue 40) on QM9's validation split, on clean
 * positions and on positions noised as at diffusion times t.
 *
 *   node --import tsx scripts/element-accuracy.ts CHECKPOINT/elements [--molecules 1000] [--t 0,0.02,0.05,0.1] [--qm9 DIR]
 *
 * Needs ../shared/data/qm9 (or --qm9). Prints one line per t and a table per element.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_QM9_DIR, elementAccuracy, loadCheckpoint, loadTrainingData, makeModel, startRuntime, withRuntime } from '../src/internal.js';

const { values: a, positionals } = parseArgs({ options: { molecules: { type: 'string', default: '1000' }, t: { type: 'string' }, qm9: { type: 'string', default: DEFAULT_QM9_DIR } }, allowPositionals: true });
const dir = positionals[0];
if (!dir) {
  process.stderr.write('usage: element-accuracy.ts ELEMENT_MODEL_DIR [--molecules 1000] [--t 0,0.05,0.1] [--qm9 DIR]\n');
  process.exit(2);
}
const runtime = await startRuntime();
const ck = loadCheckpoint(resolve(dir));
const model = withRuntime(makeModel(ck.config, ck.params), runtime);
const data = await loadTrainingData({ qm9Dir: resolve(a.qm9!) });
const mols = (data.valid ?? []).slice(0, Number(a.molecules));
const ts = (a.t ?? `0,${ck.config.elementModel?.tMax ?? 0.1}`).split(',').map(Number);
for (const t of ts) {
  const a = elementAccuracy(model, mols, t);
  const per = Object.entries(a.perElement).filter(([, v]) => v.atoms > 0).map(([k, v]) => `${k} ${((100 * v.correct) / v.atoms).toFixed(2)}% of ${v.atoms}`).join(', ');
  process.stdout.write(`t ${t}: atoms ${(100 * a.accuracy).toFixed(2)}%, whole molecules ${(100 * a.moleculeAccuracy).toFixed(1)}% (${mols.length} validation molecules; ${per})\n`);
}
