/**
 * What novelty and distribution comparisons need from the training split: its SMILES (by the
 * same pipeline as generated molecules) and its distributions. Computing them takes a while
 * (about 100k RDKit sanitisations for QM9), so they are cached on disk under a key made of the
 * training file's content, this pipeline's version and RDKit's version.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { gunzipSync, gzipSync, strFromU8, strToU8 } from 'fflate';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../data/files.js';
import { InputError, InterruptedError } from '../errors.js';
import type { Molecule } from '../data/molecule.js';
import { readMolecules } from '../data/read.js';
import { inferBonds } from '../decode/bonds.js';
import { type DistributionStats, addToStats, emptyStats } from './distributions.js';
import { loadRDKit } from './rdkit.js';
import { checkValidity } from './validity.js';

/** Bump when bond inference, validity or SMILES generation changes: invalidates caches. */
export const PIPELINE_VERSION = 'edm-protocol-v2';

/** The training split seen through the evaluation pipeline. */
export interface TrainingReference {
  /** the training file it was computed from */
  source: string;
  key: string;
  molecules: number;
  /** SMILES of its valid molecules (largest fragment, explicit H) */
  smiles: Set<string>;
  stats: DistributionStats;
}

/** Cache folder: $EDM_CACHE_DIR, else ~/.cache/edm-ts. */
export function cacheDir(): string {
  return process.env.EDM_CACHE_DIR ?? join(homedir(), '.cache', 'edm-ts');
}

/**
 * Compute the reference of molecules (no caching).
 * @param signal stops the computation (it yields to the event loop every few hundred molecules,
 *   so a signal handler can abort it within a second)
 * @throws InterruptedError when `signal` is aborted
 */
export async function computeReference(mols: Molecule[], source: string, key: string, signal?: AbortSignal): Promise<TrainingReference> {
  const rdkit = await loadRDKit();
  const smiles = new Set<string>();
  const stats = emptyStats();
  for (let i = 0; i < mols.length; i++) {
    if (signal && i % YIELD_EVERY === 0) {
      await new Promise((resolve) => setImmediate(resolve));
      if (signal.aborted) throw new InterruptedError(`stopped after the SMILES of ${i} of ${mols.length} training molecules`);
    }
    const m = mols[i];
    const bonds = inferBonds(m);
    addToStats(stats, m, bonds);
    const v = checkValidity(rdkit, m, bonds);
    if (v.valid) smiles.add(v.smiles!);
  }
  return { source, key, molecules: mols.length, smiles, stats };
}

/** molecules between two looks at the abort signal (about 0.1 s of RDKit) */
const YIELD_EVERY = 256;

/**
 * The reference of a training file, from the cache when its key matches.
 * @param path SDF/XYZ training file
 * @param onCompute called when the cache misses and the reference is being computed
 * @throws InputError if the file cannot be read or parsed
 */
