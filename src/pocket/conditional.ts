/**
 * The pocket-conditional model (DiffSBDD's conditional form on EDM's network): training on a
 * folder of pocket/ligand pairs and sampling ligands with the pocket as fixed context.
 *
 * Training uses EDM's L2 loss on the ligand's atoms only (the pocket is never noised), Adam,
 * and the whole set of pairs as one batch per step: it is meant for small sets (our development
 * pairs, to overfit) and as the reference for training on CrossDocked elsewhere (README).
 */
import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { CONFIG_VERSION, EDM_QM9_DIFFUSION, EDM_QM9_DYNAMICS, type EdmConfig, type PocketConditioning, dynamicsInputDim } from '../config.js';
import { disposeBatch } from '../data/batch.js';
import { writeFileAtomic } from '../data/files.js';
import { saveCheckpoint } from '../checkpoint/format.js';
import type { Molecule } from '../data/molecule.js';
import { readMolecules } from '../data/read.js';
import { drawStepNoise, trainingLoss } from '../diffusion/loss.js';
import { type EdmModel, makeModel } from '../diffusion/model.js';
import { type CorrectorOptions, denoisingSteps, sampleChain } from '../diffusion/sampler.js';
import { initParams } from '../egnn/params.js';
import { InputError } from '../errors.js';
import { Rng } from '../random.js';
import { type ComplexExample, type PocketNodes, makeComplexBatch, pocketContextDim, pocketNodes, pocketRows } from './complex.js';
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

/** Read pairs as training examples: heavy atoms of the ligand, pocket nodes around it. */
export function loadComplexes(pairs: ComplexFiles[], c: PocketConditioning): ComplexExample[] {
  return pairs.map(({ pdb, ligand }) => {
    const mol = readMolecules(ligand)[0];
    const heavy = mol.elements.flatMap((e, i) => (e === 'H' ? [] : [i]));
    const lig: Molecule = { elements: heavy.map((i) => mol.elements[i]), positions: Float32Array.from(heavy.flatMap((i) => [0, 1, 2].map((d) => mol.positions[i * 3 + d]))), name: stem(ligand) };
    const site = pocketFromLigand(readPdb(pdb), lig, 10, ligand);
    return { ligand: lig, pocket: pocketNodes(site, c.maxPocketNodes) };
  });
}

/** Options of `trainPocketModel`. */
export interface PocketTrainOptions {
  steps: number;
  nf?: number;
  layers?: number;
  lr?: number;
  timesteps?: number;
  /** divisor of the sums over neighbours (default 100, DiffSBDD's) */
  normalizationFactor?: number;
  seed: number;
  onStep?: (step: number, loss: number) => void;
}

/**
 * Train a conditional model on complexes (all in one batch per step).
 * @returns the model (weights after the last step) and the loss of every step
 */
export async function trainPocketModel(examples: ComplexExample[], opts: PocketTrainOptions): Promise<{ model: EdmModel; losses: number[] }> {
  const c = DEFAULT_POCKET_CONDITIONING;
  const present = new Set(examples.flatMap((e) => e.ligand.elements));
  const atomDecoder = [...ELEMENT_ORDER.filter((e) => present.has(e)), ...[...present].filter((e) => !ELEMENT_ORDER.includes(e)).sort()];
  const hist: Record<string, number> = {};
  for (const e of examples) hist[e.ligand.elements.length] = (hist[e.ligand.elements.length] ?? 0) + 1;
  const config: EdmConfig = {
    format: 'edm-ts-checkpoint',
    version: CONFIG_VERSION,
    // sums over ~100 neighbours instead of EDM's <= 28: scaled as DiffSBDD does (normalization_factor 100)
    dynamics: { ...EDM_QM9_DYNAMICS, nf: opts.nf ?? 64, nLayers: opts.layers ?? 4, normalizationFactor: opts.normalizationFactor ?? 100, contextNodeNf: pocketContextDim(c) },
    diffusion: { ...EDM_QM9_DIFFUSION, timesteps: opts.timesteps ?? 500 },
    dataset: { name: 'pockets', atomDecoder, nNodesHistogram: hist, maxNAtoms: Math.max(...examples.map((e) => e.ligand.elements.length)) },
    conditioning: c,
  };
  const init = initParams(config.dynamics, dynamicsInputDim(config), new Rng(`${opts.seed}:init`));
  const vars: Record<string, tf.Variable> = {};
  for (const [k, v] of Object.entries(init)) vars[k] = tf.variable(v);
  const model = makeModel(config, vars);
  const optimizer = tf.train.adam(opts.lr ?? 1e-3);
  const batch = makeComplexBatch(examples, atomDecoder, c);
  const rng = new Rng(`${opts.seed}:noise`);
  const losses: number[] = [];
  try {
    for (let step = 1; step <= opts.steps; step++) {
      const noise = drawStepNoise(model, batch, rng);
      const loss = optimizer.minimize(() => trainingLoss(model, batch, noise, config.dataset.maxNAtoms), true, Object.values(vars))!;
      losses.push((await loss.data())[0]);
      loss.dispose();
      opts.onStep?.(step, losses[losses.length - 1]);
    }
  } finally {
    disposeBatch(batch);
    optimizer.dispose();
  }
  return { model, losses };
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
  /** Langevin corrector steps in the last part of the chain (see sampler.ts) */
  corrector?: CorrectorOptions;
}

