/**
 * Masked geometry on dense `[B, N, ...]` tensors: centre of mass and pairwise differences.
 */
import * as tf from '@tensorflow/tfjs';

/**
 * Remove the centre of mass of the real atoms (EDM diffusion_utils.remove_mean_with_mask).
 * @param x `[B, N, D]`
 * @param nodeMask `[B, N, 1]`, 1 for real atoms
 * @returns `[B, N, D]` with zero mean over real atoms and zeros at padded atoms
 */
export function removeMeanWithMask(x: tf.Tensor, nodeMask: tf.Tensor): tf.Tensor {
  const n = tf.sum(nodeMask, 1, true); // [B, 1, 1]
  const mean = tf.div(tf.sum(tf.mul(x, nodeMask), 1, true), n);
  return tf.mul(tf.sub(x, mean), nodeMask);
}

/**
 * Pairwise geometry (EDM egnn_new.coord2diff, dense form).
 * @param x `[B, N, 3]`
 * @param normConstant added to |x_i - x_j| before normalising the difference
 * @returns radial `[B, N, N, 1]` = |x_i - x_j|^2, and diff `[B, N, N, 3]` =
 *   (x_i - x_j) / (sqrt(radial + 1e-8) + normConstant)
 */
export function coordDiff(x: tf.Tensor, normConstant: number): { radial: tf.Tensor; diff: tf.Tensor } {
  const d = tf.sub(tf.expandDims(x, 2), tf.expandDims(x, 1)); // [B, N, N, 3]: x_i - x_j
  const radial = tf.sum(tf.square(d), -1, true);
  const norm = tf.sqrt(tf.add(radial, 1e-8));
  return { radial, diff: tf.div(d, tf.add(norm, normConstant)) };
}
