/**
 * What a model is trained on: molecules (QM9 or a user's files) or, for a pocket-conditioned
 * model, complexes (a ligand and its pocket nodes). One batch maker for both, chosen by the
 * model's config, so the trainer, its gradient engines and the validation NLL share every line.
 */
import { type EdmConfig, bondClasses, pocketConditioning, propertyConditioning } from '../config.js';
import { moleculeValues, propertyContext, regressorTargets } from './properties.js';
import { InputError } from '../errors.js';
import { type Batch, makeBatch } from './batch.js';
import { type ComplexExample, makeComplexBatch } from './complex.js';
import type { Molecule } from './molecule.js';

/** One training example: a molecule, or a complex for a pocket-conditioned model. Plain data (crosses worker boundaries). */
export type TrainingExample = Molecule | ComplexExample;

/** Whether an example is a complex (ligand + pocket nodes). */
export const isComplex = (e: TrainingExample): e is ComplexExample => 'ligand' in e && 'pocket' in e;

/** Nodes of an example's graph: its atoms, or the ligand's atoms plus the pocket nodes (what a batch pads to). */
export const exampleNodes = (e: TrainingExample): number => (isComplex(e) ? e.ligand.elements.length + e.pocket.elements.length : e.elements.length);

/** Atoms an example's model generates: the molecule's, or the ligand's (the size histogram's unit). */
export const exampleAtoms = (e: TrainingExample): number => (isComplex(e) ? e.ligand.elements.length : e.elements.length);

/**
 * The dense batch of examples for a model: molecules as `makeBatch` (with their properties as
 * per-node context for a property-conditioned model), complexes as `makeComplexBatch` with the
 * config's pocket conditioning.
 * @throws InputError when the examples do not fit the model (complexes for an unconditioned
 *   model or molecules for a pocket model), for an element outside the atom decoder, or a
 *   molecule without a value of a conditioned property
 */
export function makeTrainingBatch(config: EdmConfig, examples: TrainingExample[]): Batch {
  const c = pocketConditioning(config);
  const complexes = examples.filter(isComplex);
  if (c) {
    if (complexes.length !== examples.length) throw new InputError('a pocket-conditioned model trains on complexes (ligand + pocket), not on molecules alone');
    return makeComplexBatch(complexes, config.dataset.atomDecoder, c);
  }
  if (complexes.length > 0) throw new InputError('complexes (ligand + pocket) train a pocket-conditioned model; this config has no conditioning');
  const mols = examples as Molecule[];
  const r = config.regressor;
  if (r) return { ...makeBatch(mols, config.dataset.atomDecoder), targets: regressorTargets(r.property, mols) };
  const props = propertyConditioning(config);
  if (!props) return makeBatch(mols, config.dataset.atomDecoder, undefined, bondClasses(config));
  const N = Math.max(...mols.map((m) => m.elements.length));
  const nNodes = mols.map((m) => m.elements.length);
  const context = { values: propertyContext(props, moleculeValues(props, mols), nNodes, N), dim: props.properties.length };
  return makeBatch(mols, config.dataset.atomDecoder, N, bondClasses(config), context);
}
