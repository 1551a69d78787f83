/**
 * Pocket geometry on the host: the guidance energy that steers a denoising ligand away from
 * protein atoms and into the pocket region, and the fit measures of a finished ligand.
 *
 * Guidance (in the spirit of classifier guidance, Dhariwal & Nichol 2021, with a hand-made
 * energy instead of a classifier; DiffSBDD's inpainting and TargetDiff's pocket-aware sampling
 * are the conditional alternatives):
 *   E(x) = sum_{i, j} relu(r_clash - |x_i - p_j|)^2 + sum_i relu(|x_i - c| - R)^2
 * over ligand atoms i and protein heavy atoms j; c, R: the site's centre and region radius.
 */
import type { PocketSite } from './site.js';

/** Ligand-protein distance below which guidance pushes atoms apart, Å (about a C..C contact less 0.4). */
export const GUIDE_CLASH_RADIUS = 3.0;
/**
 * A clash: a ligand heavy atom closer than this to a protein heavy atom, Å. Covalent bonds are at
 * most about 1.9 Å and non-bonded heavy-atom contacts rarely come below 2.6 Å (hydrogen bonds
 * N..O ~2.8 Å), so 2.0 Å cannot be a real contact.
 */
export const CLASH_DISTANCE = 2.0;
/** Largest guidance move of one atom in one denoising step, Å. */
export const MAX_GUIDE_STEP = 0.5;

/** Protein heavy atoms near the site: only these can reach a ligand in the region. */
export function nearbyHeavy(site: PocketSite, reach = GUIDE_CLASH_RADIUS + 2): Float64Array {
  const r = site.regionRadius + reach;
  const out: number[] = [];
  const h = site.heavy;
  for (let k = 0; k < h.length; k += 3) {
    if (Math.hypot(h[k] - site.centre[0], h[k + 1] - site.centre[1], h[k + 2] - site.centre[2]) <= r) out.push(h[k], h[k + 1], h[k + 2]);
  }
  return Float64Array.from(out);
}

/**
 * Gradient of the guidance energy for one ligand.
 * @param x `[n * 3]` ligand positions in the protein frame, Å
 * @param protein `[P * 3]` protein heavy atoms (see `nearbyHeavy`)
 * @returns dE/dx `[n * 3]`
 */
export function guidanceGradient(x: ArrayLike<number>, n: number, protein: Float64Array, centre: readonly number[], regionRadius: number): Float64Array {
  const g = new Float64Array(n * 3);
  const rc2 = GUIDE_CLASH_RADIUS * GUIDE_CLASH_RADIUS;
  for (let i = 0; i < n; i++) {
    const xi = x[i * 3];
    const yi = x[i * 3 + 1];
    const zi = x[i * 3 + 2];
    for (let k = 0; k < protein.length; k += 3) {
      const dx = xi - protein[k];
      const dy = yi - protein[k + 1];
      const dz = zi - protein[k + 2];
      const d2 = dx * dx + dy * dy + dz * dz;
      if (d2 >= rc2) continue;
      const d = Math.sqrt(d2) + 1e-6;
      // d/dx relu(rc - d)^2 = -2 (rc - d) (x - p) / d
      const f = (-2 * (GUIDE_CLASH_RADIUS - d)) / d;
      g[i * 3] += f * dx;
      g[i * 3 + 1] += f * dy;
      g[i * 3 + 2] += f * dz;
    }
    const cx = xi - centre[0];
    const cy = yi - centre[1];
    const cz = zi - centre[2];
    const r = Math.sqrt(cx * cx + cy * cy + cz * cz) + 1e-6;
    if (r > regionRadius) {
      const f = (2 * (r - regionRadius)) / r;
      g[i * 3] += f * cx;
      g[i * 3 + 1] += f * cy;
      g[i * 3 + 2] += f * cz;
    }
  }
  return g;
}

/** How a finished ligand sits in the pocket. */
export interface PocketFit {
  /** smallest ligand-heavy to protein-heavy distance, Å */
  minDistance: number;
  /** ligand heavy / protein heavy pairs closer than CLASH_DISTANCE */
  clashes: number;
  /** fraction of ligand atoms within the pocket region */
  inside: number;
}

/**
 * Fit measures of a ligand.
 * @param elements ligand elements; positions `[n * 3]` in the protein frame, Å
 */
export function pocketFit(elements: string[], positions: ArrayLike<number>, site: PocketSite): PocketFit {
  let minDistance = Infinity;
  let clashes = 0;
  let inside = 0;
  const h = site.heavy;
  elements.forEach((e, i) => {
    const [x, y, z] = [positions[i * 3], positions[i * 3 + 1], positions[i * 3 + 2]];
    if (Math.hypot(x - site.centre[0], y - site.centre[1], z - site.centre[2]) <= site.regionRadius) inside++;
    if (e === 'H') return;
    for (let k = 0; k < h.length; k += 3) {
      const d = Math.hypot(x - h[k], y - h[k + 1], z - h[k + 2]);
      if (d < minDistance) minDistance = d;
      if (d < CLASH_DISTANCE) clashes++;
    }
  });
  return { minDistance, clashes, inside: elements.length ? inside / elements.length : 0 };
}
