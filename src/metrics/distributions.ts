/**
 * Distributions a user compares with the training data: atom counts, atom types, and bond
 * lengths per element pair, with total variation and Wasserstein-1 distances.
 */
import type { Bond, Molecule } from '../data/molecule.js';
import { distance } from '../decode/bonds.js';

/** Width of a bond-length histogram bin, Å. */
export const BOND_BIN_ANGSTROM = 0.01;
/** Bond-length histograms cover 0 to this, Å (longer bonds fall in the last bin). */
export const BOND_HIST_MAX_ANGSTROM = 3;

/** Counts that summarise a set of molecules. */
export interface DistributionStats {
  /** atom count -> molecules */
  nAtoms: Record<string, number>;
  /** element -> atoms */
  atomTypes: Record<string, number>;
  /** "C-H" (elements sorted) -> histogram of bond lengths with BOND_BIN_ANGSTROM bins */
  bondLengths: Record<string, number[]>;
}

/** Empty stats. */
export function emptyStats(): DistributionStats {
  return { nAtoms: {}, atomTypes: {}, bondLengths: {} };
}

/** Add one molecule (with its inferred bonds) to `stats`. */
export function addToStats(stats: DistributionStats, m: Molecule, bonds: Bond[]): void {
  const n = m.elements.length;
  stats.nAtoms[n] = (stats.nAtoms[n] ?? 0) + 1;
  for (const e of m.elements) stats.atomTypes[e] = (stats.atomTypes[e] ?? 0) + 1;
  const bins = Math.round(BOND_HIST_MAX_ANGSTROM / BOND_BIN_ANGSTROM);
  for (const b of bonds) {
    const key = [m.elements[b.i], m.elements[b.j]].sort().join('-');
    const h = (stats.bondLengths[key] ??= new Array<number>(bins).fill(0));
    const k = Math.min(bins - 1, Math.floor(distance(m, b.i, b.j) / BOND_BIN_ANGSTROM));
    h[k]++;
  }
}

/** Total variation distance between two count tables: 0.5 * sum |p - q|. */
export function totalVariation(a: Record<string, number>, b: Record<string, number>): number {
  const sa = Object.values(a).reduce((s, v) => s + v, 0);
  const sb = Object.values(b).reduce((s, v) => s + v, 0);
  if (sa === 0 || sb === 0) return NaN;
  let tv = 0;
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) tv += Math.abs((a[k] ?? 0) / sa - (b[k] ?? 0) / sb);
  return tv / 2;
}

/** Wasserstein-1 distance between two histograms on the same bins, in bin units times width. */
export function wasserstein1(a: number[], b: number[], binWidth: number): number {
  const sa = a.reduce((s, v) => s + v, 0);
  const sb = b.reduce((s, v) => s + v, 0);
  if (sa === 0 || sb === 0) return NaN;
  let ca = 0;
  let cb = 0;
  let w = 0;
  for (let i = 0; i < a.length; i++) {
    ca += a[i] / sa;
    cb += b[i] / sb;
    w += Math.abs(ca - cb) * binWidth;
  }
  return w;
}

/** Distances of generated stats to reference stats. */
export interface DistributionComparison {
  nAtomsTV: number;
  atomTypesTV: number;
  /** pair -> W1 in Å, for pairs present in both */
  bondLengthW1: Record<string, number>;
}

/** Compare generated with reference distributions. */
export function compareStats(gen: DistributionStats, ref: DistributionStats): DistributionComparison {
  const bondLengthW1: Record<string, number> = {};
  for (const k of Object.keys(gen.bondLengths)) {
    if (ref.bondLengths[k]) bondLengthW1[k] = wasserstein1(gen.bondLengths[k], ref.bondLengths[k], BOND_BIN_ANGSTROM);
  }
  return { nAtomsTV: totalVariation(gen.nAtoms, ref.nAtoms), atomTypesTV: totalVariation(gen.atomTypes, ref.atomTypes), bondLengthW1 };
}
