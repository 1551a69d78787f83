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
  /** host copies for code that works on numbers (NLL's discrete terms) */
  host: { hCat: Float32Array; hInt: Float32Array };
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
 * @throws InputError for an element outside `atomDecoder`
 */
export function makeBatch(mols: Molecule[], atomDecoder: string[], nPad?: number): Batch {
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
  return {
    x: tf.tensor3d(x, [B, N, 3]),
    hCat: tf.tensor3d(hCat, [B, N, K]),
    hInt: tf.tensor3d(hInt, [B, N, 1]),
    graph: makeGraph({ nNodes, N }),
    nNodes,
    host: { hCat, hInt },
  };
}

/** Free a batch's tensors. */
export function disposeBatch(b: Batch): void {
  tf.dispose([b.x, b.hCat, b.hInt]);
  disposeGraph(b.graph);
}
