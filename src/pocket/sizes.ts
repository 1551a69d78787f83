/**
 * Ligand sizes for pocket generation: a fixed count, the reference ligand's size +- a margin
 * (counting the hydrogens RDKit adds when the model generates hydrogens), or the training
 * histogram; always inside the sizes the checkpoint was trained on.
 */
import type { EdmConfig } from '../config.js';
import { sampleNNodes } from '../data/dataset.js';
import type { Molecule } from '../data/molecule.js';
import { toMolBlock } from '../data/sdf.js';
import { OptionError } from '../errors.js';
import { Rng } from '../random.js';
import { type RDKitModule, atomsWithHydrogens } from '../metrics/rdkit.js';

/** Sizes drawn for a run, and how they were chosen. */
export interface LigandSizes {
  sizes: Int32Array;
  /** e.g. "22..26 atoms: reference ligand 24 atoms (with hydrogens) +- 2" */
  note: string;
}

/** Atoms of the reference ligand as the model would count them (hydrogens added if it makes them). */
export function referenceSize(rdkit: RDKitModule, ligand: Molecule, withHydrogens: boolean): number {
  const heavy = ligand.elements.filter((e) => e !== 'H').length;
  if (!withHydrogens) return heavy;
  if (ligand.elements.includes('H')) return ligand.elements.length;
  // typical atoms per heavy atom of drug-like molecules, when RDKit cannot read the ligand
  return atomsWithHydrogens(rdkit, toMolBlock(ligand)) ?? Math.round(heavy * 1.8);
}

/**
 * Choose the sizes of `n` ligands.
 * @param nAtoms fixed size (overrides the rest)
 * @param refAtoms reference ligand size, or undefined to use the training histogram
 * @throws OptionError for a fixed size outside 1..maxNAtoms of the checkpoint
 */
export function ligandSizes(config: EdmConfig, n: number, seed: number | string, opts: { nAtoms?: number; refAtoms?: number; margin: number }): LigandSizes {
  const hist = config.dataset.nNodesHistogram;
  const trained = Object.keys(hist).map(Number).filter((k) => hist[k] > 0);
  const [minN, maxN] = [Math.min(...trained), Math.max(...trained)];
  const rng = new Rng(`${seed}:sizes`);
  if (opts.nAtoms !== undefined) {
    if (!(Number.isInteger(opts.nAtoms) && opts.nAtoms >= 1 && opts.nAtoms <= config.dataset.maxNAtoms)) {
      throw new OptionError(`--n-atoms must be an integer in 1..${config.dataset.maxNAtoms} (the checkpoint's largest molecule), got ${opts.nAtoms}`);
    }
    return { sizes: new Int32Array(n).fill(opts.nAtoms), note: `${opts.nAtoms} atoms (--n-atoms)` };
  }
  if (opts.refAtoms === undefined) return { sizes: sampleNNodes(hist, n, rng), note: `training histogram (${minN}..${maxN} atoms)` };
  let lo = Math.max(minN, opts.refAtoms - opts.margin);
  let hi = Math.min(maxN, opts.refAtoms + opts.margin);
  let note = `${lo}..${hi} atoms: reference ligand ${opts.refAtoms} atoms +- ${opts.margin}`;
  if (lo > hi) {
    [lo, hi] = opts.refAtoms > maxN ? [Math.max(minN, maxN - 2 * opts.margin), maxN] : [minN, Math.min(maxN, minN + 2 * opts.margin)];
    note = `${lo}..${hi} atoms: reference ligand has ${opts.refAtoms} atoms, outside the checkpoint's ${minN}..${maxN}`;
  }
  return { sizes: Int32Array.from({ length: n }, () => rng.int(lo, hi)), note };
}
