/**
 * Checking property-conditioned molecules by computing their properties (beyond EDM, which asks a
 * learned classifier): GFN2-xTB on each molecule's own elements and positions, compared with the
 * value it was asked for (its `target_<name>` field). Open-shell molecules (an odd electron count)
 * are not scored: xtb's closed-shell gap collapses on them.
 */
import { ATOMIC_NUMBER } from '../data/batch.js';
import type { Molecule } from '../data/molecule.js';
import type { ConditionedProperty } from '../config.js';
import { propertyValue } from '../data/properties.js';
import type { Rng } from '../random.js';
import { drawProperty } from './conditioning.js';
import { type PropertyName, isPropertyName } from './labels.js';
import { type XtbProperties, type XtbRunOptions, runXtb } from './xtb.js';
import { InterruptedError } from '../errors.js';

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
 * @param onResult each molecule's check as it arrives (e.g. to append it to a file)
 * @throws InputError when xtb is not installed; InterruptedError when `signal` stops the run
 *   (running xtb processes are killed, their folders removed)
 */
export async function computeProperties(mols: Molecule[], opts: XtbRunOptions & { jobs?: number; onDone?: (done: number) => void; onResult?: (index: number, check: PropertyCheck) => void } = {}): Promise<PropertyCheck[]> {
  const out = new Array<PropertyCheck>(mols.length);
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < mols.length && !opts.signal?.aborted; i = next++) {
      const ne = electronCount(mols[i]);
      if (!Number.isFinite(ne)) out[i] = { skipped: 'unknown element' };
      else if (ne % 2 === 1) out[i] = { skipped: 'open shell' };
      else {
        const r = await runXtb(mols[i], opts);
        out[i] = 'error' in r ? { failed: r.error } : { properties: r };
      }
      opts.onResult?.(i, out[i]);
      opts.onDone?.(++done);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.jobs ?? 2) }, worker));
  if (opts.signal?.aborted) throw new InterruptedError('xtb stopped');
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
  /** Pearson correlation of asked and computed values over the computed ones (NaN when undefined: fewer than 2, or no spread) */
  correlation: number;
  /** the same MAE over the computed molecules that are also stable (when stability was given) */
  stable?: { computed: number; mae: number };
}

/**
 * MAE between each molecule's asked and computed values, per property, with the correlation of
 * the two (does the computed value follow the asked one at all?) and, given each molecule's
 * stability, the MAE over the stable ones (an unstable molecule's gap collapses).
 * @param checks `computeProperties` of the same molecules
 * @param stable molecule stability of each molecule (EDM's protocol), same order
 */
export function propertyErrors(mols: Molecule[], checks: PropertyCheck[], stable?: ArrayLike<boolean>): PropertyError[] {
  const pairs = new Map<PropertyName, { asked: number; got: Array<[number, number, boolean]> }>();
  mols.forEach((m, i) => {
    for (const [name, target] of Object.entries(targetsOf(m)) as Array<[PropertyName, number]>) {
      const a = pairs.get(name) ?? { asked: 0, got: [] };
      a.asked++;
      const c = checks[i];
      if ('properties' in c) a.got.push([target, c.properties[name], stable?.[i] ?? false]);
      pairs.set(name, a);
    }
  });
  const mae = (got: Array<[number, number, boolean]>): number => (got.length ? got.reduce((s, [t, v]) => s + Math.abs(t - v), 0) / got.length : NaN);
  return [...pairs].map(([property, a]) => {
    const stableGot = a.got.filter((g) => g[2]);
    return { property, asked: a.asked, computed: a.got.length, mae: mae(a.got), correlation: pearson(a.got), ...(stable ? { stable: { computed: stableGot.length, mae: mae(stableGot) } } : {}) };
  });
}

/** Pearson correlation of the pairs' first two values (NaN for fewer than 2 or no spread). */
function pearson(pairs: Array<[number, number, ...unknown[]]>): number {
  const n = pairs.length;
  if (n < 2) return NaN;
  const mx = pairs.reduce((s, p) => s + p[0], 0) / n;
  const my = pairs.reduce((s, p) => s + p[1], 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (const [x, y] of pairs) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
    syy += (y - my) ** 2;
  }
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : NaN;
}

/**
 * EDM's baselines (Hoogeboom et al. 2022, Table 3; reference: eval_conditional_qm9.py, tasks
 * `numnodes` and `naive`), measured on real molecules with known values instead of generated ones:
 * "#Atoms" pairs each molecule with a value drawn from the training distribution of its atom
 * count (what a generator that knew only the atom count would be asked), "Naive" with the value
 * of another molecule (the values shuffled). Both give the MAE a generator that ignored the asked
 * value would score.
 * @param molecules atom count, true value and, when the check is not the label itself, the
 *   measured value (EDM: its classifier's prediction) of each molecule (EDM: its generator half)
 * @param p the conditioned property, with its per-size distribution
 * @returns MAE of each baseline in the property's unit
 * @throws OptionError when the distribution lacks a molecule's atom count
 */
export function baselineErrors(molecules: Array<{ n: number; value: number; measured?: number }>, p: ConditionedProperty, rng: Rng): { atoms: number; naive: number } {
  const measured = (m: { value: number; measured?: number }): number => m.measured ?? m.value;
  let atoms = 0;
  for (const m of molecules) atoms += Math.abs(measured(m) - drawProperty(p, m.n, rng)) / molecules.length;
  const shuffled = rng.shuffle(molecules.map((m) => m.value));
  const naive = molecules.reduce((s, m, k) => s + Math.abs(measured(m) - shuffled[k]), 0) / molecules.length;
  return { atoms, naive };
}
