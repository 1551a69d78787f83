/**
 * The binding site: pocket atoms (whole residues near a reference ligand or a point, or a
 * pre-cut pocket as is), the site centre where a ligand's centre of mass is placed, and the
 * pocket region that generated atoms should stay in (a ball around the centre).
 *
 * Residue selection as CrossDocked/DiffSBDD pockets are cut: every residue with any atom within
 * `radius` Å (default 10) of any reference-ligand atom.
 */
import { InputError } from '../errors.js';
import type { Molecule } from '../data/molecule.js';
import { type Protein, type ProteinAtom, residueKey } from './pdb.js';

/** A binding site, in the protein's frame (Å). */
export interface PocketSite {
  /** pocket atoms, hydrogens included */
  atoms: ProteinAtom[];
  /** `[P * 3]` positions of the pocket's heavy atoms */
  heavy: Float64Array;
  /** where generated ligands' centres of mass are placed */
  centre: [number, number, number];
  /** radius of the pocket region around `centre` */
  regionRadius: number;
  /** how the site was defined, for reports */
  description: string;
}

/** Margin added to the reference ligand's extent to make the pocket region, Å. */
export const REGION_MARGIN = 2.0;
/** Pocket region radius when there is no reference ligand, Å. */
export const DEFAULT_REGION_RADIUS = 6.0;
/** A HETATM residue with an atom this close to the reference ligand is that ligand itself, Å. */
const SAME_LIGAND = 1.0;

const dist2 = (a: ProteinAtom, p: ArrayLike<number>, k: number): number =>
  (a.x - p[k]) ** 2 + (a.y - p[k + 1]) ** 2 + (a.z - p[k + 2]) ** 2;

/** Heavy-atom positions `[P * 3]` of a list of atoms. */
export function heavyPositions(atoms: ProteinAtom[]): Float64Array {
  const heavy = atoms.filter((a) => a.element !== 'H');
  const out = new Float64Array(heavy.length * 3);
  heavy.forEach((a, i) => out.set([a.x, a.y, a.z], i * 3));
  return out;
}

function site(atoms: ProteinAtom[], centre: [number, number, number], regionRadius: number, description: string): PocketSite {
  return { atoms, heavy: heavyPositions(atoms), centre, regionRadius, description };
}

/** Keep whole residues that have an atom for which `near` holds. */
function residuesWhere(atoms: ProteinAtom[], near: (a: ProteinAtom) => boolean, skip: Set<string> = new Set()): ProteinAtom[] {
  const keep = new Set<string>();
  for (const a of atoms) if (!skip.has(residueKey(a)) && near(a)) keep.add(residueKey(a));
  return atoms.filter((a) => keep.has(residueKey(a)));
}

/** Whole residues of `atoms` with any atom closer than `cutoff` Å to any of `positions` (`[L * 3]`). */
export function residuesNear(atoms: ProteinAtom[], positions: ArrayLike<number>, cutoff: number): ProteinAtom[] {
  const c2 = cutoff * cutoff;
  return residuesWhere(atoms, (a) => {
    for (let k = 0; k < positions.length; k += 3) if (dist2(a, positions, k) < c2) return true;
    return false;
  });
}

/** Heavy atoms of a molecule (all atoms when it has only hydrogens). */
function ligandHeavy(ligand: Molecule): number[] {
  const idx = ligand.elements.flatMap((e, i) => (e === 'H' ? [] : [i]));
  return idx.length ? idx : ligand.elements.map((_, i) => i);
}

/** Largest distance, Å, of a reference ligand's heavy atom from their centre. */
const MAX_LIGAND_EXTENT = 30;

/**
 * Pocket = residues with any atom within `radius` of the reference ligand; centre = the
 * ligand's heavy-atom centroid; region = its largest distance from that centroid + 2 Å.
 * HETATM residues overlapping the ligand (the ligand's own copy in the PDB) are left out.
 * @throws InputError when the ligand is farther than `radius` from every protein atom, or
 *   spreads over more than MAX_LIGAND_EXTENT Å from its centre
 */
export function pocketFromLigand(protein: Protein, ligand: Molecule, radius: number, ligandSource: string): PocketSite {
  const idx = ligandHeavy(ligand);
  const centre: [number, number, number] = [0, 0, 0];
  for (const i of idx) for (let d = 0; d < 3; d++) centre[d] += ligand.positions[i * 3 + d] / idx.length;
  let extent = 0;
  for (const i of idx) extent = Math.max(extent, Math.hypot(...[0, 1, 2].map((d) => ligand.positions[i * 3 + d] - centre[d])));
  // the largest drug-like ligands reach about 15 Å from their centre; far more is broken coordinates
  if (extent > MAX_LIGAND_EXTENT) throw new InputError(`reference ligand has atoms ${extent.toFixed(1)} Å from its centre (more than ${MAX_LIGAND_EXTENT} Å): broken or misplaced coordinates, or not one ligand`, ligandSource);
  const self = new Set<string>();
  let nearest = Infinity;
  for (const a of protein.atoms) {
    for (const i of idx) {
      const d2 = dist2(a, ligand.positions, i * 3);
      if (a.hetero && d2 < SAME_LIGAND ** 2) self.add(residueKey(a));
      if (!a.hetero || !self.has(residueKey(a))) nearest = Math.min(nearest, d2);
    }
  }
  const r2 = radius * radius;
  const atoms = residuesWhere(protein.atoms, (a) => idx.some((i) => dist2(a, ligand.positions, i * 3) <= r2), self);
  if (atoms.length === 0) {
    throw new InputError(
      `reference ligand is ${Math.sqrt(nearest).toFixed(1)} Å from the nearest protein atom of ${protein.source}, ` +
        `farther than --radius ${radius} Å: is it from this structure (same coordinate frame)?`,
      ligandSource,
    );
  }
  return site(atoms, centre, extent + REGION_MARGIN, `residues within ${radius} Å of ${ligandSource}`);
}

/**
 * Pocket = residues with any atom within `radius` of `centre`; region = a ball of
 * `regionRadius` (default 6 Å) there.
 * @throws InputError when no protein atom is within `radius`
 */
export function pocketFromCentre(protein: Protein, centre: [number, number, number], radius: number, regionRadius = DEFAULT_REGION_RADIUS): PocketSite {
  const r2 = radius * radius;
  const atoms = residuesWhere(protein.atoms, (a) => dist2(a, centre, 0) <= r2);
  if (atoms.length === 0) {
    throw new InputError(`no protein atom within ${radius} Å of the centre ${centre.join(',')}`, protein.source);
  }
  return site(atoms, centre, regionRadius, `residues within ${radius} Å of (${centre.join(', ')})`);
}

/**
 * A pre-cut pocket taken as is: centre = centroid of its heavy atoms, region = a ball of
 * `regionRadius` (default 6 Å).
 */
export function pocketAsIs(protein: Protein, regionRadius = DEFAULT_REGION_RADIUS): PocketSite {
  const heavy = heavyPositions(protein.atoms);
  const n = heavy.length / 3;
  const centre: [number, number, number] = [0, 0, 0];
  for (let i = 0; i < n; i++) for (let d = 0; d < 3; d++) centre[d] += heavy[i * 3 + d] / n;
  return site(protein.atoms, centre, regionRadius, `the whole of ${protein.source}`);
}