export async function trainingReference(path: string, onCompute?: () => void): Promise<TrainingReference> {
  const rdkit = await loadRDKit();
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new InputError(`cannot read file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, path);
  }
  const key = createHash('sha256').update(bytes).update(PIPELINE_VERSION).update(rdkit.version()).digest('hex').slice(0, 32);
  const file = join(cacheDir(), `train-reference-${key}.json`);
  if (existsSync(file)) {
    try {
      const raw = JSON.parse(readFileSync(file, 'utf8'));
      if (raw.key === key) return { ...raw, smiles: new Set(raw.smiles) };
    } catch {
      // a damaged cache is recomputed below
    }
  }
  onCompute?.();
  const ref = await computeReference(readMolecules(path), path, key);
  try {
    mkdirSync(cacheDir(), { recursive: true });
    writeFileAtomic(file, JSON.stringify({ ...ref, smiles: [...ref.smiles] }));
  } catch {
    // caching is an optimisation: an unwritable cache folder only costs time
  }
  return ref;
}

/** File name of the training reference inside a checkpoint folder. */
export const CHECKPOINT_REFERENCE_FILE = 'train-reference.json.gz';

/** What a checkpoint's reference file holds besides the reference itself. */
interface StoredReference {
  pipelineVersion: string;
  rdkitVersion: string;
  source: string;
  key: string;
  molecules: number;
  smiles: string[];
  stats: DistributionStats;
}

/**
 * Store a training reference inside a checkpoint folder (gzip JSON, atomically), with the
 * pipeline and RDKit versions that made it, so novelty can be reported where the training
 * data is absent.
 */
export async function saveReference(dir: string, ref: TrainingReference): Promise<void> {
  const rdkit = await loadRDKit();
  const stored: StoredReference = {
    pipelineVersion: PIPELINE_VERSION,
    rdkitVersion: rdkit.version(),
    source: ref.source,
    key: ref.key,
    molecules: ref.molecules,
    smiles: [...ref.smiles].sort(),
    stats: ref.stats,
  };
  writeFileAtomic(join(dir, CHECKPOINT_REFERENCE_FILE), gzipSync(strToU8(JSON.stringify(stored)), { level: 9, mtime: 0 }));
}

/**
 * The training reference stored in a checkpoint folder, if any and if it was made by this
 * pipeline version (a different pipeline would make different SMILES, so novelty would lie).
 * @returns the reference, or a reason why there is none
 */
export function loadReference(dir: string): TrainingReference | { missing: string } {
  const path = join(dir, CHECKPOINT_REFERENCE_FILE);
  if (!existsSync(path)) return { missing: `${dir} has no ${CHECKPOINT_REFERENCE_FILE}` };
  return referenceFromBytes(readFileSync(path), path, dir);
}

/**
 * A stored training reference from the bytes of its gzipped JSON (no file system: the browser
 * page fetches them), if this pipeline version made it.
 * @param path the file, and `where` its checkpoint, for messages and the source line
 */
export function referenceFromBytes(bytes: Uint8Array, path: string, where: string): TrainingReference | { missing: string } {
  let stored: StoredReference;
  try {
    // a server may have decoded the gzip already (Content-Encoding): accept the JSON itself
    const gzipped = bytes[0] === 0x1f && bytes[1] === 0x8b;
    stored = JSON.parse(strFromU8(gzipped ? gunzipSync(bytes) : bytes));
  } catch (e) {
    return { missing: `${path}: unreadable (${(e as Error).message})` };
  }
  if (stored.pipelineVersion !== PIPELINE_VERSION) {
    return { missing: `${path} was made by pipeline ${stored.pipelineVersion}, this is ${PIPELINE_VERSION}` };
  }
  return { source: `${stored.source} (stored in ${where}, RDKit ${stored.rdkitVersion})`, key: stored.key, molecules: stored.molecules, smiles: new Set(stored.smiles), stats: stored.stats };
}

/** Where `chooseReference` may take the training molecules for novelty from. */
export interface ReferenceChoice {
  /** a training file (SDF/XYZ) named by the user; `false` asks for no novelty */
  train?: string | false;
  /** a checkpoint whose stored training SMILES are used when no file is named */
  checkpointDir?: string;
  /** the file used when neither is given nor stored (e.g. QM9's train split), if it exists */
  fallbackFile?: string;
  /** told what is happening: a reference is being computed, or novelty is n/a and why */
  onNote?: (message: string) => void;
}

/**
 * The training reference for novelty: the named file; else the one stored in the checkpoint
 * (its own training set); else the fallback file when present; else none.
 * @throws InputError when the named file cannot be read
 */
export async function chooseReference(c: ReferenceChoice): Promise<TrainingReference | undefined> {
  if (c.train === false) return undefined;
  const computing = (p: string) => () => c.onNote?.(`computing the SMILES of ${p} for novelty (once; cached in ${cacheDir()})`);
  if (c.train) return trainingReference(c.train, computing(c.train));
  const fallback = c.fallbackFile && existsSync(c.fallbackFile) ? c.fallbackFile : undefined;
  if (c.checkpointDir) {
    const stored = loadReference(c.checkpointDir);
    if (!('missing' in stored)) return stored;
    if (!fallback) c.onNote?.(`novelty n/a: ${stored.missing} (give --train FILE)`);
  }
  return fallback ? trainingReference(fallback, computing(fallback)) : undefined;
}
