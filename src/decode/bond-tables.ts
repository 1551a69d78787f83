/**
 * Typical covalent bond lengths in picometres, for bond-order inference.
 *
 * Source: the tables of EDM's evaluation protocol (Hoogeboom et al. 2022, code qm9/bond_analyze.py),
 * compiled from standard bond-length references (Allen et al., "Tables of bond lengths determined
 * by X-ray and neutron diffraction", J. Chem. Soc. Perkin Trans. 2, 1987; CRC Handbook of
 * Chemistry and Physics, "Bond lengths"). They must stay identical to EDM's so that
 * stability and validity are comparable with published numbers.
 */

/** Typical single bond lengths, pm. */
export const SINGLE_BOND_PM: Record<string, Record<string, number>> = {
  H: { H: 74, C: 109, N: 101, O: 96, F: 92, B: 119, Si: 148, P: 144, As: 152, S: 134, Cl: 127, Br: 141, I: 161 },
  C: { H: 109, C: 154, N: 147, O: 143, F: 135, Si: 185, P: 184, S: 182, Cl: 177, Br: 194, I: 214 },
  N: { H: 101, C: 147, N: 145, O: 140, F: 136, Cl: 175, Br: 214, S: 168, I: 222, P: 177 },
  O: { H: 96, C: 143, N: 140, O: 148, F: 142, Br: 172, S: 151, P: 163, Si: 163, Cl: 164, I: 194 },
  F: { H: 92, C: 135, N: 136, O: 142, F: 142, S: 158, Si: 160, Cl: 166, Br: 178, P: 156, I: 187 },
  B: { H: 119, Cl: 175 },
  Si: { Si: 233, H: 148, C: 185, O: 163, S: 200, F: 160, Cl: 202, Br: 215, I: 243 },
  Cl: { Cl: 199, H: 127, C: 177, N: 175, O: 164, P: 203, S: 207, B: 175, Si: 202, F: 166, Br: 214 },
  S: { H: 134, C: 182, N: 168, O: 151, S: 204, F: 158, Cl: 207, Br: 225, Si: 200, P: 210, I: 234 },
  Br: { Br: 228, H: 141, C: 194, O: 172, N: 214, Si: 215, S: 225, F: 178, Cl: 214, P: 222 },
  P: { P: 221, H: 144, C: 184, O: 163, Cl: 203, S: 210, F: 156, N: 177, Br: 222 },
  I: { H: 161, C: 214, Si: 243, N: 222, O: 194, S: 234, F: 187, I: 266 },
  As: { H: 152 },
};

/** Typical double bond lengths, pm. */
export const DOUBLE_BOND_PM: Record<string, Record<string, number>> = {
  C: { C: 134, N: 129, O: 120, S: 160 },
  N: { C: 129, N: 125, O: 121 },
  O: { C: 120, N: 121, O: 121, P: 150 },
  P: { O: 150, S: 186 },
  S: { P: 186 },
};

/** Typical triple bond lengths, pm. */
export const TRIPLE_BOND_PM: Record<string, Record<string, number>> = {
  C: { C: 120, N: 116, O: 113 },
  N: { C: 116, N: 110 },
  O: { C: 113 },
};

/**
 * Margins added to the typical lengths, pm (EDM: "tuned to maximise the stability of the QM9
 * true samples"; EDM qm9/bond_analyze.py).
 */
export const BOND_MARGIN_PM = { single: 10, double: 5, triple: 3 } as const;

/** Allowed valences (sum of bond orders) per element (EDM allowed_bonds). */
export const ALLOWED_VALENCE: Record<string, number | number[]> = {
  H: 1, C: 4, N: 3, O: 2, F: 1, B: 3, Al: 3, Si: 4, P: [3, 5], S: 4, Cl: 1, As: 3, Br: 1, I: 1, Hg: [1, 2], Bi: [3, 5],
};

/** Å to pm, the one conversion between the units of positions and of the tables. */
export const angstromToPm = (distanceAngstrom: number): number => distanceAngstrom * 100;

/** Elements the decoder and metrics know (typical bond lengths exist for them). */
export const EVALUATION_ELEMENTS = Object.keys(SINGLE_BOND_PM);
