/**
 * Validity by RDKit sanitisation of the molecule built from inferred bonds, and the SMILES of
 * its largest fragment (EDM rdkit_functions.BasicMolecularMetrics.compute_validity).
 */
import type { MainModule as RDKitModule } from '@rdkit/rdkit';
import type { Bond, Molecule } from '../data/molecule.js';
import { toMolBlock } from '../data/sdf.js';
import { sanitizedSmiles } from './rdkit.js';

/**
 * A molblock of the bond graph only: coordinates are written as zeros so that RDKit perceives
 * no stereochemistry from 3D, as in EDM, which builds an RWMol without a conformer. (With the
 * real coordinates, about half of QM9's SMILES gain @/@@ centres and uniqueness/novelty shift.)
 */
export function graphMolBlock(elements: string[], bonds: Bond[]): string {
  return toMolBlock({ elements, positions: new Float32Array(elements.length * 3) }, bonds);
}

/** Connected components of a bond graph, each as sorted atom indices, in order of first atom. */
export function fragments(nAtoms: number, bonds: Bond[]): number[][] {
  const parent = Array.from({ length: nAtoms }, (_, i) => i);
  const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i])));
  for (const b of bonds) parent[find(b.i)] = find(b.j);
  const groups = new Map<number, number[]>();
  for (let i = 0; i < nAtoms; i++) {
    const r = find(i);
    if (!groups.has(r)) groups.set(r, []);
    groups.get(r)!.push(i);
  }
  return [...groups.values()];
}

/** The fragment with most atoms, the first on ties (as Python's max over GetMolFrags). */
function largestOf(frags: number[][]): number[] {
  let largest = frags[0];
  for (const f of frags) if (f.length > largest.length) largest = f;
  return largest;
}

/** The sub-molecule on `atoms` (sorted indices): elements, positions `[F * 3]`, bonds renumbered. */
function subMolecule(m: Molecule, bonds: Bond[], atoms: number[]): Molecule {
  const index = new Map(atoms.map((a, k) => [a, k]));
  const positions = new Float32Array(atoms.length * 3);
  atoms.forEach((a, k) => positions.set(m.positions.subarray(3 * a, 3 * a + 3), 3 * k));
  return {
    ...m,
    elements: atoms.map((a) => m.elements[a]),
    positions,
    bonds: bonds.filter((b) => index.has(b.i)).map((b) => ({ i: index.get(b.i)!, j: index.get(b.j)!, order: b.order })),
  };
}

/**
 * The largest fragment of a molecule with bonds (most atoms, first on ties, as `checkValidity`),
 * with its positions `[F * 3]` (Å) and bonds renumbered; the molecule itself when connected.
 */
export function largestFragment(m: Molecule): Molecule {
  const bonds = m.bonds ?? [];
  const frags = fragments(m.elements.length, bonds);
  return frags.length <= 1 ? m : subMolecule(m, bonds, largestOf(frags));
}

/** Validity of one molecule. */
export interface ValidityResult {
  valid: boolean;
  /** canonical SMILES of the largest fragment (explicit H kept), when valid */
  smiles?: string;
  /** why it is invalid */
  reason?: string;
  fragments: number;
}

/**
 * Check validity: sanitise the whole molecule; if it passes, take the largest fragment
 * (most atoms, first on ties, as Python's max over GetMolFrags) and return its SMILES.
 * @param bonds inferred bonds of `m`
 */
export function checkValidity(rdkit: RDKitModule, m: Molecule, bonds: Bond[]): ValidityResult {
  const frags = fragments(m.elements.length, bonds);
  const whole = sanitizedSmiles(rdkit, graphMolBlock(m.elements, bonds));
  if (whole === null) return { valid: false, reason: 'RDKit sanitization failed (valence)', fragments: frags.length };
  if (frags.length === 1) return { valid: true, smiles: whole, fragments: 1 };
  const largest = subMolecule(m, bonds, largestOf(frags));
  const smiles = sanitizedSmiles(rdkit, graphMolBlock(largest.elements, largest.bonds!));
  if (smiles === null) return { valid: false, reason: 'largest fragment failed sanitization', fragments: frags.length };
  return { valid: true, smiles, fragments: frags.length };
}
