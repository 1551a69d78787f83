/**
 * How a checkpoint's element model p(h | x) (issue 40) judges the atoms of a molecule file: per
 * element, how often it agrees with the file's types, and EDM's molecule stability of the file as
 * it is against the file retyped by the element model on the same positions (all atoms, or only
 * where the element model gives the file's type less than --gate of its predicted one-hot). Reads
 * positions only; no search against the stability rule.
 *
 *   node --import tsx scripts/element-agreement.ts samples.sdf [--checkpoint checkpoints/qm9-default] [--t 0] [--gate 0.5,0.3]
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { DEFAULT_CHECKPOINT, disposeGraph, featureDim, inferBonds, loadSamplingModel, makeGraph, type Molecule, oddValenceSum, predictFeatures, readMolecules, stability, startRuntime, withRuntime } from '../src/internal.js';

const { values: a, positionals } = parseArgs({ options: { checkpoint: { type: 'string', default: DEFAULT_CHECKPOINT }, t: { type: 'string', default: '0' }, gate: { type: 'string', default: '0.5' } }, allowPositionals: true });
const file = positionals[0];
if (!file) {
  process.stderr.write('usage: element-agreement.ts FILE [--checkpoint DIR] [--t 0] [--gate 0.5]\n');
  process.exit(2);
}
const runtime = await startRuntime();
const model = withRuntime(loadSamplingModel(resolve(a.checkpoint!)), runtime);
if (!model.elements) {
  process.stderr.write('element-agreement: the checkpoint ships no element model (elements/)\n');
  process.exit(2);
}
const el = model.elements;
const decoder = el.config.dataset.atomDecoder;
const K = decoder.length;
const F = featureDim(el.config);
const t = Number(a.t);
const gates = a.gate!.split(',').map(Number);
const mols = readMolecules(resolve(file), decoder);

/** The element model's predicted one-hot (in one-hot units) of every atom of every molecule. */
function predictions(batch: Molecule[]): Float32Array[] {
  const B = batch.length;
  const N = Math.max(...batch.map((m) => m.elements.length));
  const x = new Float32Array(B * N * 3);
  const fx = el.config.diffusion.normalizeFactors[0];
  batch.forEach((m, b) => {
    const n = m.elements.length;
    const mean = [0, 1, 2].map((d) => Array.from({ length: n }, (_, i) => m.positions[i * 3 + d]).reduce((a, v) => a + v, 0) / n);
    for (let i = 0; i < n; i++) for (let d = 0; d < 3; d++) x[(b * N + i) * 3 + d] = (m.positions[i * 3 + d] - mean[d]) / fx;
  });
  const graph = makeGraph({ nNodes: batch.map((m) => m.elements.length), N });
  const out = tf.tidy(() => predictFeatures(el, tf.tensor3d(x, [B, N, 3]), new Array<number>(B).fill(t), graph).dataSync() as Float32Array);
  disposeGraph(graph);
  const oneHot = el.config.diffusion.normalizeFactors[1];
  return batch.map((m, b) => Float32Array.from({ length: m.elements.length * K }, (_, a) => out[(b * N + Math.floor(a / K)) * F + (a % K)] * oneHot));
}

const agree = Object.fromEntries(decoder.map((e) => [e, { atoms: 0, same: 0 }]));
const stable = { file: 0, all: 0, ...Object.fromEntries(gates.map((g) => [`gate ${g}`, 0])) } as Record<string, number>;
const odd = { file: 0, all: 0 } as Record<string, number>;
const changed = { all: 0, ...Object.fromEntries(gates.map((g) => [`gate ${g}`, 0])) } as Record<string, number>;
const swaps = new Map<string, number>();
for (let s = 0; s < mols.length; s += 50) {
  const batch = mols.slice(s, s + 50);
  predictions(batch).forEach((p, b) => {
    const m = batch[b];
    const retyped = (gate: number | undefined): string[] =>
      m.elements.map((e, i) => {
        let best = 0;
        for (let k = 1; k < K; k++) if (p[i * K + k] > p[i * K + best]) best = k;
        const own = decoder.indexOf(e);
        if (gate !== undefined && own >= 0 && p[i * K + own] >= gate * p[i * K + best]) return e;
        return decoder[best];
      });
    const all = retyped(undefined);
    m.elements.forEach((e, i) => {
      agree[e].atoms++;
      if (all[i] === e) agree[e].same++;
      else swaps.set(`${e} -> ${all[i]}`, (swaps.get(`${e} -> ${all[i]}`) ?? 0) + 1);
    });
    const score = (elements: string[]): boolean => {
      const mol = { elements, positions: m.positions };
      return stability(mol, inferBonds(mol)).moleculeStable;
    };
    if (score(m.elements)) stable.file++;
    if (score(all)) stable.all++;
    if (oddValenceSum(m.elements)) odd.file++;
    if (oddValenceSum(all)) odd.all++;
    if (all.some((e, i) => e !== m.elements[i])) changed.all++;
    for (const g of gates) {
      const gated = retyped(g);
      if (score(gated)) stable[`gate ${g}`]++;
      if (gated.some((e, i) => e !== m.elements[i])) changed[`gate ${g}`]++;
    }
  });
}
const pct = (v: number): string => `${((100 * v) / mols.length).toFixed(1)}%`;
process.stdout.write(`${mols.length} molecules of ${file}; element model at t = ${t}\n`);
process.stdout.write(`agreement per element: ${Object.entries(agree).filter(([, v]) => v.atoms > 0).map(([k, v]) => `${k} ${((100 * v.same) / v.atoms).toFixed(1)}% of ${v.atoms}`).join(', ')}\n`);
process.stdout.write(`changes: ${[...swaps].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ')}\n`);
for (const k of Object.keys(stable)) process.stdout.write(`molecule stability, ${k === 'file' ? 'as in the file' : `retyped (${k})`}: ${pct(stable[k])}${k in changed ? ` (${changed[k]} molecules changed)` : ''}${k in odd ? `, odd valence sum ${odd[k]}` : ''}\n`);
