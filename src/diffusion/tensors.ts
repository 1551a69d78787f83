/** Small helpers shared by the diffusion modules. */
import * as tf from '@tensorflow/tfjs';

/**
 * Per-molecule scalars as a `[B, 1, 1]` tensor that broadcasts over atoms and channels (rank 4:
 * `[B, 1, 1, 1]`, over atom pairs and channels).
 */
export function perMolecule(values: ArrayLike<number>, rank: 3 | 4 = 3): tf.Tensor {
  return tf.tensor(Float32Array.from(values as ArrayLike<number>), [values.length, ...new Array<number>(rank - 1).fill(1)]);
}

/** Sum over every axis but the first: `[B, ...]` -> `[B]` (EDM sum_except_batch). */
export function sumExceptBatch(t: tf.Tensor): tf.Tensor1D {
  return tf.sum(t.reshape([t.shape[0]!, -1]), 1) as tf.Tensor1D;
}

/** Standard normal CDF, float64 (EDM cdf_standard_gaussian). */
export function normalCdf(x: number): number {
  return 0.5 * erfc(-x / Math.SQRT2);
}

/** Complementary error function, |relative error| < 1.2e-7 (Numerical Recipes erfcc, Chebyshev fit). */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z - 1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
        t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}
