/**
 * Importer for EDM's published PyTorch files: `generative_model_ema.npy` (despite the name, a
 * `torch.save` zip archive of the state dict) and `args.pickle` (an argparse.Namespace).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { unzipSync } from 'fflate';
import type { DatasetInfo, EdmConfig, NoiseScheduleName, PropertyConditioning } from '../config.js';
import { bondClasses, dynamicsInputDim, validateConfig } from '../config.js';
import { CheckpointError } from '../errors.js';
import { paramShapes, type Params } from '../egnn/params.js';
import { type TorchTensorRef, toRecord, unpickle } from './pickle.js';
import { EDM_DATASETS } from './edm-datasets.js';
import { PROPERTY_UNITS } from '../data/properties.js';

/** A state dict read from a torch zip: name -> float32 data and shape (PyTorch layout). */
export type StateDict = Map<string, { data: Float32Array; shape: number[] }>;

function readFile(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new CheckpointError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** Elements of one imported tensor at most (EDM's largest weight has 66,560; 1 GiB of float32). */
const MAX_TENSOR_ELEMENTS = 2 ** 28;

function toFloat32(ref: TorchTensorRef, raw: Uint8Array, name: string, source: string): Float32Array {
  const size = ref.shape.reduce((a, b) => a * b, 1);
  const bytesPer = { float32: 4, float64: 8, float16: 2, int64: 8, int32: 4, uint8: 1, bool: 1 }[ref.dtype];
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const count = raw.byteLength / bytesPer;
  const read = (k: number): number => {
    if (k < 0 || k >= count) throw new CheckpointError(`${source}: tensor ${name} reads past the end of its storage`);
    const o = k * bytesPer;
    switch (ref.dtype) {
      case 'float32': return view.getFloat32(o, true);
      case 'float64': return view.getFloat64(o, true);
      case 'int64': return Number(view.getBigInt64(o, true));
      case 'int32': return view.getInt32(o, true);
      case 'uint8': case 'bool': return view.getUint8(o);
      default: throw new CheckpointError(`${source}: tensor ${name}: dtype ${ref.dtype} is not supported`);
    }
  };
  // the declared shape must fit its storage before anything is allocated (a 4-byte storage may
  // declare 100,000 x 100,000)
  let last = ref.offset;
  for (let d = 0; d < ref.shape.length; d++) last += Math.max(0, ref.shape[d] - 1) * Math.abs(ref.stride[d] ?? 0);
  if (!Number.isSafeInteger(size) || size > MAX_TENSOR_ELEMENTS || ref.shape.some((v) => !Number.isInteger(v) || v < 0) || (size > 0 && last >= count)) {
    throw new CheckpointError(`${source}: tensor ${name} declares shape [${ref.shape.join(', ')}] (${size} elements), which its storage of ${Math.floor(count)} elements (or the limit of ${MAX_TENSOR_ELEMENTS}) cannot hold`);
  }
  const out = new Float32Array(size);
  const idx = new Array(ref.shape.length).fill(0);
  for (let n = 0; n < size; n++) {
    let k = ref.offset;
    for (let d = 0; d < idx.length; d++) k += idx[d] * ref.stride[d];
    out[n] = read(k);
    for (let d = idx.length - 1; d >= 0; d--) {
      if (++idx[d] < ref.shape[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

/**
 * A `torch.save` zip archive: its files, the folder prefix of its entries and its unpickled
 * `data.pkl` (tensors as storage references into `files`).
 * @throws CheckpointError for a file that is not such an archive or a disallowed global
 */
function readTorchArchive(path: string): { files: Record<string, Uint8Array>; prefix: string; obj: unknown } {
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(readFile(path));
  } catch (e) {
    if (e instanceof CheckpointError) throw e;
    throw new CheckpointError(`${path}: not a valid PyTorch zip archive (${(e as Error).message})`);
  }
  const pklName = Object.keys(files).find((n) => n.endsWith('/data.pkl') || n === 'data.pkl');
  if (!pklName) throw new CheckpointError(`${path}: no data.pkl inside the archive`);
  return { files, prefix: pklName.slice(0, -'data.pkl'.length), obj: unpickle(files[pklName], path) };
}

/**
 * Read a `torch.save` zip archive holding a state dict.
 * @throws CheckpointError for a truncated/corrupt zip, a missing storage, a disallowed global
 */
export function readTorchStateDict(path: string): StateDict {
  const { files, prefix, obj } = readTorchArchive(path);
  if (!(obj instanceof Map)) throw new CheckpointError(`${path}: the pickle is not a state dict`);
  const out: StateDict = new Map();
  for (const [name, ref] of obj as Map<string, TorchTensorRef>) {
    if (!ref || ref.kind !== 'tensor') throw new CheckpointError(`${path}: entry ${name} is not a tensor`);
    const raw = files[`${prefix}data/${ref.storageKey}`];
    if (!raw) throw new CheckpointError(`${path}: storage ${ref.storageKey} of tensor ${name} is missing from the archive`);
    out.set(name, { data: toFloat32(ref, raw, name, path), shape: ref.shape });
  }
  return out;
}

/**
 * Read EDM's `args.pickle` into a plain record.
 * @throws CheckpointError for a corrupt file or a disallowed global
 */
export function readTorchArgs(path: string): Record<string, unknown> {
  return toRecord(unpickle(readFile(path), path), path);
}

/**
 * Map EDM's arguments to our config: an unconditional model, or one conditioned on QM9
 * properties (EDM's `conditioning`, one context channel each) with their normalisation.
 * @param dataset what the model was trained on (EDM's args hold only the dataset's name)
 * @param norms each conditioned property's mean and MAD (EDM computes them from QM9's labels at
 *   run time and stores them nowhere; default: EDM_PROPERTY_NORMS)
 * @throws CheckpointError for a missing or unsupported argument, or a conditioned property
 *   without a normalisation
 */
export function configFromTorchArgs(args: Record<string, unknown>, dataset: DatasetInfo, source: string, norms: PropertyNorms = {}): EdmConfig {
  const need = (k: string): unknown => {
    if (!(k in args)) throw new CheckpointError(`${source}: argument ${k} is missing`);
    return args[k];
  };
  if (need('model') !== 'egnn_dynamics') throw new CheckpointError(`${source}: model ${String(args.model)} is not egnn_dynamics`);
  if (need('probabilistic_model') !== 'diffusion') throw new CheckpointError(`${source}: probabilistic_model must be diffusion`);
  const conditioning = importedConditioning(args, norms, source);
  const aggregation = (args.aggregation_method as string | undefined) ?? 'sum';
  if (aggregation !== 'sum') throw new CheckpointError(`${source}: aggregation_method ${aggregation} is not supported`);
  const nf = need('normalize_factors') as number[];
  const includeCharges = Boolean(need('include_charges'));
  const cfg: EdmConfig = {
    format: 'edm-ts-checkpoint',
    // 5: property conditioning, or EDM's decoding without charges
    version: conditioning || !includeCharges ? 5 : 1,
    dynamics: {
      nf: Number(need('nf')),
      nLayers: Number(need('n_layers')),
      invSublayers: Number(need('inv_sublayers')),
      attention: Boolean(need('attention')),
      tanh: Boolean(need('tanh')),
      coordsRange: 15, // EGNN's default; EDM's QM9 runs never change it
      normConstant: Number(need('norm_constant')),
      normalizationFactor: Number(need('normalization_factor')),
      aggregation: 'sum',
      ...(conditioning ? { contextNodeNf: conditioning.properties.length } : {}),
    },
    diffusion: {
      timesteps: Number(need('diffusion_steps')),
      noiseSchedule: String(need('diffusion_noise_schedule')) as NoiseScheduleName,
      noisePrecision: Number(need('diffusion_noise_precision')),
      normalizeFactors: [Number(nf[0]), Number(nf[1]), Number(nf[2])],
      lossType: String(need('diffusion_loss_type')) === 'vlb' ? 'vlb' : 'l2',
      includeCharges,
      // EDM reads the types as z[:, :, 3:-1] whether or not a charge channel exists
      ...(includeCharges ? {} : { decodeDropsLastType: true }),
    },
    dataset,
    ...(conditioning ? { conditioning } : {}),
    training: { source: `imported from EDM PyTorch files (${source})`, epochs: Number(args.current_epoch ?? NaN) || undefined },
  };
  return validateConfig(cfg, source);
}

/** A conditioned property's normalisation: (value - mean) / mad is the network's context. */
export type PropertyNorms = Record<string, { mean: number; mad: number }>;

/**
 * The normalisation EDM's published conditional QM9 runs used, as far as it is known here: EDM
 * computes it at run time from QM9's validation labels (qm9/utils.compute_mean_mad) and stores it
 * nowhere. alpha: mean 75.3734, MAD 6.2728 bohr^3, the values a public comment quotes for EDM's
 * alpha runs, not checked against QM9's labels here (`edm import-torch --property-norm` sets others).
 */
export const EDM_PROPERTY_NORMS: PropertyNorms = { alpha: { mean: 75.3734, mad: 6.2728 } };

/** Units of the QM9 properties EDM conditions on (its QM9 loader, from Cormorant, turns Hartree into eV, as here), and its heat capacity. */
const EDM_PROPERTY_UNITS: Record<string, string> = { ...PROPERTY_UNITS, Cv: 'cal/mol K' };

/**
 * The property conditioning of EDM's args (`conditioning`: property names; `context_node_nf` one
 * channel each), or undefined for an unconditional model.
 * @throws CheckpointError for a context width that does not match, or a property without a normalisation
 */
function importedConditioning(args: Record<string, unknown>, norms: PropertyNorms, source: string): PropertyConditioning | undefined {
  const names = ((args.conditioning as unknown[] | undefined) ?? []).map(String);
  const width = Number(args.context_node_nf ?? 0);
  if (names.length === 0) {
    if (width !== 0) throw new CheckpointError(`${source}: context_node_nf ${width} without conditioning properties`);
    return undefined;
  }
  if (width !== names.length) throw new CheckpointError(`${source}: context_node_nf ${width} for ${names.length} conditioning properties (${names.join(', ')}); each property is one channel`);
  const properties = names.map((name) => {
    const n = norms[name] ?? EDM_PROPERTY_NORMS[name];
    if (!n) throw new CheckpointError(`${source}: conditioned on ${name}, whose normalisation (mean and mean absolute deviation over QM9's validation split) EDM does not store: give it, e.g. edm import-torch --property-norm ${name}=MEAN,MAD`);
    return { name, unit: EDM_PROPERTY_UNITS[name] ?? '', mean: n.mean, mad: n.mad, source: norms[name] ? 'normalisation given at import' : 'normalisation: EDM_PROPERTY_NORMS (a published comment on EDM\'s runs; not checked here)' };
  });
  return { kind: 'properties', properties };
}

const PREFIX = 'dynamics.egnn.';
const IGNORED = new Set(['gamma.gamma', 'buffer']);

/**
 * Convert an EDM state dict into our weights: strip `dynamics.egnn.`, transpose Linear weights.
 * @throws CheckpointError naming a missing tensor, an unexpected tensor, or a wrong shape
 */
export function paramsFromStateDict(sd: StateDict, cfg: EdmConfig, source: string): Params {
  const shapes = paramShapes(cfg.dynamics, dynamicsInputDim(cfg), bondClasses(cfg));
  for (const name of sd.keys()) {
    if (IGNORED.has(name)) continue;
    if (!name.startsWith(PREFIX) || !shapes.has(name.slice(PREFIX.length))) {
      throw new CheckpointError(`${source}: unexpected tensor ${name} (not part of a ${cfg.dynamics.nLayers}-layer egnn_dynamics with nf ${cfg.dynamics.nf})`);
    }
  }
  const params: Params = {};
  for (const [name, shape] of shapes) {
    const entry = sd.get(PREFIX + name);
    if (!entry) throw new CheckpointError(`${source}: missing tensor ${PREFIX + name}`);
    const isWeight = shape.length === 2;
    const expected = isWeight ? [shape[1], shape[0]] : shape; // PyTorch Linear weight is [out, in]
    if (entry.shape.length !== expected.length || entry.shape.some((d, i) => d !== expected[i])) {
      throw new CheckpointError(`${source}: tensor ${PREFIX + name} has shape [${entry.shape}] but [${expected}] was expected`);
    }
    const t = tf.tensor(entry.data, expected, 'float32');
    params[name] = isWeight ? tf.tidy(() => tf.transpose(t)) : t;
    if (isWeight) t.dispose();
  }
  return params;
}

/**
 * Import an EDM output folder (`generative_model_ema.npy` + `args.pickle`).
 * @param dir folder holding both files
 * @param dataset dataset info to store with the model (EDM's own description replaces it for a
 *   dataset in EDM_DATASETS: its atom types and histogram)
 * @param norms conditioned properties' normalisation (see configFromTorchArgs)
 */
export function importTorchDir(dir: string, dataset: DatasetInfo, norms: PropertyNorms = {}): { config: EdmConfig; params: Params } {
  notAnEdmFolder(dir);
  const argsPath = join(dir, 'args.pickle');
  const weightsPath = join(dir, 'generative_model_ema.npy');
  const args = readTorchArgs(argsPath);
  // a model trained on one of EDM's datasets this machine cannot rebuild keeps EDM's description
  const edm = EDM_DATASETS[String(args.dataset)];
  const info = edm ? { ...dataset, name: String(args.dataset), ...(edm.atomDecoder ? { atomDecoder: edm.atomDecoder } : {}), nNodesHistogram: edm.nNodesHistogram, maxNAtoms: Math.max(...Object.keys(edm.nNodesHistogram).map(Number)) } : dataset;
  const config = configFromTorchArgs(args, info, argsPath, norms);
  const params = paramsFromStateDict(readTorchStateDict(weightsPath), config, weightsPath);
  return { config, params };
}

/**
 * Refuse, saying what it is, a path that is not an EDM output folder: a PyTorch Lightning
 * checkpoint file (DiffSBDD's published pocket models among them, named by their
 * hyper-parameters), another file, or a folder without EDM's two files.
 * @throws CheckpointError naming the path and what edm import-torch reads
 */
function notAnEdmFolder(path: string): void {
  const reads = "edm import-torch reads EDM's output folders (outputs/<run>, holding args.pickle and generative_model_ema.npy)";
  if (!existsSync(path)) throw new CheckpointError(`${path}: no such folder; ${reads}`);
  if (statSync(path).isDirectory()) {
    const missing = ['args.pickle', 'generative_model_ema.npy'].filter((f) => !existsSync(join(path, f)));
    if (missing.length) throw new CheckpointError(`${path}: not an EDM output folder (no ${missing.join(' and no ')}); ${reads}`);
    return;
  }
  const what = lightningCheckpoint(path);
  throw new CheckpointError(`${path}: ${what ?? 'a file, not a folder'}; ${reads}`);
}

/** What a PyTorch Lightning checkpoint file holds, in words (undefined when the file is not one). */
function lightningCheckpoint(path: string): string | undefined {
  let top: Record<string, unknown>;
  try {
    top = toRecord(readTorchArchive(path).obj, path);
  } catch {
    return undefined;
  }
  if (!('hyper_parameters' in top) || !('state_dict' in top)) return undefined;
  const hp = toRecord(top.hyper_parameters, path);
  if (!('egnn_params' in hp)) return `a PyTorch Lightning checkpoint (Lightning ${String(top['pytorch-lightning_version'])}), not EDM's format`;
  const e = toRecord(hp.egnn_params, path);
  return `a DiffSBDD checkpoint (LigandPocketDDPM: dataset ${String(hp.dataset)}, ${String(hp.mode)}, ${String(hp.pocket_representation)} pocket, joint_nf ${String(e.joint_nf)}, hidden_nf ${String(e.hidden_nf)}, ${String(e.n_layers)} layers), whose network (separate ligand and pocket encoders, distance-cut edges, a cross-product coordinate term) edm-ts cannot import yet`;
}