/**
 * Ligands from a pocket model: the pocket nodes are fixed context, the ligand is denoised
 * among them; positions come back in the protein's frame.
 * @throws InputError when the model is not a pocket model
 */
export function sampleConditional(model: EdmModel, site: PocketSite, opts: ConditionalSampleOptions): Molecule[] {
  const c = model.config.conditioning;
  if (!c) throw new InputError('this checkpoint is not pocket-conditioned (no "conditioning" in its config)');
  const pocket: PocketNodes = pocketNodes(site, c.maxPocketNodes);
  return sampleWithPocket(model, pocket, opts);
}

/** `sampleConditional` on given pocket nodes (also used by the equivariance test). */
export function sampleWithPocket(model: EdmModel, pocket: PocketNodes, opts: ConditionalSampleOptions): Molecule[] {
  const c = model.config.conditioning!;
  const steps = denoisingSteps(opts.steps ?? model.schedule.timesteps, model.schedule.timesteps);
  const B = opts.sizes.length;
  const P = pocket.elements.length;
  const nNodes = Int32Array.from(opts.sizes, (n) => n + P);
  const N = Math.max(...nNodes);
  const D = 3 + model.config.dataset.atomDecoder.length + (model.config.diffusion.includeCharges ? 1 : 0);
  const rows = pocketRows(c, new Array(B).fill(pocket), opts.sizes, N);
  const fx = model.config.diffusion.normalizeFactors[0];
  const xh = new Float32Array(B * N * D);
  for (let a = 0; a < B * N; a++) for (let d = 0; d < 3; d++) xh[a * D + d] = rows.fixedX[a * 3 + d] / fx;
  const res = sampleChain(model, nNodes, new Rng(`${opts.seed}:pocket-model`), {
    steps,
    temperature: opts.temperature,
    corrector: opts.corrector,
    fixed: { nFixed: rows.nFixed, xh, centred: true },
    context: { values: rows.context, dim: pocketContextDim(c) },
    onStep: (step, total) => opts.onProgress?.(0, step, total),
  });
  const decoder = model.config.dataset.atomDecoder;
  return Array.from(opts.sizes, (n, b) => ({
    elements: Array.from({ length: n }, (_, i) => decoder[res.atomTypes[b * res.N + i]]),
    positions: Float32Array.from({ length: n * 3 }, (_, k) => res.x[(b * res.N + Math.floor(k / 3)) * 3 + (k % 3)] + pocket.origin[k % 3]),
    name: `ligand ${b + 1}`,
  }));
}

/** Options of `trainPocketsCommandBody`. */
export interface PocketTrainRun extends PocketTrainOptions {
  /** folder of pocket/ligand pairs */
  dir: string;
  /** checkpoint folder to write */
  out: string;
  /** progress lines */
  log?: (line: string) => void;
}

/**
 * `edm train --pockets`: pair the folder's files, train, write the checkpoint (config with the
 * conditioning, weights) and `train-log.csv` (step, loss).
 * @throws InputError for a folder without pairs or unreadable files
 */
export async function trainPocketsCommandBody(run: PocketTrainRun): Promise<{ losses: number[] }> {
  const pairs = findComplexPairs(run.dir);
  const examples = loadComplexes(pairs, DEFAULT_POCKET_CONDITIONING);
  run.log?.(`edm: ${examples.length} complexes (${examples.map((e) => `${e.ligand.name}: ${e.ligand.elements.length} ligand atoms, ${e.pocket.elements.length} pocket nodes`).join('; ')})`);
  const t0 = performance.now();
  const every = Math.max(1, Math.floor(run.steps / 20));
  const { model, losses } = await trainPocketModel(examples, {
    ...run,
    onStep: (step, loss) => {
      if (step % every === 0 || step === run.steps) run.log?.(`train: step ${step} loss ${loss.toFixed(4)} ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    },
  });
  const config = { ...model.config, training: { command: 'edm train --pockets', steps: run.steps, source: run.dir, wallTimeSeconds: (performance.now() - t0) / 1000 } };
  await saveCheckpoint(run.out, config, model.params);
  writeFileAtomic(join(run.out, 'train-log.csv'), `step,loss\n${losses.map((l, i) => `${i + 1},${l}`).join('\n')}\n`);
  run.log?.(`trained ${run.steps} steps; checkpoint in ${run.out}`);
  return { losses };
}
