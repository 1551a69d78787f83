/**
 * The pocket-conditional model (DiffSBDD's conditional form on EDM's network): a folder of
 * pocket/ligand pairs read as training data for the shared trainer (train/trainer.ts: EDM's L2
 * loss on the ligand's atoms only, the pocket never noised), and ligands sampled with the pocket
 * as fixed context through the shared sampling core (generate/).
 */
import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { type DatasetInfo, type DynamicsConfig, type PocketConditioning, pocketConditioning } from '../config.js';
import { type ComplexExample, pocketContextDim } from '../data/complex.js';
import type { Molecule } from '../data/molecule.js';
import { readMolecules } from '../data/read.js';
import type { EdmModel } from '../diffusion/model.js';
import type { CorrectorOptions } from '../diffusion/sampler.js';
import type { ElementSampling } from '../generate/types.js';
import { sampleMoleculesYielding } from '../generate/local.js';
import { InputError } from '../errors.js';
import { pocketNodes } from './complex.js';
import type { PocketNodes } from '../data/complex.js';
import { readPdb } from './pdb.js';
import { type PocketSite, pocketFromLigand } from './site.js';

/** Ligand elements in the order a pocket model's one-hot uses them. */
const ELEMENT_ORDER = ['C', 'N', 'O', 'F', 'P', 'S', 'Cl', 'Br', 'I', 'B', 'Si', 'Se'];

/** Default conditioning: pocket carbons, nitrogens, oxygens, sulphurs; 64 nodes. */
export const DEFAULT_POCKET_CONDITIONING: PocketConditioning = { kind: 'pocket', pocketTypes: ['C', 'N', 'O', 'S'], maxPocketNodes: 64 };

/** A pair of files in a training folder. */
export interface ComplexFiles {
  pdb: string;
  ligand: string;
}

const stem = (f: string): string => basename(f).replace(/\.(pdb|sdf|xyz)(\.gz)?$/i, '');

/**
 * Pair each ligand file (SDF/XYZ) of a folder with its structure: the PDB whose name, without
 * `_pocket10`/`_protein`, is the longest prefix of the ligand's name without `_ligand`
 * (CrossDocked: `X_pocket10.pdb` + `X.sdf`; PDBbind: `X_protein.pdb` + `X_ligand.sdf`;
 * `3rfm.pdb` + `3rfm_B_CFF.sdf`).
 * @throws InputError for a folder without pairs, or a ligand without a structure
 */
export function findComplexPairs(dir: string): ComplexFiles[] {
  const files = readdirSync(dir).sort();
  const pdbs = files.filter((f) => /\.pdb(\.gz)?$/i.test(f));
  const ligands = files.filter((f) => /\.(sdf|xyz)(\.gz)?$/i.test(f));
  const pairs = ligands.map((l) => {
    const key = stem(l).replace(/_ligand$/, '');
    const match = pdbs
      .map((p) => ({ p, k: stem(p).replace(/_(pocket\d*|protein)$/, '') }))
      .filter(({ k }) => key === k || key.startsWith(`${k}_`))
      .sort((a, b) => b.k.length - a.k.length)[0];
    if (!match) throw new InputError(`no structure (.pdb) in ${dir} for ligand ${l}`, join(dir, l));
    return { pdb: join(dir, match.p), ligand: join(dir, l) };
  });
  if (pairs.length === 0) throw new InputError('no ligand files (.sdf, .xyz) in the folder', dir);
  return pairs;
}

/**
 * Read pairs as training examples: heavy atoms of the ligand, pocket nodes around it (the site
 * centred on the ligand, so its positions are centre-of-mass free in the model's frame).
 * @throws InputError for unreadable or malformed files, naming them
 */
export function loadComplexes(pairs: ComplexFiles[], c: PocketConditioning): ComplexExample[] {
  return pairs.map(({ pdb, ligand }) => {
    const mol = readMolecules(ligand)[0];
    const heavy = mol.elements.flatMap((e, i) => (e === 'H' ? [] : [i]));
    const lig: Molecule = { elements: heavy.map((i) => mol.elements[i]), positions: Float32Array.from(heavy.flatMap((i) => [0, 1, 2].map((d) => mol.positions[i * 3 + d]))), name: stem(ligand) };
    const site = pocketFromLigand(readPdb(pdb), lig, 10, ligand);
    return { ligand: lig, pocket: pocketNodes(site, c.maxPocketNodes) };
  });
}

