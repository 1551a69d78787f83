/**
 * EDM's evaluation protocol on any set of molecules: atom and molecule stability, validity,
 * uniqueness and novelty (Hoogeboom et al. 2022, section 5.1; docs/architecture.md), plus
 * distributions compared with the training data.
 */
import type { Molecule } from '../data/molecule.js';
import { distance, inferBonds, stability } from '../decode/bonds.js';
import { type DistributionComparison, type DistributionStats, addToStats, compareStats, emptyStats } from './distributions.js';
import { loadRDKit } from './rdkit.js';
import { checkValidity } from './validity.js';

/** Atoms closer than this are the same place: the molecule is invalid, not a crash. */
export const MIN_ATOM_DISTANCE_ANGSTROM = 0.1;

/** Per-molecule outcome. */
export interface MoleculeOutcome {
  index: number;
  name?: string;
  atoms: number;
  stableAtoms: number;
  stable: boolean;
  valid: boolean;
  smiles?: string;
  /** why the molecule is invalid */
  reason?: string;
}

/** The metrics of a set of molecules. Fractions in [0, 1]. */
export interface EvaluationReport {
  molecules: number;
  atoms: number;
  atomStability: number;
  moleculeStability: number;
  validity: number;
  /** distinct valid SMILES / valid (null when no molecule is valid) */
  uniqueness: number | null;
  /** unique SMILES absent from the training SMILES / unique (null without training data or unique molecules) */
  novelty: number | null;
  counts: { stableAtoms: number; stableMolecules: number; valid: number; unique: number; novel: number | null };
  distributions?: DistributionComparison;
  stats: DistributionStats;
  outcomes: MoleculeOutcome[];
  seconds: number;
}

/** Options of `evaluateMolecules`. */
export interface EvaluateOptions {
  /** SMILES of the training split, from the same pipeline (see reference.ts) */
  trainSmiles?: Set<string>;
  /** the training split's distributions */
  trainStats?: DistributionStats;
  /** called after each molecule with the number scored so far */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Score molecules. Bonds are always inferred from distances (the protocol), ignoring any bonds
 * a file carried.
 */
export async function evaluateMolecules(mols: Molecule[], opts: EvaluateOptions = {}): Promise<EvaluationReport> {
  const t0 = performance.now();
  const rdkit = await loadRDKit();
  const outcomes: MoleculeOutcome[] = [];
  const stats = emptyStats();
  let atoms = 0;
  let stableAtoms = 0;
  let stableMolecules = 0;
  const validSmiles: string[] = [];
  mols.forEach((m, index) => {
    const n = m.elements.length;
    atoms += n;
    let clash: string | undefined;
    for (let i = 0; i < n && !clash; i++) {
      for (let j = i + 1; j < n; j++) {
        if (distance(m, i, j) < MIN_ATOM_DISTANCE_ANGSTROM) {
          clash = `atoms ${i + 1} and ${j + 1} are at the same position`;
          break;
        }
      }
    }
    const bonds = inferBonds(m);
    const s = stability(m, bonds);
    stableAtoms += s.stableAtoms;
    if (s.moleculeStable) stableMolecules++;
    addToStats(stats, m, bonds);
    const out: MoleculeOutcome = { index, name: m.name, atoms: n, stableAtoms: s.stableAtoms, stable: s.moleculeStable, valid: false };
    if (clash) out.reason = clash;
    else {
      const v = checkValidity(rdkit, m, bonds);
      out.valid = v.valid;
      out.smiles = v.smiles;
      out.reason = v.reason;
      if (v.valid) validSmiles.push(v.smiles!);
    }
    outcomes.push(out);
    opts.onProgress?.(index + 1, mols.length);
  });
  const unique = new Set(validSmiles);
  let novel: number | null = null;
  if (opts.trainSmiles) {
    novel = 0;
    for (const s of unique) if (!opts.trainSmiles.has(s)) novel++;
  }
  const frac = (a: number, b: number): number => (b === 0 ? 0 : a / b);
  return {
    molecules: mols.length,
    atoms,
    atomStability: frac(stableAtoms, atoms),
    moleculeStability: frac(stableMolecules, mols.length),
    validity: frac(validSmiles.length, mols.length),
    uniqueness: validSmiles.length === 0 ? null : unique.size / validSmiles.length,
    novelty: novel === null || unique.size === 0 ? null : novel / unique.size,
    counts: { stableAtoms, stableMolecules, valid: validSmiles.length, unique: unique.size, novel },
    distributions: opts.trainStats ? compareStats(stats, opts.trainStats) : undefined,
    stats,
    outcomes,
    seconds: (performance.now() - t0) / 1000,
  };
}
