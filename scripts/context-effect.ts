/**
 * How much a property-conditioned checkpoint listens to its condition (issue 42's training
 * diagnostic): the norm of each context channel's row in the input embedding (zero when grown
 * from an unconditional model, so it measures what training has learned), and the relative change
 * of eps_theta between two asked values (mean - 2 MAD and mean + 2 MAD) on the same noisy states
 * at several times t. States are standard-normal draws in the diffusion's space (positions
 * centre-of-mass free), 16 molecules of `--atoms` atoms, seeded: a fixed probe to compare
 * checkpoints of one run, not a measure of sample quality (edm evaluate --properties is that).
 *
 *   node --import tsx scripts/context-effect.ts CHECKPOINT [--atoms 15] [--seed 0]
 */
import * as tf from '@tensorflow/tfjs';
import { parseArgs } from 'node:util';
import { propertyContext } from '../src/index.js';
import { combinedNoise, featureDim, initBackend, loadCheckpoint, makeGraph, makeModel, phi, propertyConditioning, Rng } from '../src/internal.js';

const { values: a, positionals } = parseArgs({ options: { atoms: { type: 'string', default: '15' }, seed: { type: 'string', default: '0' } }, allowPositionals: true });
// before any tensor (the weights) exists
await initBackend('wasm');
const ck = positionals[0] ? loadCheckpoint(positionals[0]) : undefined;
const cond = ck && propertyConditioning(ck.config);
if (!ck || !cond) {
  process.stderr.write(`usage: context-effect.ts CHECKPOINT [--atoms 15] [--seed 0]${ck ? `: ${positionals[0]} is not property-conditioned` : ''}\n`);
  process.exit(2);
}
const model = makeModel(ck.config, ck.params);
const emb = ck.params['embedding.weight'].arraySync() as number[][];
const C = cond.properties.length;
const norm = (row: number[]): number => Math.sqrt(row.reduce((s, v) => s + v * v, 0));
// embedding rows: features, then the time channel, then the C context channels
const rows = emb.length;
process.stdout.write(`${positionals[0]}: |embedding row| time ${norm(emb[rows - C - 1]).toFixed(4)}, ${cond.properties.map((p, k) => `${p.name} ${norm(emb[rows - C + k]).toFixed(4)}`).join(', ')}\n`);
const B = 16;
const N = Number(a.atoms);
const F = featureDim(ck.config);
const nNodes = Int32Array.from({ length: B }, () => N);
const z = tf.tensor3d(combinedNoise(new Rng(a.seed!), Array.from(nNodes), N, F, true), [B, N, 3 + F]);
for (const [k, p] of cond.properties.entries()) {
  const at = (value: number): Float32Array => {
    const values = cond.properties.map((q, j) => (j === k ? value : q.mean));
    const graph = makeGraph({ nNodes, N, context: propertyContext(cond, Array.from({ length: B }, () => values).flat(), nNodes, N), contextDim: C });
    return tf.tidy(() => phi(model, z, new Array(B).fill(t), graph).dataSync() as Float32Array);
  };
  let t = 0;
  const cells: string[] = [];
  for (t of [0.1, 0.3, 0.5, 0.7, 0.9]) {
    const lo = at(p.mean - 2 * p.mad);
    const hi = at(p.mean + 2 * p.mad);
    let diff = 0;
    let mag = 0;
    for (let i = 0; i < lo.length; i++) {
      diff += Math.abs(hi[i] - lo[i]);
      mag += Math.abs(lo[i] + hi[i]) / 2;
    }
    cells.push(`t ${t}: ${((100 * diff) / mag).toFixed(2)}%`);
  }
  process.stdout.write(`${p.name} ${(p.mean - 2 * p.mad).toFixed(2)} vs ${(p.mean + 2 * p.mad).toFixed(2)} ${p.unit}: mean |eps change| / mean |eps| at ${cells.join(', ')}\n`);
}