/** A folder of complexes as training data: the examples and what the model needs to know of them. */
export interface ComplexTrainingData {
  train: ComplexExample[];
  /** ligand elements (the one-hot), ligand sizes (the size model) */
  info: DatasetInfo;
  conditioning: PocketConditioning;
}

/**
 * Pair and read a folder of complexes for `train` (with `conditioning` and `pocketDynamics`).
 * The one-hot covers the ligand elements present, in `ELEMENT_ORDER`.
 * @throws InputError for a folder without pairs or unreadable files
 */
export function loadComplexTrainingData(dir: string, c: PocketConditioning = DEFAULT_POCKET_CONDITIONING): ComplexTrainingData {
  const train = loadComplexes(findComplexPairs(dir), c);
  const present = new Set(train.flatMap((e) => e.ligand.elements));
  const atomDecoder = [...ELEMENT_ORDER.filter((e) => present.has(e)), ...[...present].filter((e) => !ELEMENT_ORDER.includes(e)).sort()];
  const hist: Record<string, number> = {};
  for (const e of train) hist[e.ligand.elements.length] = (hist[e.ligand.elements.length] ?? 0) + 1;
  const info: DatasetInfo = { name: 'pockets', atomDecoder, nNodesHistogram: hist, maxNAtoms: Math.max(...train.map((e) => e.ligand.elements.length)) };
  return { train, info, conditioning: c };
}

/**
 * The network of a pocket model: `base` taking the pocket context per node, with sums over
 * neighbours divided by 100 instead of EDM's 1 (a ligand atom sees about 100 nodes, not <= 28;
 * DiffSBDD's normalization_factor).
 */
export function pocketDynamics(base: DynamicsConfig, c: PocketConditioning = DEFAULT_POCKET_CONDITIONING): DynamicsConfig {
  return { ...base, normalizationFactor: 100, contextNodeNf: pocketContextDim(c) };
}

/** Options of `sampleConditional`. */
export interface ConditionalSampleOptions {
  seed: number | string;
  steps?: number;
  /** ligand atom counts (heavy atoms) */
  sizes: Int32Array;
  onProgress?: (ligandsDone: number, step: number, steps: number) => void;
  /** scale of the reverse steps' noise (default 1, EDM's; see sampler.ts) */
  temperature?: number;
  /** Langevin corrector steps in the last part of the chain (default `DEFAULT_CORRECTOR`; `false`: EDM's sampler; see sampler.ts) */
  corrector?: CorrectorOptions | false;
  /** the element model; refused for a pocket-conditioned model (planSampling) */
  elements?: ElementSampling;
  /** stops the sampling after the current denoising step (the event loop gets a turn after each) */
  signal?: AbortSignal;
}

/**
 * Ligands from a pocket model: the pocket nodes are fixed context, the ligand is denoised
 * among them (generate/: ligand i has its own random stream of `seed`); positions come back in
 * the protein's frame.
 * @throws InputError when the model is not a pocket model; OptionError for impossible options;
 *   InterruptedError when `opts.signal` is aborted
 */
export function sampleConditional(model: EdmModel, site: PocketSite, opts: ConditionalSampleOptions): Promise<Molecule[]> {
  const c = pocketConditioning(model.config);
  if (!c) throw new InputError('this checkpoint is not pocket-conditioned (no "conditioning" in its config)');
  const pocket: PocketNodes = pocketNodes(site, c.maxPocketNodes);
  return sampleWithPocket(model, pocket, opts);
}

/** `sampleConditional` on given pocket nodes (also used by the equivariance test); ligands named `ligand k`. */
export async function sampleWithPocket(model: EdmModel, pocket: PocketNodes, opts: ConditionalSampleOptions): Promise<Molecule[]> {
  const { seed, steps, sizes, temperature, corrector, elements, onProgress } = opts;
  const ligands = await sampleMoleculesYielding(model, { n: sizes.length, seed, sizes, pocket, steps, temperature, corrector, elements, onProgress }, opts.signal);
  return ligands.map((m, i) => ({ ...m, name: `ligand ${i + 1}` }));
}
