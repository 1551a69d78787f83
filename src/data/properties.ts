/**
 * Molecular properties as model input (EDM, Hoogeboom et al. 2022 Sec. 5.3; reference:
 * qm9/utils.py `prepare_context`): a molecule's value of a property, and the per-node context a
 * batch of property-conditioned molecules carries.
 */
import type { PropertyConditioning } from '../config.js';
import { InputError } from '../errors.js';
import type { Molecule } from './molecule.js';

/** Names of the properties a model can be conditioned on (EDM's Table 3, Hoogeboom et al. 2022). */
export const PROPERTY_NAMES = ['alpha', 'gap', 'homo', 'lumo', 'mu'] as const;

/** A property name. */
export type PropertyName = (typeof PROPERTY_NAMES)[number];

/** Units of each property as labelled here (energies in eV; EDM's table gives meV). */
export const PROPERTY_UNITS: Record<PropertyName, string> = { alpha: 'bohr^3', gap: 'eV', homo: 'eV', lumo: 'eV', mu: 'D' };

/** Whether a string names a known property. */
export const isPropertyName = (s: string): s is PropertyName => (PROPERTY_NAMES as readonly string[]).includes(s);

/**
 * A molecule's value of a property: its numeric `properties[name]` (set from a labels file by
 * `attachLabels`, or read from an SDF data field).
 * @returns the value, or undefined when it has none or it is not a finite number
 */
export function propertyValue(m: Molecule, name: string): number | undefined {
  const v = m.properties?.[name];
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : undefined;
}

/**
 * The per-node context `[B, N, P]` of molecules with given property values: each property's
 * normalised value on every real atom, zero at padding (EDM's `prepare_context`).
 * @param c the model's conditioning
 * @param values `[B * P]` raw values (in the properties' units), molecule-major
 * @param nNodes real atoms per molecule `[B]`
 * @param N padded size
 */
export function propertyContext(c: PropertyConditioning, values: ArrayLike<number>, nNodes: ArrayLike<number>, N: number): Float32Array {
  const P = c.properties.length;
  const B = nNodes.length;
  if (values.length !== B * P) throw new RangeError(`property values: ${values.length}, expected [${B}, ${P}]`);
  const out = new Float32Array(B * N * P);
  for (let b = 0; b < B; b++) {
    for (let p = 0; p < P; p++) {
      const { mean, mad } = c.properties[p];
      const v = (values[b * P + p] - mean) / mad;
      for (let i = 0; i < nNodes[b]; i++) out[(b * N + i) * P + p] = v;
    }
  }
  return out;
}

/**
 * The property values `[B * P]` of training molecules, in the conditioning's order.
 * @throws InputError naming the molecule and property when a value is missing
 */
export function moleculeValues(c: PropertyConditioning, mols: Molecule[]): Float64Array {
  const P = c.properties.length;
  const out = new Float64Array(mols.length * P);
  mols.forEach((m, b) => c.properties.forEach((p, k) => (out[b * P + k] = requiredValue(m, b, p.name, 'the model is conditioned on'))));
  return out;
}

/**
 * A molecule's value of a property that must be there.
 * @param b the molecule's index (named when it has no name)
 * @param why what needs the value, for the message
 * @throws InputError naming the molecule and property when the value is missing
 */
export function requiredValue(m: Molecule, b: number, name: string, why: string): number {
  const v = propertyValue(m, name);
  if (v === undefined) throw new InputError(`molecule ${m.name ?? b + 1} has no value of ${name}, which ${why}`);
  return v;
}

/**
 * A property regressor's targets `[B]`: each molecule's value, normalised as (value - mean) / mad.
 * @throws InputError naming the molecule when it has no value of the property
 */
export function regressorTargets(p: { name: string; mean: number; mad: number }, mols: Molecule[]): Float32Array {
  return Float32Array.from(mols, (m, b) => (requiredValue(m, b, p.name, 'the regressor is trained on') - p.mean) / p.mad);
}
