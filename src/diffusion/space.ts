/**
 * The diffusion's space on a graph: denoised positions centre-of-mass free (centred graphs,
 * EDM's remove_mean_with_mask), fixed atoms at their given values. Used by the loss (z_t) and by
 * every step of the sampler.
 */
import * as tf from '@tensorflow/tfjs';
import { removeMeanWithMask } from '../egnn/geometry.js';
import type { MolGraph } from '../graph/graph.js';

/**
 * Put the fixed atoms' values back: denoised rows of `z`, fixed rows of `from` (`[B, N, D]`).
 * Returns `z` itself when the graph has no fixed atoms.
 */
export function keepFixed(z: tf.Tensor, graph: MolGraph, from: tf.Tensor): tf.Tensor {
  if (!graph.fixedMask) return z;
  return tf.add(tf.mul(z, graph.denoiseMask), tf.mul(from, graph.fixedMask));
}

/**
 * Project z `[B, N, 3 + F]` back to the diffusion's space: re-centre the denoised positions
 * (centred graphs), and keep the fixed atoms' values from `fixedFrom`.
 */
export function projectZ(z: tf.Tensor, graph: MolGraph, fixedFrom?: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const [B, N, D] = z.shape as number[];
    let out = z;
    if (graph.centred) {
      out = tf.concat([removeMeanWithMask(tf.slice(z, [0, 0, 0], [B, N, 3]), graph.denoiseMask), tf.slice(z, [0, 0, 3], [B, N, D - 3])], 2);
    }
    return fixedFrom ? keepFixed(out, graph, fixedFrom) : out;
  });
}
