/**
 * The one adapter to RDKit's WebAssembly module (@rdkit/rdkit MinimalLib). Loaded once per
 * process; every RDKit molecule is deleted in a `finally`, and JSON results are parsed here.
 */
import initRDKitModule from '@rdkit/rdkit';
import type { MainModule } from '@rdkit/rdkit';

/** The loaded RDKit MinimalLib module. */
export type RDKitModule = MainModule;

let loading: Promise<RDKitModule> | undefined;

/** The RDKit module, initialised on first use. */
export function loadRDKit(): Promise<RDKitModule> {
  loading ??= (initRDKitModule as unknown as () => Promise<RDKitModule>)();
  return loading;
}

/** Options used for every molblock: keep explicit hydrogens (EDM builds RWMols with them). */
const MOL_DETAILS = JSON.stringify({ removeHs: false, sanitize: true });

/**
 * Sanitise a V2000 molblock and return its canonical SMILES (explicit H atoms kept), or null
 * if RDKit's sanitisation fails (EDM mol2smiles: Chem.SanitizeMol then Chem.MolToSmiles).
 */
export function sanitizedSmiles(rdkit: RDKitModule, molblock: string): string | null {
  const mol = rdkit.get_mol(molblock, MOL_DETAILS);
  try {
    if (!mol || !mol.is_valid()) return null;
    return mol.get_smiles();
  } finally {
    mol?.delete();
  }
}

/**
 * SVG depiction (2D) of a SMILES, without explicit hydrogens for readability.
 * @returns SVG text, or null if RDKit cannot parse it
 */
export function depictSmiles(rdkit: RDKitModule, smiles: string, width: number, height: number): string | null {
  const mol = rdkit.get_mol(smiles);
  try {
    if (!mol || !mol.is_valid()) return null;
    return mol.get_svg(width, height);
  } finally {
    mol?.delete();
  }
}

/** The RDKit version, for cache keys and reports. */
export async function rdkitVersion(): Promise<string> {
  return (await loadRDKit()).version();
}

/**
 * RDKit's descriptor set of a molecule (MinimalLib `get_descriptors`: amw, CrippenClogP,
 * NumHBA, NumHBD, tpsa, NumRotatableBonds, NumAromaticRings, ...).
 * @param input SMILES or molblock
 * @returns the descriptors, or null when RDKit cannot read the input
 */
export function rdkitDescriptors(rdkit: RDKitModule, input: string): Record<string, number> | null {
  const mol = rdkit.get_mol(input);
  try {
    if (!mol || !mol.is_valid()) return null;
    return JSON.parse(mol.get_descriptors()) as Record<string, number>;
  } finally {
    mol?.delete();
  }
}

/**
 * Atom count of a molblock once RDKit has added its implicit hydrogens.
 * @returns the count, or null when RDKit cannot read the molblock
 */
export function atomsWithHydrogens(rdkit: RDKitModule, molblock: string): number | null {
  const mol = rdkit.get_mol(molblock);
  if (!mol || !mol.is_valid()) {
    mol?.delete();
    return null;
  }
  const withH = rdkit.get_mol(mol.add_hs());
  try {
    return withH && withH.is_valid() ? withH.get_num_atoms() : null;
  } finally {
    withH?.delete();
    mol.delete();
  }
}
