/**
 * The pocket nodes of a site: the heavy atoms nearest its centre, the fixed context of a pocket
 * model (the complex's batch layout is in data/complex.ts).
 */
import type { PocketNodes } from '../data/complex.js';
import { InputError } from '../errors.js';
import type { PocketSite } from './site.js';

/**
 * The pocket heavy atoms nearest the site centre (at most `max`), ordered by distance.
 * @throws InputError when the pocket has no heavy atom
 */
export function pocketNodes(site: PocketSite, max: number): PocketNodes {
  const heavy = site.atoms.filter((a) => a.element !== 'H');
  if (heavy.length === 0) throw new InputError('the pocket has no heavy atom');
  const d = (a: (typeof heavy)[number]): number => Math.hypot(a.x - site.centre[0], a.y - site.centre[1], a.z - site.centre[2]);
  const chosen = heavy
    .map((a) => ({ a, r: d(a) }))
    .sort((p, q) => p.r - q.r)
    .slice(0, max)
    .map((p) => p.a);
  const positions = new Float64Array(chosen.length * 3);
  chosen.forEach((a, i) => positions.set([a.x, a.y, a.z], i * 3));
  return { elements: chosen.map((a) => a.element), positions, origin: [...site.centre] };
}

