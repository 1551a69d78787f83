/**
 * Predictions of an EGNN property regressor (config.ts PropertyRegressor; EDM's check of
 * conditional samples): the mean over a molecule's atoms of the network's first feature output
 * on the clean molecule at t = 0, de-normalised.
 */
import * as tf from '@tensorflow/tfjs';
import { makeBatch, disposeBatch } from '../data/batch.js';
import type { Molecule } from '../data/molecule.js';
import { type EdmModel, normalizedXh, phi } from '../diffusion/model.js';
import { OptionError } from '../errors.js';
import { requiredValue } from '../data/properties.js';

/**
 * The regressor's value of each molecule, in the property's unit.
 * @param mols molecules with elements of the model's atom decoder
 * @param batchSize molecules per forward pass (memory grows with batchSize x atoms^2)
 * @returns `[mols.length]` predictions
 * @throws OptionError when the model is not a property regressor; InputError for an unknown element
 */
export function predictProperty(model: EdmModel, mols: Molecule[], batchSize = 64): Float64Array {
  const r = model.config.regressor;
  if (!r) throw new OptionError('not a property regressor (its config has no regressor)');
  const out = new Float64Array(mols.length);
  // sizes grouped so that each batch pads little
  const order = mols.map((_, i) => i).sort((a, b) => mols[a].elements.length - mols[b].elements.length);
  for (let k = 0; k < order.length; k += batchSize) {
    const ids = order.slice(k, k + batchSize);
    const batch = makeBatch(ids.map((i) => mols[i]), model.config.dataset.atomDecoder);
    try {
      const B = ids.length;
      const N = batch.graph.hostNodeMask.length / B;
      const y = tf.tidy(() => {
        const o = phi(model, normalizedXh(model, batch), new Array<number>(B).fill(0), batch.graph, true);
        const first = tf.reshape(tf.slice(o, [0, 0, 3], [B, N, 1]), [B, N]);
        return tf.div(tf.sum(tf.mul(first, tf.reshape(batch.graph.nodeMask, [B, N])), 1), tf.tensor1d(Array.from(batch.nNodes))).dataSync();
      });
      ids.forEach((i, b) => (out[i] = y[b] * r.property.mad + r.property.mean));
    } finally {
      disposeBatch(batch);
    }
  }
  return out;
}

/**
 * Mean absolute error of a regressor on labelled molecules, in the property's unit.
 * @throws InputError naming a molecule without a value of the property
 */
export function regressorMae(model: EdmModel, mols: Molecule[], batchSize = 64): number {
  const r = model.config.regressor!;
  const truth = mols.map((m, b) => requiredValue(m, b, r.property.name, 'the regressor is scored on'));
  const predicted = predictProperty(model, mols, batchSize);
  return mols.reduce((s, _, i) => s + Math.abs(predicted[i] - truth[i]), 0) / mols.length;
}
