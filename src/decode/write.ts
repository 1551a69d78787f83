/**
 * Writing generated molecules: bonds inferred from distances, stability as SDF data fields,
 * SDF or XYZ chosen by the file extension, written atomically.
 */
import { writeFileAtomic } from '../data/files.js';
import type { Molecule } from '../data/molecule.js';
import { formatSdf } from '../data/sdf.js';
import { formatXyz } from '../data/xyz.js';
import { InputError } from '../errors.js';
import { inferBonds, stability } from './bonds.js';

/** Copies of the molecules with inferred bonds and stability properties. */
export function withBondsAndStability(mols: Molecule[]): Molecule[] {
  return mols.map((m) => {
    const bonds = inferBonds(m);
    const s = stability(m, bonds);
    return {
      ...m,
      bonds,
      properties: { ...(m.properties ?? {}), atom_stability: `${s.stableAtoms}/${s.atoms}`, molecule_stable: s.moleculeStable ? 1 : 0 },
    };
  });
}

/**
 * Write molecules to `.sdf` (with bonds and data fields) or `.xyz` (multi-frame), atomically.
 * @throws InputError for another extension or an unwritable path
 */
export function writeMolecules(path: string, mols: Molecule[]): void {
  const lower = path.toLowerCase();
  if (lower.endsWith('.sdf') || lower.endsWith('.sd')) writeFileAtomic(path, formatSdf(withBondsAndStability(mols)));
  else if (lower.endsWith('.xyz')) writeFileAtomic(path, formatXyz(mols));
  else throw new InputError('unknown output type (use .sdf or .xyz)', path);
}
