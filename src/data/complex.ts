/**
 * Protein-ligand complexes as graphs for the conditional model (DiffSBDD's form, Schneuing et
 * al. 2024): the ligand's atoms are denoised; the pocket's heavy atoms nearest the site centre
 * (at most `maxPocketNodes`, so memory stays bounded whatever the pocket's size) are fixed
 * context nodes with zero features and their element in the per-node context. The frame's
 * origin is the site centre, and the ligand's positions stay centre-of-mass free in it (the
 * constraint covers the ligand only): in training the site centre is the ligand's own centroid,
 * in sampling the reference ligand's centroid or the given centre, so a ligand cannot drift out
 * of the pocket.
 */
import * as tf from '@tensorflow/tfjs';
import type { PocketConditioning } from '../config.js';
import { ATOMIC_NUMBER, type Batch } from './batch.js';
import type { Molecule } from './molecule.js';
import { InputError } from '../errors.js';
import { makeGraph } from '../graph/graph.js';

/** The context nodes of one pocket, in the protein frame. */
export interface PocketNodes {
  elements: string[];
  /** `[P * 3]` Å */
  positions: Float64Array;
  /** the site centre: the origin of the model's frame, where the ligand's centre of mass stays */
  origin: [number, number, number];
}

/** Context channels of a pocket model: is_pocket, one per pocket type, other. */
export const pocketContextDim = (c: PocketConditioning): number => c.pocketTypes.length + 2;

/** One training or sampling example: a ligand (protein frame) and its pocket nodes. */
export interface ComplexExample {
  ligand: Molecule;
  pocket: PocketNodes;
}

/** The per-node context row of a pocket element. */
function contextRow(c: PocketConditioning, element: string): number[] {
  const row = new Array<number>(pocketContextDim(c)).fill(0);
  row[0] = 1;
  const k = c.pocketTypes.indexOf(element);
  row[k >= 0 ? 1 + k : c.pocketTypes.length + 1] = 1;
  return row;
}

/**
 * Per-node context `[B, N, C]` and fixed-atom values of complexes whose ligands have `nLigand`
 * atoms: pocket nodes follow the ligand in each row; positions relative to the pocket origin.
 * @returns context values, the fixed nodes' positions `[B, N, 3]` (zero for ligand rows) and counts
 */
export function pocketRows(c: PocketConditioning, pockets: PocketNodes[], nLigand: ArrayLike<number>, N: number): { context: Float32Array; fixedX: Float32Array; nFixed: Int32Array } {
  const B = pockets.length;
  const C = pocketContextDim(c);
  const context = new Float32Array(B * N * C);
  const fixedX = new Float32Array(B * N * 3);
  const nFixed = Int32Array.from(pockets, (p) => p.elements.length);
  pockets.forEach((p, b) => {
    p.elements.forEach((e, j) => {
      const i = nLigand[b] + j;
      context.set(contextRow(c, e), (b * N + i) * C);
      for (let d = 0; d < 3; d++) fixedX[(b * N + i) * 3 + d] = p.positions[j * 3 + d] - p.origin[d];
    });
  });
  return { context, fixedX, nFixed };
}

/**
 * A dense batch of complexes for training: ligand atoms first (denoised), pocket nodes after
 * (fixed, zero features, context), positions relative to each site's origin (the ligand's
 * centroid, so the ligand's positions are centre-of-mass free).
 * @throws InputError for a ligand element outside `atomDecoder`
 */
export function makeComplexBatch(examples: ComplexExample[], atomDecoder: string[], c: PocketConditioning): Batch {
  const B = examples.length;
  const nLig = examples.map((e) => e.ligand.elements.length);
  const nNodes = Int32Array.from(examples, (e, b) => nLig[b] + e.pocket.elements.length);
  const N = Math.max(...nNodes);
  const K = atomDecoder.length;
  const rows = pocketRows(c, examples.map((e) => e.pocket), nLig, N);
  const x = Float32Array.from(rows.fixedX);
  const hCat = new Float32Array(B * N * K);
  const hInt = new Float32Array(B * N);
  examples.forEach((e, b) => {
    e.ligand.elements.forEach((el, i) => {
      const k = atomDecoder.indexOf(el);
      if (k < 0) throw new InputError(`ligand ${e.ligand.name ?? b}: element ${el} is not one the model knows (${atomDecoder.join(', ')})`);
      for (let d = 0; d < 3; d++) x[(b * N + i) * 3 + d] = e.ligand.positions[i * 3 + d] - e.pocket.origin[d];
      hCat[(b * N + i) * K + k] = 1;
      hInt[b * N + i] = ATOMIC_NUMBER[el] ?? 0;
    });
  });
  return {
    x: tf.tensor3d(x, [B, N, 3]),
    hCat: tf.tensor3d(hCat, [B, N, K]),
    hInt: tf.tensor3d(hInt, [B, N, 1]),
    graph: makeGraph({ nNodes, N, nFixed: rows.nFixed, context: rows.context, contextDim: pocketContextDim(c), centred: true }),
    nNodes,
    host: { hCat, hInt },
  };
}
