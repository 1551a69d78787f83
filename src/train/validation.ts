/**
 * Validation NLL during training, on fixed molecules and fixed noise.
 */
import * as tf from '@tensorflow/tfjs';
import { bondClasses, featureDim } from '../config.js';
import { disposeBatch } from '../data/batch.js';
import { type TrainingExample, exampleNodes, isComplex, makeTrainingBatch } from '../data/examples.js';
import { labelBonds } from './data.js';
import { type EdmModel, nll } from '../diffusion/model.js';
import { combinedNoise, symmetricPairNoise } from '../diffusion/noise.js';
import { Rng } from '../random.js';

/**
 * Mean validation NLL (nats per molecule, EDM's -log p(x, h, N) with the t0_always estimator),
 * on fixed molecules and fixed noise so that values are comparable across a run. A bond-aware
 * model's molecules without bonds are labelled as the trainer labels them (train/data.ts labelBonds).
 */
export function validationNll(model: EdmModel, mols: TrainingExample[], batchSize: number, seed = 12345): number {
  // a bond-aware model's bound needs the bonds the trainer labels its molecules with
  if (bondClasses(model.config) > 0) labelBonds(mols.filter((m) => !isComplex(m) && !m.bonds));
  const rng = new Rng(`${seed}:valid`);
  const hist = model.config.dataset.nNodesHistogram;
  const total = Object.values(hist).reduce((a, b) => a + b, 0);
  let sum = 0;
  const sorted = [...mols].sort((a, b) => exampleNodes(a) - exampleNodes(b));
  for (let i = 0; i < sorted.length; i += batchSize) {
    const part = sorted.slice(i, i + batchSize);
    const batch = makeTrainingBatch(model.config, part);
    const B = part.length;
    const N = batch.graph.hostNodeMask.length / B;
    const F = featureDim(model.config);
    const tInt = Int32Array.from({ length: B }, () => rng.int(1, model.schedule.timesteps));
    const epsT = tf.tensor3d(combinedNoise(rng, batch.graph.nDenoised, N, F, batch.graph.centred), [B, N, 3 + F]);
    const eps0 = tf.tensor3d(combinedNoise(rng, batch.graph.nDenoised, N, F, batch.graph.centred), [B, N, 3 + F]);
    // a bond-aware model's bond noise after the atoms' (a plain model's stream is unchanged)
    const K = bondClasses(model.config);
    const pair = (): tf.Tensor => tf.tensor4d(symmetricPairNoise(rng, batch.graph.nDenoised, N, K), [B, N, N, K]);
    const bonds = K > 0 ? { epsT: pair(), eps0: pair() } : undefined;
    const terms = nll(model, batch, { tInt, epsT, eps0, ...(bonds ? { bonds } : {}) });
    for (let b = 0; b < B; b++) {
      // the size model counts generated atoms (a complex's ligand, not its pocket nodes)
      const pN = (hist[String(batch.graph.nDenoised[b])] ?? 0) / total;
      sum += terms.negLogPxh[b] - Math.log(Math.max(pN, 1e-12));
    }
    tf.dispose([epsT, eps0, ...(bonds ? [bonds.epsT, bonds.eps0] : [])]);
    disposeBatch(batch);
  }
  return sum / mols.length;
}

