/**
 * What a chemist filters generated molecules on, as SDF data fields: validity, fragments, and
 * canonical SMILES with implicit hydrogens (RDKit's, as any tool prints them) of the whole
 * molecule and of its largest fragment. EDM's protocol keeps its own explicit-hydrogen SMILES
 * for uniqueness and novelty; these are for reading and filtering (RDKit, KNIME, pandas).
 */
import type { MainModule as RDKitModule } from '@rdkit/rdkit';
import type { DecodedMolecule } from '../decode/write.js';
import type { MoleculeOutcome } from './evaluate.js';
import { sanitizedSmiles } from './rdkit.js';
import { checkValidity, graphMolBlock } from './validity.js';
import type { Bond } from '../data/molecule.js';

/** Canonical SMILES with implicit hydrogens of a SMILES that may spell them out, or undefined. */
export function implicitHSmiles(rdkit: RDKitModule, smiles: string): string | undefined {
  const mol = rdkit.get_mol(smiles);
  try {
    return mol && mol.is_valid() ? mol.get_smiles() : undefined;
  } finally {
    mol?.delete();
  }
}

/**
 * SDF data fields of a scored molecule: `valid` (EDM's validity, 0/1), `fragments`,
 * `connected` (valid and one fragment, 0/1), and when RDKit sanitizes them `smiles` (the whole
 * molecule, fragments joined by '.') and `largest_fragment_smiles`, canonical with implicit
 * hydrogens. They describe the record's own bond block: for a bond-aware model's molecule
 * (`modelBonds`, which the SDF holds) they are computed on those bonds, and EDM's verdict on the
 * distance-inferred bonds is kept beside them as `edm_valid`, `edm_fragments` and `edm_smiles`.
 * @param outcome the evaluator's verdict on `m` (decode/write.ts bonds, inferred from distances)
 */
export function chemistFields(rdkit: RDKitModule, m: DecodedMolecule, outcome: MoleculeOutcome): Record<string, string | number> {
  if (!m.modelBonds) return bondFields(rdkit, m.elements, m.bonds, outcome);
  const own = checkValidity(rdkit, m, m.modelBonds);
  const edm = bondFields(rdkit, m.elements, m.bonds, outcome);
  return {
    ...bondFields(rdkit, m.elements, m.modelBonds, { valid: own.valid, fragments: own.fragments, smiles: own.smiles }),
    edm_valid: edm.valid,
    edm_fragments: edm.fragments,
    ...(edm.smiles !== undefined ? { edm_smiles: edm.smiles } : {}),
  };
}

/** The fields of one bond graph and its verdict (valid, fragments, largest fragment's SMILES). */
function bondFields(rdkit: RDKitModule, elements: string[], bonds: Bond[], verdict: Pick<MoleculeOutcome, 'valid' | 'fragments' | 'smiles'>): Record<string, string | number> {
  const fields: Record<string, string | number> = { valid: verdict.valid ? 1 : 0, fragments: verdict.fragments, connected: verdict.valid && verdict.fragments === 1 ? 1 : 0 };
  const whole = sanitizedSmiles(rdkit, graphMolBlock(elements, bonds));
  const smiles = whole === null ? undefined : implicitHSmiles(rdkit, whole);
  if (smiles) fields.smiles = smiles;
  const largest = verdict.smiles === undefined ? undefined : verdict.fragments === 1 ? smiles : implicitHSmiles(rdkit, verdict.smiles);
  if (largest) fields.largest_fragment_smiles = largest;
  return fields;
}

/** Which molecules a run writes (`edm sample --keep`); the metrics always cover all of them. */
export type KeepRule = 'all' | 'valid' | 'stable' | 'connected';

/**
 * Whether a molecule passes `rule` (`stable`: molecule stability), judged on the bonds its record
 * holds (a bond-aware model's own, else EDM's distance-inferred ones); call after `chemistFields`.
 */
export function keeps(rule: KeepRule, m: DecodedMolecule, outcome: MoleculeOutcome | undefined): boolean {
  if (rule === 'all') return true;
  // a bond-aware model's record holds its own bonds: it is kept on what its fields say of them
  if (rule === 'stable') return (m.modelStability ?? m.stability).moleculeStable;
  const fields = m.properties;
  if (m.modelBonds && fields && typeof fields.valid === 'number') return rule === 'valid' ? fields.valid === 1 : fields.connected === 1;
  if (!outcome) return false;
  return rule === 'valid' ? outcome.valid : outcome.valid && outcome.fragments === 1;
}
