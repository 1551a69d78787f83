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
import { graphMolBlock } from './validity.js';

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
 * hydrogens.
 * @param outcome the evaluator's verdict on `m` (decode/write.ts bonds)
 */
export function chemistFields(rdkit: RDKitModule, m: DecodedMolecule, outcome: MoleculeOutcome): Record<string, string | number> {
  const fields: Record<string, string | number> = { valid: outcome.valid ? 1 : 0, fragments: outcome.fragments, connected: outcome.valid && outcome.fragments === 1 ? 1 : 0 };
  const whole = sanitizedSmiles(rdkit, graphMolBlock(m.elements, m.bonds));
  const smiles = whole === null ? undefined : implicitHSmiles(rdkit, whole);
  if (smiles) fields.smiles = smiles;
  const largest = outcome.smiles === undefined ? undefined : outcome.fragments === 1 ? smiles : implicitHSmiles(rdkit, outcome.smiles);
  if (largest) fields.largest_fragment_smiles = largest;
  return fields;
}

/** Which molecules a run writes (`edm sample --keep`); the metrics always cover all of them. */
export type KeepRule = 'all' | 'valid' | 'stable' | 'connected';

/** Whether a molecule passes `rule` (`stable`: EDM's molecule stability). */
export function keeps(rule: KeepRule, m: DecodedMolecule, outcome: MoleculeOutcome | undefined): boolean {
  if (rule === 'all') return true;
  if (rule === 'stable') return m.stability.moleculeStable;
  if (!outcome) return false;
  return rule === 'valid' ? outcome.valid : outcome.valid && outcome.fragments === 1;
}
