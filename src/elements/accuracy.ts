/**
 * How well an element model types atoms: per-element accuracy on fixed molecules with fixed
 * position noise, so values are comparable across a run and between checkpoints.
 */
import * as tf from '@tensorflow/tfjs';
import { featureDim } from '../config.js';
import { disposeBatch } from '../data/batch.js';
import { type TrainingExample, exampleNodes, makeTrainingBatch } from '../data/examples.js';
import { type EdmModel, normalizedXh } from '../diffusion/model.js';
import { combinedNoise } from '../diffusion/noise.js';
import { alphaOf, sigmaOf } from '../diffusion/schedule.js';
import { perMolecule } from '../diffusion/tensors.js';
import { Rng } from '../random.js';
import { predictFeatures, predictedClasses } from '../diffusion/element-model.js';

/** Accuracy of an element model on a set of molecules at one noise level. */
export interface ElementAccuracy {
  /** diffusion time (fraction of T) whose position noise was added */
  t: number;
  /** share of atoms whose argmax class is right */
  accuracy: number;
  /** share of molecules with every atom right */
  moleculeAccuracy: number;
  /** per element symbol: atoms and atoms right */
  perElement: Record<string, { atoms: number; correct: number }>;
}

/**
 * Type every atom of `mols` from its positions, noised as z_t's position part at time `t`
 * (eps drawn from `seed`, CoM-free), and count the right ones.
 * @param model an element model
 * @param t diffusion time in [0, 1] (0: clean positions)
 * @throws Error when `model` is not an element model
 */
export function elementAccuracy(model: EdmModel, mols: TrainingExample[], t: number, batchSize = 64, seed = 12345): ElementAccuracy {
  const rng = new Rng(`${seed}:elements:${t}`);
  const { atomDecoder } = model.config.dataset;
  const K = atomDecoder.length;
  const F = featureDim(model.config);
  const perElement: ElementAccuracy['perElement'] = Object.fromEntries(atomDecoder.map((e) => [e, { atoms: 0, correct: 0 }]));
  let atoms = 0;
  let correct = 0;
  let molsRight = 0;
  const sorted = [...mols].sort((a, b) => exampleNodes(a) - exampleNodes(b));
  const gamma = model.schedule.gammaAt(t);
  for (let i = 0; i < sorted.length; i += batchSize) {
    const part = sorted.slice(i, i + batchSize);
    const batch = makeTrainingBatch(model.config, part);
    const B = part.length;
    const N = batch.graph.hostNodeMask.length / B;
    const eps = combinedNoise(rng, batch.graph.nDenoised, N, 0, batch.graph.centred);
    const pred = tf.tidy(() => {
      const x = tf.slice(normalizedXh(model, batch), [0, 0, 0], [B, N, 3]);
      const a = perMolecule(new Array<number>(B).fill(alphaOf(gamma)));
      const s = perMolecule(new Array<number>(B).fill(sigmaOf(gamma)));
      const zx = tf.add(tf.mul(a, x), tf.mul(s, tf.tensor3d(eps, [B, N, 3])));
      return predictFeatures(model, zx, new Array<number>(B).fill(t), batch.graph).dataSync() as Float32Array;
    });
    const predicted = predictedClasses(pred, F, K);
    const truth = predictedClasses(batch.host.hCat, K, K);
    for (let b = 0; b < B; b++) {
      let allRight = true;
      for (let n = 0; n < batch.nNodes[b]; n++) {
        const a = b * N + n;
        const e = perElement[atomDecoder[truth[a]]];
        e.atoms++;
        atoms++;
        if (predicted[a] === truth[a]) {
          e.correct++;
          correct++;
        } else allRight = false;
      }
      if (allRight) molsRight++;
    }
    disposeBatch(batch);
  }
  return { t, accuracy: correct / Math.max(1, atoms), moleculeAccuracy: molsRight / Math.max(1, mols.length), perElement };
}
