/**
 * Checking property-conditioned molecules by computing their properties (beyond EDM, which asks a
 * learned classifier): GFN2-xTB on each molecule's own elements and positions, compared with the
 * value it was asked for (its `target_<name>` field). Open-shell molecules (an odd electron count)
 * are not scored: xtb's closed-shell gap collapses on them.
 */
import { ATOMIC_NUMBER } from '../data/batch.js';
import type { Molecule } from '../data/molecule.js';
import { propertyValue } from '../data/properties.js';
import { type PropertyName, isPropertyName } from './labels.js';
import { type XtbProperties, type XtbRunOptions, runXtb } from './xtb.js';

/** Electrons of a neutral molecule (the sum of its atomic numbers), or NaN for an unknown element. */
export function electronCount(m: Molecule): number {
  return m.elements.reduce((s, e) => s + (ATOMIC_NUMBER[e] ?? NaN), 0);
}

/** The properties a molecule was asked for: `target_<name>` fields naming known properties. */
export function targetsOf(m: Molecule): Partial<Record<PropertyName, number>> {
  const out: Partial<Record<PropertyName, number>> = {};
  for (const k of Object.keys(m.properties ?? {})) {
    const name = k.replace(/^target_/, '');
    if (k.startsWith('target_') && isPropertyName(name)) {
      const v = propertyValue(m, k);
      if (v !== undefined) out[name] = v;
    }
  }
  return out;
}

/** One molecule's check: its computed properties, or why there are none. */
export type PropertyCheck = { properties: XtbProperties } | { skipped: 'open shell' | 'unknown element' } | { failed: string };

/**
 * Compute xtb properties of molecules, several processes at once; results in input order.
 * @param jobs xtb processes at once (default 2)
 * @param onDone progress after each molecule
 * @throws InputError when xtb is not installed
 */
export async function computeProperties(mols: Molecule[], opts: XtbRunOptions & { jobs?: number; onDone?: (done: number) => void } = {}): Promise<PropertyCheck[]> {
  const out = new Array<PropertyCheck>(mols.length);
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < mols.length; i = next++) {
      const ne = electronCount(mols[i]);
      if (!Number.isFinite(ne)) out[i] = { skipped: 'unknown element' };
      else if (ne % 2 === 1) out[i] = { skipped: 'open shell' };
      else {
        const r = await runXtb(mols[i], opts);
        out[i] = 'error' in r ? { failed: r.error } : { properties: r };
      }
      opts.onDone?.(++done);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.jobs ?? 2) }, worker));
  return out;
}

/** The mean absolute error of one property over the molecules that asked for it. */
export interface PropertyError {
  property: PropertyName;
  /** molecules with a target of this property */
  asked: number;
  /** of those, the ones xtb computed (closed shell, converged): the MAE's count */
  computed: number;
  /** mean |target - computed| in the property's unit (NaN when none computed) */
  mae: number;
}

/**
 * MAE between each molecule's asked and computed values, per property.
 * @param checks `computeProperties` of the same molecules
 */
export function propertyErrors(mols: Molecule[], checks: PropertyCheck[]): PropertyError[] {
  const acc = new Map<PropertyName, { asked: number; computed: number; sum: number }>();
  mols.forEach((m, i) => {
    for (const [name, target] of Object.entries(targetsOf(m)) as Array<[PropertyName, number]>) {
      const a = acc.get(name) ?? { asked: 0, computed: 0, sum: 0 };
      a.asked++;
      const c = checks[i];
      if ('properties' in c) {
        a.computed++;
        a.sum += Math.abs(target - c.properties[name]);
      }
      acc.set(name, a);
    }
  });
  return [...acc].map(([property, a]) => ({ property, asked: a.asked, computed: a.computed, mae: a.computed > 0 ? a.sum / a.computed : NaN }));
}

/**
 * EDM's baselines (Hoogeboom et al. 2022, Table 3) from labelled molecules: "#Atoms" predicts a
 * property by the mean of the reference molecules of the same atom count (the overall mean for a
 * count the reference lacks); "Naive" pairs each molecule with the property of a random other one
 * (its expectation: the mean |c_i - c_j| over all pairs, computed exactly from sorted values).
 * @param reference molecules whose values make the predictor (EDM: the generator's half)
 * @param test molecules the predictor is scored on (EDM: the classifier's half)
 * @returns MAE of each baseline in the property's unit
 */
export function baselineErrors(reference: Array<{ n: number; value: number }>, test: Array<{ n: number; value: number }>): { atoms: number; naive: number } {
  const byN = new Map<number, { sum: number; count: number }>();
  let total = 0;
  for (const r of reference) {
    const b = byN.get(r.n) ?? { sum: 0, count: 0 };
    b.sum += r.value;
    b.count++;
    byN.set(r.n, b);
    total += r.value;
  }
  const mean = total / reference.length;
  let atoms = 0;
  for (const t of test) {
    const b = byN.get(t.n);
    atoms += Math.abs(t.value - (b ? b.sum / b.count : mean)) / test.length;
  }
  // E|c - c'| for c from test and c' from reference: sort both and sweep
  const ref = reference.map((r) => r.value).sort((a, b) => a - b);
  const prefix = new Float64Array(ref.length + 1);
  ref.forEach((v, i) => (prefix[i + 1] = prefix[i] + v));
  let naive = 0;
  for (const t of test) {
    let lo = 0;
    let hi = ref.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (ref[mid] < t.value) lo = mid + 1;
      else hi = mid;
    }
    const below = lo * t.value - prefix[lo];
    const above = prefix[ref.length] - prefix[lo] - (ref.length - lo) * t.value;
    naive += (below + above) / ref.length / test.length;
  }
  return { atoms, naive };
}
