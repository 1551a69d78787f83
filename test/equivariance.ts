/**
 * One helper for E(3) x S_N checks, used by the network, reverse-step and loss tests (e3nn's pattern).
 */
import * as tf from '@tensorflow/tfjs';
import { expectClose } from './helpers.js';
import { Rng } from '../src/random.js';

/** A random orthogonal 3x3 matrix (Gram-Schmidt of normals); `reflect` makes det = -1. */
export function randomOrthogonal(rng: Rng, reflect: boolean): number[][] {
  const v = () => [rng.normal(), rng.normal(), rng.normal()];
  const dot = (a: number[], b: number[]) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
  const norm = (a: number[]) => a.map((x) => x / Math.sqrt(dot(a, a)));
  const a = norm(v());
  let b = v();
  b = norm(b.map((x, i) => x - dot(a, b) * a[i]));
  let c = [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
  if (reflect) c = c.map((x) => -x);
  return [a, b, c];
}

/** Apply x -> R x (+ t) to the first 3 channels of every real atom of xh `[B, N, D]` (host array). */
export function transformPositions(xh: Float32Array, B: number, N: number, D: number, R: number[][], t = [0, 0, 0]): Float32Array {
  const out = Float32Array.from(xh);
  for (let a = 0; a < B * N; a++) {
    const p = [xh[a * D], xh[a * D + 1], xh[a * D + 2]];
    for (let r = 0; r < 3; r++) out[a * D + r] = R[r][0] * p[0] + R[r][1] * p[1] + R[r][2] * p[2] + t[r];
  }
  return out;
}

/**
 * Assert that f(xh) `[B, N, D] -> [B, N, D]` is E(3)-equivariant in its first 3 output channels
 * (rotations, reflections; translation-invariant as a difference), invariant in the others, and
 * permutation-equivariant over atoms, to `rtol` relative.
 * @param f the function under test on host arrays
 * @param nNodes real atoms per molecule (the rest is padding and is not permuted)
 */
export function expectEquivariant(
  f: (xh: Float32Array) => Float32Array,
  xh: Float32Array,
  B: number,
  N: number,
  D: number,
  nNodes: number[],
  rng: Rng,
  rtol = 1e-4,
): void {
  const base = f(xh);
  for (const reflect of [false, true]) {
    const R = randomOrthogonal(rng, reflect);
    const t = [rng.normal() * 3, rng.normal() * 3, rng.normal() * 3];
    const moved = transformPositions(xh, B, N, D, R, t);
    // padded atoms must stay at zero for translation to mean anything: re-zero them
    for (let b = 0; b < B; b++) for (let i = nNodes[b]; i < N; i++) for (let d = 0; d < D; d++) moved[(b * N + i) * D + d] = 0;
    const expected = transformPositions(base, B, N, D, R);
    expectClose(f(moved), expected, rtol, 1e-6, `${reflect ? 'reflection' : 'rotation'} + translation`);
  }
  // permutation of the real atoms of each molecule
  const perm: number[][] = nNodes.map((n) => rng.shuffle(Array.from({ length: n }, (_, i) => i)));
  const permute = (a: Float32Array): Float32Array => permuteNodes(a, B, N, D, perm);
  expectClose(f(permute(xh)), permute(base), rtol, 1e-6, 'permutation');
}

/** Permute the real atoms of each molecule (`perm[b][dst] = src`) in a node tensor `[B, N, D]`. */
function permuteNodes(a: Float32Array, B: number, N: number, D: number, perm: number[][]): Float32Array {
  const out = Float32Array.from(a);
  for (let b = 0; b < B; b++) perm[b].forEach((src, dst) => out.set(a.subarray((b * N + src) * D, (b * N + src + 1) * D), (b * N + dst) * D));
  return out;
}

/** The same permutation on both atom axes of an edge tensor `[B, N, N, K]`. */
function permuteEdges(a: Float32Array, B: number, N: number, K: number, perm: number[][]): Float32Array {
  const out = Float32Array.from(a);
  for (let b = 0; b < B; b++)
    perm[b].forEach((si, di) =>
      perm[b].forEach((sj, dj) => out.set(a.subarray(((b * N + si) * N + sj) * K, ((b * N + si) * N + sj + 1) * K), ((b * N + di) * N + dj) * K)),
    );
  return out;
}

/**
 * As expectEquivariant, for a network that also reads and writes a per-pair tensor (bonds):
 * f(xh, e) -> [node output `[B, N, D]`, edge output `[B, N, N, K]`]. Positions are equivariant,
 * node features and the edge output invariant under rotations, reflections and translations;
 * a permutation of the atoms permutes the node rows and both atom axes of the edge tensors.
 */
export function expectEquivariantWithEdges(
  f: (xh: Float32Array, e: Float32Array) => [Float32Array, Float32Array],
  xh: Float32Array,
  e: Float32Array,
  dims: { B: number; N: number; D: number; K: number },
  nNodes: number[],
  rng: Rng,
  rtol = 1e-4,
): void {
  const { B, N, D, K } = dims;
  const [baseNodes, baseEdges] = f(xh, e);
  for (const reflect of [false, true]) {
    const R = randomOrthogonal(rng, reflect);
    const t = [rng.normal() * 3, rng.normal() * 3, rng.normal() * 3];
    const moved = transformPositions(xh, B, N, D, R, t);
    for (let b = 0; b < B; b++) moved.fill(0, (b * N + nNodes[b]) * D, (b + 1) * N * D);
    const [nodes, edges] = f(moved, e);
    const what = reflect ? 'reflection' : 'rotation';
    expectClose(nodes, transformPositions(baseNodes, B, N, D, R), rtol, 1e-6, `${what} + translation, nodes`);
    expectClose(edges, baseEdges, rtol, 1e-6, `${what} + translation, edges`);
  }
  const perm: number[][] = nNodes.map((n) => rng.shuffle(Array.from({ length: n }, (_, i) => i)));
  const [nodes, edges] = f(permuteNodes(xh, B, N, D, perm), permuteEdges(e, B, N, K, perm));
  expectClose(nodes, permuteNodes(baseNodes, B, N, D, perm), rtol, 1e-6, 'permutation, nodes');
  expectClose(edges, permuteEdges(baseEdges, B, N, K, perm), rtol, 1e-6, 'permutation, edges');
}

/** Host array of a tensor. */
export const host = (t: tf.Tensor): Float32Array => t.dataSync() as Float32Array;
