/**
 * Gaussian noise in the diffusion's space: positions in the centre-of-mass-free subspace,
 * features masked (EDM sample_combined_position_feature_noise,
 * sample_center_gravity_zero_gaussian_with_mask).
 */
import type { Rng } from '../random.js';

/**
 * Where noise comes from: one generator for a whole batch, or one per molecule (row b draws from
 * `rng[b]`, so a molecule's noise does not depend on the other rows of its batch).
 */
export type NoiseSource = Rng | Rng[];

/**
 * Draw eps `[B, N, 3 + F]` (row-major Float32Array) from the seeded generator(s).
 * @param nNodes denoised atom count per molecule (atoms 0..n-1 are denoised, the rest fixed
 *   or padding, see graph.ts)
 * @param N padded atom count
 * @param F feature channels
 * @param centred remove the positions' mean (EDM); false when fixed atoms set the frame
 * @returns the noise; position part has zero mean over denoised atoms when centred; zero elsewhere
 */
export function combinedNoise(source: NoiseSource, nNodes: ArrayLike<number>, N: number, F: number, centred = true): Float32Array {
  const B = nNodes.length;
  const D = 3 + F;
  const out = new Float32Array(B * N * D);
  for (let b = 0; b < B; b++) {
    const n = nNodes[b];
    const rng = Array.isArray(source) ? source[b] : source;
    const base = b * N * D;
    const mean = [0, 0, 0];
    for (let i = 0; i < n; i++) {
      for (let d = 0; d < D; d++) {
        const v = rng.normal();
        out[base + i * D + d] = v;
        if (d < 3) mean[d] += v;
      }
    }
    if (centred) for (let i = 0; i < n; i++) for (let d = 0; d < 3; d++) out[base + i * D + d] -= mean[d] / n;
  }
  return out;
}

/**
 * Draw the bonds' noise `[B, N, N, K]`: one standard normal per unordered pair i < j of denoised
 * atoms and channel, the same value at (i, j) and (j, i) (a bond is one variable), zero on the
 * diagonal, at padding and at fixed atoms.
 * @param nNodes denoised atom count per molecule
 */
export function symmetricPairNoise(source: NoiseSource, nNodes: ArrayLike<number>, N: number, K: number): Float32Array {
  const B = nNodes.length;
  const out = new Float32Array(B * N * N * K);
  for (let b = 0; b < B; b++) {
    const rng = Array.isArray(source) ? source[b] : source;
    for (let i = 0; i < nNodes[b]; i++) {
      for (let j = i + 1; j < nNodes[b]; j++) {
        for (let k = 0; k < K; k++) {
          const v = rng.normal();
          out[((b * N + i) * N + j) * K + k] = v;
          out[((b * N + j) * N + i) * K + k] = v;
        }
      }
    }
  }
  return out;
}
