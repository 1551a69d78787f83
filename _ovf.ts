import * as tf from '@tensorflow/tfjs';
import { initBackend } from './src/backend.js';
import { EDM_QM9_DIFFUSION, EDM_QM9_DYNAMICS } from './src/config.js';
import { makeBatch } from './src/data/batch.js';
import { loadQm9Split } from './src/data/qm9.js';
import { makeModel } from './src/diffusion/model.js';
import { drawStepNoise, trainingLoss } from './src/diffusion/loss.js';
import { initParams } from './src/egnn/params.js';
import { Rng } from './src/random.js';
await initBackend('wasm');
const mols = (await loadQm9Split('../shared/data/qm9', 'valid')).slice(0, 16);
const cfg = { format: 'edm-ts-checkpoint' as const, version: 1 as const, dynamics: { ...EDM_QM9_DYNAMICS, nf: 32, nLayers: 2 }, diffusion: EDM_QM9_DIFFUSION, dataset: { name: 'qm9', atomDecoder: ['H','C','N','O','F'], nNodesHistogram: {}, maxNAtoms: 29 } };
const p = initParams(cfg.dynamics, 7, new Rng(1));
const vars: Record<string, tf.Variable> = {}; for (const [k, v] of Object.entries(p)) vars[k] = tf.variable(v);
const model = makeModel(cfg, vars);
const batch = makeBatch(mols, cfg.dataset.atomDecoder);
const noise = drawStepNoise(model, batch, new Rng(2));
const opt = tf.train.adam(1e-3);
for (let i = 0; i <= 300; i++) {
  const { value, grads } = tf.variableGrads(() => trainingLoss(model, batch, noise, 29), Object.values(vars));
  if (i % 50 === 0) {
    const gn = Object.entries(grads).map(([k, g]) => [k, Math.sqrt(tf.sum(tf.square(g)).dataSync()[0])] as const);
    const zero = gn.filter(([, v]) => v === 0).map(([k]) => k);
    console.log(i, 'loss', value.dataSync()[0].toFixed(5), 'zero-grad vars', zero.length, zero.slice(0, 5).join(' '), 'n grads', gn.length, 'of', Object.keys(vars).length);
  }
  opt.applyGradients(grads as any);
  tf.dispose([value, ...Object.values(grads)]);
}
