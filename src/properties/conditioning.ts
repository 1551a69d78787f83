/**
 * Property conditioning (EDM, Hoogeboom et al. 2022 Sec. 5.3; reference: main_qm9.py,
 * qm9/utils.py `compute_mean_mad`, `DistributionProperty`): the normalisation of each property
 * and EDM's protocol of drawing the property and the atom count together (the per-node context
 * itself is data/properties.ts).
 */
import type { ConditionedProperty, PropertyConditioning, PropertyHistogram } from '../config.js';
import { InputError, OptionError } from '../errors.js';
import { propertyValue } from '../data/properties.js';
import type { Molecule } from '../data/molecule.js';
import type { Rng } from '../random.js';

/** Bins of EDM's `DistributionProperty` histograms (its `num_bins`). */
export const PROPERTY_BINS = 1000;

/** Mean and mean absolute deviation of values (EDM's `compute_mean_mad_from_dataloader`). */
export function meanMad(values: ArrayLike<number>): { mean: number; mad: number } {
  let mean = 0;
  for (let i = 0; i < values.length; i++) mean += values[i] / values.length;
  let mad = 0;
  for (let i = 0; i < values.length; i++) mad += Math.abs(values[i] - mean) / values.length;
  return { mean, mad };
}

/** Smallest and largest of values (a loop: spreading tens of thousands of arguments can overflow the stack). */
function extent(values: number[]): [number, number] {
  let [min, max] = [Infinity, -Infinity];
  for (const v of values) [min, max] = [Math.min(min, v), Math.max(max, v)];
  return [min, max];
}

/**
 * Per atom count, a histogram of the values in `bins` equal bins over their range (EDM's
 * `DistributionProperty._create_prob_dist`).
 * @param pairs `[atom count, value]` of every training molecule
 */
export function propertyHistograms(pairs: Array<[number, number]>, bins = PROPERTY_BINS): Record<string, PropertyHistogram> {
  const byN = new Map<number, number[]>();
  for (const [n, v] of pairs) {
    const vs = byN.get(n);
    if (vs) vs.push(v);
    else byN.set(n, [v]);
  }
  const out: Record<string, PropertyHistogram> = {};
  for (const [n, vs] of [...byN].sort((a, b) => a[0] - b[0])) {
    const [min, max] = extent(vs);
    const counts = new Array<number>(bins).fill(0);
    // EDM's binning exactly (DistributionProperty._create_prob_given_nodes): int((v - min) /
    // (max - min + 1e-12) * bins), the maximum clamped into the last bin
    for (const v of vs) counts[Math.min(bins - 1, Math.floor(((v - min) / (max - min + 1e-12)) * bins))]++;
    out[String(n)] = { min, max, counts };
  }
  return out;
}

/**
 * The conditioning of a new model on `names`: mean and MAD from `normSet` (EDM: QM9's validation
 * split), range and per-size histograms from the training molecules.
 * @throws InputError naming the property when a training or normalising molecule lacks a value
 */
export function buildPropertyConditioning(names: string[], units: Record<string, string>, train: Molecule[], normSet: Molecule[], source?: string): PropertyConditioning {
  const values = (mols: Molecule[], name: string, what: string): number[] =>
    mols.map((m, i) => {
      const v = propertyValue(m, name);
      if (v === undefined) throw new InputError(`${what} molecule ${m.name ?? i + 1} has no value of ${name}`);
      return v;
    });
  const properties: ConditionedProperty[] = names.map((name) => {
    const tv = values(train, name, 'training');
    const { mean, mad } = meanMad(values(normSet, name, 'normalising'));
    if (!(mad > 0)) throw new InputError(`${name}: every normalising molecule has the same value, so it cannot be normalised`);
    const range = extent(tv);
    const distribution = propertyHistograms(train.map((m, i) => [m.elements.length, tv[i]]));
    return { name, unit: units[name] ?? '', mean, mad, range, distribution, ...(source ? { source } : {}) };
  });
  return { kind: 'properties', properties };
}

/**
 * Draw one property value for a molecule of `nAtoms` atoms from the training distribution (EDM's
 * `DistributionProperty.sample`: a bin by its count, then uniformly within it).
 * @throws OptionError when the model has no distribution for this property or size
 */
export function drawProperty(p: ConditionedProperty, nAtoms: number, rng: Rng): number {
  const h = p.distribution?.[String(nAtoms)];
  if (!h) throw new OptionError(`${p.name}: the model has no training molecules of ${nAtoms} atoms to draw a value from (give a value: --condition ${p.name}=VALUE)`);
  const total = h.counts.reduce((s, v) => s + v, 0);
  let r = rng.uniform() * total;
  let bin = 0;
  while (bin < h.counts.length - 1 && r >= h.counts[bin]) r -= h.counts[bin++];
  return histogramValue(h, bin, rng.uniform());
}

/** The value at fraction `u` of bin `bin` of a histogram (EDM's `DistributionProperty._idx2value`). */
export function histogramValue(h: PropertyHistogram, bin: number, u: number): number {
  return h.min + ((bin + u) / h.counts.length) * (h.max - h.min);
}

/**
 * A condition as users type it: `alpha=70,gap=4.5` (values in the properties' units) or `gap`
 * (draw the value with the atom count, EDM's protocol), as the plan's `condition`.
 * @throws OptionError for an empty item, a repeated name or a value that is not a finite number
 */
export function parseCondition(text: string): Record<string, number | 'draw'> {
  const out: Record<string, number | 'draw'> = {};
  for (const item of text.split(',')) {
    const [name, value, extra] = item.split('=').map((s) => s.trim());
    if (!name || extra !== undefined || value === '') throw new OptionError(`--condition ${text}: give name=value or a name, comma separated (e.g. gap=4.5)`);
    if (name in out) throw new OptionError(`--condition ${text}: ${name} is given twice`);
    const v = value === undefined ? 'draw' : Number(value);
    if (v !== 'draw' && !Number.isFinite(v)) throw new OptionError(`--condition ${name}=${value}: not a finite number`);
    out[name] = v;
  }
  return out;
}
