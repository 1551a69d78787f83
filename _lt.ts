import * as tf from '@tensorflow/tfjs';
import { initBackend } from './src/backend.js';
import { loadCheckpoint } from './src/checkpoint/format.js';
import { makeBatch } from './src/data/batch.js';
import { loadQm9Split } from './src/data/qm9.js';
import { makeModel } from './src/diffusion/model.js';
import { trainingLoss } from './src/diffusion/loss.js';
import { combinedNoise } from './src/diffusion/noise.js';
import { Rng } from './src/random.js';
await initBackend('wasm');
const mols = (await loadQm9Split('../shared/data/qm9', 'valid')).filter(m => m.elements.length === 18).slice(0, 32);
const ck = loadCheckpoint(process.argv[2], true);
const raw: any = {}; for (const k of Object.keys(ck.params)) raw[k] = ck.trainState!.tensors[`param/${k}`];
const zero: any = {}; for (const k of Object.keys(ck.params)) zero[k] = tf.zerosLike(ck.params[k]);
const batch = makeBatch(mols, ck.config.dataset.atomDecoder);
for (const [name, p] of [['ema', ck.params], ['raw', raw], ['zero-weights', zero]] as const) {
  const model = makeModel(ck.config, p);
  const row: string[] = [];
  for (const t of [0, 10, 100, 300, 500, 700, 900, 1000]) {
    const noise = { tInt: new Int32Array(32).fill(t), eps: combinedNoise(new Rng(t), batch.nNodes, 18, 6) };
    row.push(`t=${t}: ${tf.tidy(() => trainingLoss(model, batch, noise, 29).dataSync()[0]).toFixed(4)}`);
  }
  console.log(name.padEnd(13), row.join('  '));
}
