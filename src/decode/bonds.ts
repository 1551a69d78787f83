/**
 * Bonds and stability from 3D positions (EDM's protocol: qm9/bond_analyze.get_bond_order and
 * qm9/analyze.check_stability).
 */
import type { Bond, Molecule } from '../data/molecule.js';
import { ALLOWED_VALENCE, BOND_MARGIN_PM, DOUBLE_BOND_PM, SINGLE_BOND_PM, TRIPLE_BOND_PM, angstromToPm } from './bond-tables.js';
import { EDM_DATASETS } from '../checkpoint/edm-datasets.js';

/**
 * How EDM's analysis turns positions into bonds and judges validity: its QM9 analysis, or its
 * GEOM-Drugs analysis (qm9/analyze.py `check_stability` with `dataset_info['name'] == 'geom'`,
 * and `build_molecule` with `limit_bonds_to_one`).
 */
export interface BondProtocol {
  name: 'qm9' | 'geom';
  /**
   * GEOM: each pair's two elements are looked up in the order of their type indices in this
   * list (EDM sorts the pair's type indices; the tables are not symmetric, e.g. a C-S double
   * bond exists only as C then S)
   */
  pairOrder?: readonly string[];
  /** GEOM: validity (RDKit) is judged with every bond single */
  singleBondValidity?: boolean;
}

/** EDM's QM9 analysis (the default). */
export const QM9_PROTOCOL: BondProtocol = { name: 'qm9' };

/** EDM's GEOM-Drugs analysis: sorted pairs by GEOM's type order, validity on single bonds. */
export const GEOM_PROTOCOL: BondProtocol = { name: 'geom', pairOrder: EDM_DATASETS.geom.atomDecoder!, singleBondValidity: true };

/** The protocol of a dataset name (a checkpoint's `dataset.name`): GEOM's for `geom`, else QM9's. */
export const protocolOf = (dataset: string): BondProtocol => (dataset === 'geom' ? GEOM_PROTOCOL : QM9_PROTOCOL);

/**
 * Bond order 0-3 of two atoms at a distance: single if d < l1 + 10 pm, double if also
 * d < l2 + 5 pm, triple if also d < l3 + 3 pm. Pairs without a typical length get 0.
 * @param distanceAngstrom interatomic distance, Å
 */
export function bondOrder(a: string, b: string, distanceAngstrom: number): number {
  const d = angstromToPm(distanceAngstrom);
  const l1 = SINGLE_BOND_PM[a]?.[b];
  if (l1 === undefined || !(d < l1 + BOND_MARGIN_PM.single)) return 0;
  const l2 = DOUBLE_BOND_PM[a]?.[b];
  if (l2 === undefined || !(d < l2 + BOND_MARGIN_PM.double)) return 1;
  const l3 = TRIPLE_BOND_PM[a]?.[b];
  if (l3 === undefined || !(d < l3 + BOND_MARGIN_PM.triple)) return 2;
  return 3;
}

/** Distance between atoms i and j of a molecule, Å. */
export function distance(m: Molecule, i: number, j: number): number {
  const p = m.positions;
  const dx = p[i * 3] - p[j * 3];
  const dy = p[i * 3 + 1] - p[j * 3 + 1];
  const dz = p[i * 3 + 2] - p[j * 3 + 2];
  return Math.sqrt(dx * dx + dy * dy + dz * dz);
}

/** Each element's index in a pair order, built once per order (inferBonds runs per molecule). */
const ranks = new WeakMap<readonly string[], Map<string, number>>();
function rankOf(order: readonly string[]): Map<string, number> {
  let r = ranks.get(order);
  if (!r) ranks.set(order, (r = new Map(order.map((e, k) => [e, k]))));
  return r;
}

/**
 * All bonds of a molecule inferred from distances (every pair i < j with order > 0). QM9's
 * analysis looks the pair up as (atom i, atom j), where the tables are symmetric for the elements
 * they share; GEOM's orders each pair by type index (`protocol.pairOrder`).
 */
export function inferBonds(m: Molecule, protocol: BondProtocol = QM9_PROTOCOL): Bond[] {
  const bonds: Bond[] = [];
  const n = m.elements.length;
  const rank = protocol.pairOrder && rankOf(protocol.pairOrder);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      let [a, b] = [m.elements[i], m.elements[j]];
      if (rank && (rank.get(a) ?? Infinity) > (rank.get(b) ?? Infinity)) [a, b] = [b, a];
      const order = bondOrder(a, b, distance(m, i, j));
      if (order > 0) bonds.push({ i, j, order });
    }
  }
  return bonds;
}

/** Stability of one molecule. */
export interface Stability {
  /** every atom has an allowed valence */
  moleculeStable: boolean;
  /** atoms with an allowed valence */
  stableAtoms: number;
  atoms: number;
  /** sum of bond orders per atom */
  valences: number[];
}

/** Whether a valence is allowed for an element (unknown elements are never stable). */
export function valenceAllowed(element: string, valence: number): boolean {
  const allowed = ALLOWED_VALENCE[element];
  if (allowed === undefined) return false;
  return Array.isArray(allowed) ? allowed.includes(valence) : allowed === valence;
}

/** Parity (0 or 1) of each element's allowed valences, for the elements whose valences share one. */
const VALENCE_PARITY = new Map(
  Object.entries(ALLOWED_VALENCE).flatMap(([e, allowed]) => {
    const parities = new Set((Array.isArray(allowed) ? allowed : [allowed]).map((v) => v % 2));
    return parities.size === 1 ? [[e, [...parities][0]] as const] : [];
  }),
);

/**
 * Whether no bond graph at all can make a molecule of these elements stable, by parity: the
 * valences of any bond graph sum to twice its bond orders, an even number, so when every
 * element's allowed valences share one parity and those parities sum to an odd number, some atom
 * must be off (e.g. C2H5: a hydrogen too few or too many for the heavy atoms). This separates a
 * generator's composition errors from its geometry errors. Elements with allowed valences of both
 * parities (Hg) or unknown elements never make a molecule impossible by parity.
 * @param elements element symbols, `[N]`
 */
export function oddValenceSum(elements: readonly string[]): boolean {
  let parity = 0;
  for (const e of elements) {
    const p = VALENCE_PARITY.get(e);
    if (p === undefined) return false;
    parity ^= p;
  }
  return parity === 1;
}

/** MDL's bond type for an aromatic bond (an SDF's bond block may hold it; EDM's bonds are 1-3). */
export const AROMATIC = 4;

/**
 * Atom and molecule stability (EDM check_stability); an aromatic bond (type 4) counts 1.5.
 * @param bonds bonds of the molecule (default: inferred from distances)
 */
export function stability(m: Molecule, bonds: Bond[] = inferBonds(m)): Stability {
  const valences = new Array<number>(m.elements.length).fill(0);
  for (const b of bonds) {
    // MDL's bond type 4 is aromatic: 1.5 to each atom (benzene's carbons then sum to 4)
    const v = b.order === AROMATIC ? 1.5 : b.order;
    valences[b.i] += v;
    valences[b.j] += v;
  }
  let stableAtoms = 0;
  m.elements.forEach((e, i) => {
    if (valenceAllowed(e, valences[i])) stableAtoms++;
  });
  return { moleculeStable: stableAtoms === m.elements.length, stableAtoms, atoms: m.elements.length, valences };
}
