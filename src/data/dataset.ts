/**
 * Datasets: molecules + their DatasetInfo, and batches grouped by atom count so little compute
 * goes to padding.
 */
import type { DatasetInfo } from '../config.js';
import { InputError } from '../errors.js';
import type { Rng } from '../random.js';
import type { Molecule } from './molecule.js';

/** QM9's atom decoder in EDM's order (qm9 dataset_info 'atom_decoder'). */
export const QM9_ATOM_DECODER = ['H', 'C', 'N', 'O', 'F'];

/**
 * Dataset info from a training split: atom-count histogram and largest size.
 * @param atomDecoder element classes (default: the elements present, H first then by atomic
 *   number is left to the caller; QM9 uses QM9_ATOM_DECODER)
 * @throws InputError if a molecule has an element outside `atomDecoder`
 */
export function datasetInfoFrom(name: string, mols: Molecule[], atomDecoder: string[]): DatasetInfo {
  const known = new Set(atomDecoder);
  const hist: Record<string, number> = {};
  let maxN = 0;
  for (const m of mols) {
    for (const e of m.elements) {
      if (!known.has(e)) {
        throw new InputError(`unknown element ${e} in molecule ${m.name ?? ''}; the model knows ${atomDecoder.join(', ')}`);
      }
    }
    const n = m.elements.length;
    hist[n] = (hist[n] ?? 0) + 1;
    maxN = Math.max(maxN, n);
  }
  return { name, atomDecoder: [...atomDecoder], nNodesHistogram: hist, maxNAtoms: maxN };
}

/**
 * Split example indices into batches of similar size: sort by graph size (ties in random
 * order), cut into batches of `batchSize`, shuffle the batch order. Each batch is padded only
 * to its own largest example. Every example appears exactly once per epoch.
 * @param sizeOf nodes of example i's graph (molecules: atoms; complexes: ligand + pocket nodes)
 * @returns lists of indices 0..count-1
 */
export function bucketedBatches(count: number, sizeOf: (i: number) => number, batchSize: number, rng: Rng): number[][] {
  const idx = rng.shuffle(Array.from({ length: count }, (_, i) => i));
  idx.sort((a, b) => sizeOf(a) - sizeOf(b));
  const batches: number[][] = [];
  for (let i = 0; i < idx.length; i += batchSize) batches.push(idx.slice(i, i + batchSize));
  return rng.shuffle(batches);
}

/**
 * Draw atom counts from a histogram (EDM DistributionNodes.sample).
 * @returns `count` sizes
 */
export function sampleNNodes(hist: Record<string, number>, count: number, rng: Rng): Int32Array {
  const entries = Object.entries(hist).map(([k, v]) => [Number(k), v] as const).filter(([, v]) => v > 0).sort((a, b) => a[0] - b[0]);
  const total = entries.reduce((s, [, v]) => s + v, 0);
  if (total <= 0) throw new InputError('the atom-count histogram is empty');
  const out = new Int32Array(count);
  for (let c = 0; c < count; c++) {
    let u = rng.uniform() * total;
    let chosen = entries[entries.length - 1][0];
    for (const [n, v] of entries) {
      if (u < v) {
        chosen = n;
        break;
      }
      u -= v;
    }
    out[c] = chosen;
  }
  return out;
}
