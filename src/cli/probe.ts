/**
 * A small sampling run during training: how stable are molecules from the current EMA model.
 */
import type { EdmModel } from '../diffusion/model.js';
import { sampleMolecules } from '../sample.js';
import { stability } from '../decode/bonds.js';

/** Sample `count` molecules with `steps` denoising steps; return atom and molecule stability. */
export async function stabilityProbe(model: EdmModel, count: number, steps: number, step: number): Promise<Record<string, number>> {
  const t0 = performance.now();
  const mols = sampleMolecules(model, { n: count, batchSize: count, steps, seed: `probe:${step}` });
  let atoms = 0;
  let stableAtoms = 0;
  let stableMols = 0;
  for (const m of mols) {
    const s = stability(m);
    atoms += s.atoms;
    stableAtoms += s.stableAtoms;
    if (s.moleculeStable) stableMols++;
  }
  return {
    atomStability: stableAtoms / atoms,
    moleculeStability: stableMols / mols.length,
    samples: mols.length,
    samplingSteps: steps,
    seconds: (performance.now() - t0) / 1000,
  };
}
