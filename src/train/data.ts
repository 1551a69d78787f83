/**
 * The data of a training run: QM9 in EDM's split or a user's own files, the dataset
 * information derived from them, and the training SMILES stored in the checkpoint so that
 * novelty can be reported on machines without the training data.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Conditioning, DatasetInfo } from '../config.js';
import { QM9_ATOM_DECODER, datasetInfoFrom } from '../data/dataset.js';
import { type TrainingExample, isComplex } from '../data/examples.js';
import { loadQm9Split } from '../data/qm9.js';
import type { Molecule } from '../data/molecule.js';
import { readMolecules } from '../data/read.js';
import { CHECKPOINT_REFERENCE_FILE, computeReference, saveReference } from '../metrics/reference.js';
import { inferBonds, stability } from '../decode/bonds.js';

/** Where training molecules come from. */
export interface TrainingDataOptions {
  /** folder of QM9 in EDM's split (used when `trainFile` is absent) */
  qm9Dir: string;
  /** the user's own training molecules (SDF/XYZ, optionally .gz) */
  trainFile?: string;
  /** the user's own validation molecules */
  validFile?: string;
  /** atom decoder (default: H,C,N,O,F for QM9, else the elements present, sorted) */
  atoms?: string[];
}

/** Training and validation molecules with what the model needs to know of them. */
export interface TrainingData {
  /** molecules, or complexes for a pocket-conditioned model */
  train: TrainingExample[];
  valid?: TrainingExample[];
  info: DatasetInfo;
  /** a pocket-conditioned model's conditioning (its examples are complexes), or a property-conditioned one's */
  conditioning?: Conditioning;
  /** in words, for the checkpoint's stored reference: the file's name (no folder), or QM9's split */
  source: string;
}

/**
 * Read the training (and validation) molecules.
 * @throws InputError naming the file and line for malformed files or unknown elements
 */
export async function loadTrainingData(o: TrainingDataOptions): Promise<TrainingData> {
  if (o.trainFile) {
    const train = readMolecules(o.trainFile, o.atoms);
    const decoder = o.atoms ?? [...new Set(train.flatMap((m) => m.elements))].sort();
    const valid = o.validFile ? readMolecules(o.validFile, decoder) : undefined;
    return { train, valid, info: datasetInfoFrom('custom', train, decoder), source: basename(o.trainFile) };
  }
  const decoder = o.atoms ?? QM9_ATOM_DECODER;
  const train = await loadQm9Split(o.qm9Dir, 'train', decoder);
  const valid = await loadQm9Split(o.qm9Dir, 'valid', decoder);
  return { train, valid, info: datasetInfoFrom('qm9', train, decoder), source: 'QM9 train split (EDM split)' };
}

/**
 * Store the training set's SMILES (the novelty reference: molecules, or a complex's ligand) in a
 * checkpoint folder, once.
 * @param onCompute told before the (slow: about 30 s for QM9) computation starts
 * @param signal stops the computation; nothing is written then
 * @returns whether it was computed now
 * @throws InterruptedError when `signal` is aborted
 */
export async function storeTrainingReference(dir: string, data: TrainingData, onCompute?: (molecules: number) => void, signal?: AbortSignal): Promise<boolean> {
  if (existsSync(join(dir, CHECKPOINT_REFERENCE_FILE))) return false;
  onCompute?.(data.train.length);
  const molecules = data.train.map((e) => (isComplex(e) ? e.ligand : e));
  const reference = await computeReference(molecules, data.source, `${data.info.name}:${data.train.length}`, signal);
  mkdirSync(dir, { recursive: true });
  await saveReference(dir, reference);
  return true;
}

/**
 * Bond labels for a bond-aware model: each molecule's bonds set to the distance-based
 * assignment the metrics use (decode/bonds.ts inferBonds, EDM's bond_analyze), replacing any
 * bonds read from a file, so the model learns the bonds EDM's protocol scores.
 * @returns molecules labelled, and how many are stable under their labels (QM9's training split: 95.2%)
 */
export function labelBonds(examples: TrainingExample[]): { molecules: number; stable: number } {
  let stable = 0;
  let molecules = 0;
  for (const e of examples) {
    if (isComplex(e)) continue;
    e.bonds = inferBonds(e);
    molecules++;
    if (stability(e, e.bonds).moleculeStable) stable++;
  }
  return { molecules, stable };
}

/**
 * A fingerprint of a training set (its examples' elements and positions, in order), kept in a
 * run's state so that `--resume` trains on the data the run started with.
 * @returns the first 16 hex digits of a SHA-256
 */
export function trainingSetDigest(examples: TrainingExample[]): string {
  // the resume check and the trainer's state both ask for it: hash a set once
  const known = digests.get(examples);
  if (known !== undefined) return known;
  const h = createHash('sha256');
  const add = (m: Molecule): void => {
    h.update(m.elements.join(','));
    h.update(new Uint8Array(m.positions.buffer, m.positions.byteOffset, m.positions.byteLength));
    h.update(';');
  };
  for (const e of examples) {
    if (isComplex(e)) {
      add(e.ligand);
      h.update(e.pocket.elements.join(','));
      h.update(new Uint8Array(e.pocket.positions.buffer, e.pocket.positions.byteOffset, e.pocket.positions.byteLength));
    } else add(e);
  }
  const digest = h.digest('hex').slice(0, 16);
  digests.set(examples, digest);
  return digest;
}

const digests = new WeakMap<TrainingExample[], string>();
