/**
 * Validation NLL during training, on fixed molecules and fixed noise.
 */
import * as tf from '@tensorflow/tfjs';
import { featureDim } from '../config.js';
import { disposeBatch, makeBatch } from '../data/batch.js';
import type { Molecule } from '../data/molecule.js';
import { type EdmModel, nll } from '../diffusion/model.js';
import { combinedNoise } from '../diffusion/noise.js';
import { Rng } from '../random.js';

/**
 * Mean validation NLL (nats per molecule, EDM's -log p(x, h, N) with the t0_always estimator),
 * on fixed molecules and fixed noise so that values are comparable across a run.
 */
export function validationNll(model: EdmModel, mols: Molecule[], batchSize: number, seed = 12345): number {
  const rng = new Rng(`${seed}:valid`);
  const hist = model.config.dataset.nNodesHistogram;
  const total = Object.values(hist).reduce((a, b) => a + b, 0);
  let sum = 0;
  const sorted = [...mols].sort((a, b) => a.elements.length - b.elements.length);
  for (let i = 0; i < sorted.length; i += batchSize) {
    const part = sorted.slice(i, i + batchSize);
    const batch = makeBatch(part, model.config.dataset.atomDecoder);
    const B = part.length;
    const N = batch.graph.hostNodeMask.length / B;
    const F = featureDim(model.config);
    const tInt = Int32Array.from({ length: B }, () => rng.int(1, model.schedule.timesteps));
    const epsT = tf.tensor3d(combinedNoise(rng, batch.graph.nDenoised, N, F, batch.graph.centred), [B, N, 3 + F]);
    const eps0 = tf.tensor3d(combinedNoise(rng, batch.graph.nDenoised, N, F, batch.graph.centred), [B, N, 3 + F]);
    const terms = nll(model, batch, { tInt, epsT, eps0 });
    for (let b = 0; b < B; b++) {
      const pN = (hist[String(batch.nNodes[b])] ?? 0) / total;
      sum += terms.negLogPxh[b] - Math.log(Math.max(pN, 1e-12));
    }
    tf.dispose([epsT, eps0]);
    disposeBatch(batch);
  }
  return sum / mols.length;
}

