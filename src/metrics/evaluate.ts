/**
 * EDM's evaluation protocol on any set of molecules: atom and molecule stability, validity,
 * uniqueness and novelty (Hoogeboom et al. 2022, section 5.1; docs/architecture.md), exactly as
 * EDM's analysis code scores them; beside them, connected validity and the number of fragments
 * (EDM's validity keeps the largest fragment, so lone atoms and scattered fragments pass; later
 * work such as MiDi and EQGAT-diff reports connectivity too), collapsed atoms, and
 * distributions compared with the training data.
 */
import type { Molecule } from '../data/molecule.js';
import { distance, inferBonds, stability } from '../decode/bonds.js';
import { type DistributionComparison, type DistributionStats, addToStats, compareStats, emptyStats } from './distributions.js';
import { loadRDKit } from './rdkit.js';
import { checkValidity } from './validity.js';

/**
 * Atoms closer than this have collapsed onto one place. EDM's protocol scores such molecules like
 * any other (bonds from distances, RDKit), and so do we; they are counted on their own.
 */
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
  /** connected parts of the inferred bond graph (1: one molecule) */
  fragments: number;
  /** two of its atoms are closer than MIN_ATOM_DISTANCE_ANGSTROM */
  collapsed: boolean;
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
  /** valid and a single fragment / molecules */
  connectedValidity: number;
  /** mean number of fragments of the inferred bond graph, over all molecules */
  meanFragments: number;
  counts: {
    stableAtoms: number;
    stableMolecules: number;
    valid: number;
    unique: number;
    novel: number | null;
    connectedValid: number;
    /** molecules with collapsed atoms (two atoms within MIN_ATOM_DISTANCE_ANGSTROM) */
    collapsed: number;
  };
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

/** Whether two atoms of `m` are closer than MIN_ATOM_DISTANCE_ANGSTROM. */
function hasCollapsedAtoms(m: Molecule): boolean {
  const n = m.elements.length;
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) if (distance(m, i, j) < MIN_ATOM_DISTANCE_ANGSTROM) return true;
  return false;
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
  let connectedValid = 0;
  let fragmentSum = 0;
  const validSmiles: string[] = [];
  mols.forEach((m, index) => {
    atoms += m.elements.length;
    const bonds = inferBonds(m);
    const s = stability(m, bonds);
    stableAtoms += s.stableAtoms;
    if (s.moleculeStable) stableMolecules++;
    addToStats(stats, m, bonds);
    const v = checkValidity(rdkit, m, bonds);
    const out: MoleculeOutcome = { index, name: m.name, atoms: m.elements.length, stableAtoms: s.stableAtoms, stable: s.moleculeStable, valid: v.valid, fragments: v.fragments, collapsed: hasCollapsedAtoms(m) };
    if (v.valid) out.smiles = v.smiles;
    else out.reason = v.reason;
    if (v.valid) validSmiles.push(v.smiles!);
    if (v.valid && v.fragments === 1) connectedValid++;
    fragmentSum += v.fragments;
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
    connectedValidity: frac(connectedValid, mols.length),
    meanFragments: frac(fragmentSum, mols.length),
    counts: { stableAtoms, stableMolecules, valid: validSmiles.length, unique: unique.size, novel, connectedValid, collapsed: outcomes.filter((o) => o.collapsed).length },
    distributions: opts.trainStats ? compareStats(stats, opts.trainStats) : undefined,
    stats,
    outcomes,
    seconds: (performance.now() - t0) / 1000,
  };
}
