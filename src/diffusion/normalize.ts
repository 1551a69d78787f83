/**
 * Scaling of data into the diffusion's units and back (EDM EnVariationalDiffusion.normalize /
 * unnormalize): x / f_x, one-hot / f_h, charges / f_c with factors [1, 4, 10] and zero biases.
 */
import * as tf from '@tensorflow/tfjs';

/** The three scalings with one operation (divide to normalise, multiply to undo), masked h. */
function scaleAll(
  op: (a: tf.Tensor, f: number) => tf.Tensor,
  x: tf.Tensor,
  hCat: tf.Tensor,
  hInt: tf.Tensor,
  nodeMask: tf.Tensor,
  factors: readonly number[],
): { x: tf.Tensor; hCat: tf.Tensor; hInt: tf.Tensor } {
  return tf.tidy(() => ({ x: op(x, factors[0]), hCat: tf.mul(op(hCat, factors[1]), nodeMask), hInt: tf.mul(op(hInt, factors[2]), nodeMask) }));
}

/**
 * Normalise a batch.
 * @param x `[B, N, 3]` Å; hCat `[B, N, K]` one-hot; hInt `[B, N, 1]` atomic numbers
 * @param nodeMask `[B, N, 1]`
 * @param factors [f_x, f_h, f_c]
 * @returns the scaled tensors; the caller owns them
 */
export function normalize(x: tf.Tensor, hCat: tf.Tensor, hInt: tf.Tensor, nodeMask: tf.Tensor, factors: readonly number[]): { x: tf.Tensor; hCat: tf.Tensor; hInt: tf.Tensor } {
  return scaleAll((t, f) => tf.div(t, f), x, hCat, hInt, nodeMask, factors);
}

/**
 * log-determinant of the position scaling, per molecule: -(n - 1) * 3 * log f_x
 * (EDM normalize's delta_log_px; positions live in the (n - 1) * 3 dim CoM-free subspace).
 * @param nNodes denoised atom count per molecule
 * @param centred false when fixed atoms set the frame: n * 3 degrees of freedom
 */
export function deltaLogPx(nNodes: ArrayLike<number>, fx: number, centred = true): Float64Array {
  const out = new Float64Array(nNodes.length);
  for (let b = 0; b < nNodes.length; b++) out[b] = -(centred ? nNodes[b] - 1 : nNodes[b]) * 3 * Math.log(fx);
  return out;
}

/**
 * Undo `normalize` for decoded outputs (EDM unnormalize).
 * @returns x `[B, N, 3]` Å, hCat `[B, N, K]`, hInt `[B, N, 1]`, masked
 */
export function unnormalize(x: tf.Tensor, hCat: tf.Tensor, hInt: tf.Tensor, nodeMask: tf.Tensor, factors: readonly number[]): { x: tf.Tensor; hCat: tf.Tensor; hInt: tf.Tensor } {
  return scaleAll((t, f) => tf.mul(t, f), x, hCat, hInt, nodeMask, factors);
}
