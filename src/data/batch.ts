/**
 * Dense batches: the only place molecules become tensors.
 */
import * as tf from '@tensorflow/tfjs';
import { type MolGraph, disposeGraph, makeGraph } from '../graph/graph.js';
import { InputError } from '../errors.js';
import type { Molecule } from './molecule.js';

/** A padded batch of molecules (see docs/architecture.md). Atoms 0..nNodes[b]-1 are real. */
export interface Batch {
  /** `[B, N, 3]` positions, Å, centred on the real atoms */
  x: tf.Tensor3D;
  /** `[B, N, K]` one-hot atom types */
  hCat: tf.Tensor3D;
  /** `[B, N, 1]` atomic numbers (EDM's integer "charges") */
  hInt: tf.Tensor3D;
  /** node, edge and denoise masks (every atom denoised) */
  graph: MolGraph;
  /** real atom count per molecule */
  nNodes: Int32Array;
  /**
   * `[B, N, N, K]` one-hot bond orders (class 0: no bond) of the real pairs i != j, symmetric,
   * zero on the diagonal and at padding; only in batches made for a bond-aware model
   */
  bonds?: tf.Tensor4D;
  /** `[B]` each molecule's normalised property value: the target of a property regressor's batch */
  targets?: Float32Array;
  /** host copies for code that works on numbers (NLL's discrete terms) */
  host: { hCat: Float32Array; hInt: Float32Array; bonds?: Float32Array };
}

/** Atomic numbers of the elements a decoder may name. */
export const ATOMIC_NUMBER: Record<string, number> = {
  H: 1, He: 2, Li: 3, Be: 4, B: 5, C: 6, N: 7, O: 8, F: 9, Ne: 10, Na: 11, Mg: 12, Al: 13, Si: 14,
  P: 15, S: 16, Cl: 17, Ar: 18, K: 19, Ca: 20, Fe: 26, Cu: 29, Zn: 30, As: 33, Se: 34, Br: 35,
  I: 53, Hg: 80, Bi: 83,
};

/**
 * Make a dense batch.
 * @param mols molecules whose elements are all in `atomDecoder`
 * @param atomDecoder element of each one-hot class
 * @param nPad padded size N (default: the largest molecule)
 * @param bondClasses K > 0: also the one-hot bond orders `[B, N, N, K]` from each molecule's `bonds`
 * @param context per-node context of the padded batch (`values` `[B, N, dim]`, made for `nPad`),
 *   carried by the graph
 * @throws InputError for an element outside `atomDecoder`, or (with bondClasses) a molecule
 *   without bonds or with a bond order outside 1..K-1
 */
export function makeBatch(mols: Molecule[], atomDecoder: string[], nPad?: number, bondClasses = 0, context?: { values: Float32Array; dim: number }): Batch {
  const B = mols.length;
  const N = nPad ?? Math.max(...mols.map((m) => m.elements.length));
  const K = atomDecoder.length;
  const index = new Map(atomDecoder.map((e, i) => [e, i]));
  const x = new Float32Array(B * N * 3);
  const hCat = new Float32Array(B * N * K);
  const hInt = new Float32Array(B * N);
  const nNodes = new Int32Array(B);
  mols.forEach((m, b) => {
    const n = m.elements.length;
    if (n > N) throw new InputError(`molecule ${m.name ?? b} has ${n} atoms, more than the padded size ${N}`);
    nNodes[b] = n;
    const mean = [0, 0, 0];
    for (let i = 0; i < n; i++) for (let d = 0; d < 3; d++) mean[d] += m.positions[i * 3 + d] / n;
    for (let i = 0; i < n; i++) {
      const k = index.get(m.elements[i]);
      if (k === undefined) {
        throw new InputError(
          `unknown element ${m.elements[i]} in molecule ${m.name ?? b}; the model knows ${atomDecoder.join(', ')}`,
        );
      }
      for (let d = 0; d < 3; d++) x[(b * N + i) * 3 + d] = m.positions[i * 3 + d] - mean[d];
      hCat[(b * N + i) * K + k] = 1;
      hInt[b * N + i] = ATOMIC_NUMBER[m.elements[i]] ?? 0;
    }
  });
  const bonds = bondClasses > 0 ? bondOneHot(mols, N, bondClasses) : undefined;
  return {
    x: tf.tensor3d(x, [B, N, 3]),
    hCat: tf.tensor3d(hCat, [B, N, K]),
    hInt: tf.tensor3d(hInt, [B, N, 1]),
    ...(bonds ? { bonds: tf.tensor4d(bonds, [B, N, N, bondClasses]) } : {}),
    graph: makeGraph({ nNodes, N, ...(context ? { context: context.values, contextDim: context.dim } : {}) }),
    nNodes,
    host: { hCat, hInt, ...(bonds ? { bonds } : {}) },
  };
}

/**
 * One-hot bond orders `[B, N, N, K]` of molecules padded to N atoms: class 0 for real pairs
 * without a bond, class `order` for each bond (both i-j and j-i), zeros on the diagonal and at
 * padding. @throws InputError for a molecule without bonds or an order outside 1..K-1
 */
function bondOneHot(mols: Molecule[], N: number, K: number): Float32Array {
  const out = new Float32Array(mols.length * N * N * K);
  mols.forEach((m, b) => {
    if (!m.bonds) throw new InputError(`molecule ${m.name ?? b} has no bond orders; a bond-aware model needs them (decode/bonds.ts inferBonds)`);
    const n = m.elements.length;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (i !== j) out[((b * N + i) * N + j) * K] = 1;
    for (const { i, j, order } of m.bonds) {
      if (!(Number.isInteger(order) && order >= 1 && order < K)) throw new InputError(`molecule ${m.name ?? b}: bond ${i + 1}-${j + 1} has order ${order}; this model knows orders 1..${K - 1}`);
      for (const [p, q] of [[i, j], [j, i]]) {
        const at = ((b * N + p) * N + q) * K;
        out[at] = 0;
        out[at + order] = 1;
      }
    }
  });
  return out;
}

/** Free a batch's tensors. */
export function disposeBatch(b: Batch): void {
  tf.dispose([b.x, b.hCat, b.hInt, ...(b.bonds ? [b.bonds] : [])]);
  disposeGraph(b.graph);
}
