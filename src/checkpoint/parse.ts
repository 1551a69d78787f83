/**
 * The checkpoint format's pure parts, with no file system (so the browser page loads checkpoints
 * from fetched bytes): the manifest types, tensors from a weights file's bytes, and the check of
 * every parameter's shape against the network's definition. format.ts reads and writes folders.
 */
import * as tf from '@tensorflow/tfjs';
import { type EdmConfig, bondClasses, dynamicsInputDim, validateConfig } from '../config.js';
import { paramShapes, type Params } from '../egnn/params.js';
import { CheckpointError } from '../errors.js';

/** One binary file of named float32 tensors, stored back to back in manifest order. */
export interface TensorFileManifest {
  file: string;
  sha256: string;
  tensors: { name: string; shape: number[] }[];
}

/** Training state saved beside the weights, enough to resume exactly. */
export interface TrainStateManifest {
  /** raw (non-EMA) weights and optimiser moments: names like `param/…`, `m/…`, `v/…`, `vmax/…` */
  tensors: TensorFileManifest;
  /** JSON-serialisable rest: step, epoch, RNG states, gradient-norm history, options */
  state: Record<string, unknown>;
}

/** The content of `config.json`. */
export interface CheckpointFile extends EdmConfig {
  weights: TensorFileManifest;
  trainState?: TrainStateManifest;
}


/** @throws CheckpointError for a manifest without a plain file name and a tensor list */
export function checkManifest(m: TensorFileManifest, source: string): void {
  if (typeof m?.file !== 'string' || !Array.isArray(m.tensors) || /[\\/]/.test(m.file)) {
    throw new CheckpointError(`${source}: invalid tensor manifest`);
  }
}

/**
 * Tensors from the bytes of a weights file (little-endian float32, back to back in manifest order).
 * @param path the file, for messages
 * @throws CheckpointError for a wrong byte count or a NaN/Inf value (naming the tensor)
 */
export function tensorsFromBytes(bytes: Uint8Array, m: TensorFileManifest, path: string): Record<string, tf.Tensor> {
  const expected = m.tensors.reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0) * 4;
  if (bytes.byteLength !== expected) throw new CheckpointError(`${path}: ${bytes.byteLength} bytes, expected ${expected}`);
  const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const out: Record<string, tf.Tensor> = {};
  let off = 0;
  for (const t of m.tensors) {
    const size = t.shape.reduce((a, b) => a * b, 1);
    const slice = data.subarray(off, off + size);
    for (let i = 0; i < slice.length; i++) {
      if (!Number.isFinite(slice[i])) throw new CheckpointError(`${path}: tensor ${t.name} contains NaN or Inf`);
    }
    out[t.name] = tf.tensor(slice, t.shape, 'float32');
    off += size;
  }
  return out;
}

/** @throws CheckpointError for a missing, unexpected or wrongly shaped parameter (naming it) */
export function checkParamShapes(config: EdmConfig, params: Params, source: string): void {
  const shapes = paramShapes(config.dynamics, dynamicsInputDim(config), bondClasses(config));
  for (const [name, shape] of shapes) {
    const t = params[name];
    if (!t) throw new CheckpointError(`${source}: missing tensor ${name}`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new CheckpointError(`${source}: tensor ${name} has shape [${t.shape}] but [${shape}] was expected`);
    }
  }
  for (const name of Object.keys(params)) {
    if (!shapes.has(name)) throw new CheckpointError(`${source}: unexpected tensor ${name}`);
  }
}

/**
 * A checkpoint from the text of its config.json and the bytes of its weights file (the page's
 * loader; the caller checks the weights' SHA-256 against `weights.sha256` where it can).
 * @param source names the checkpoint in messages
 * @returns the config (without manifests) and the weights
 * @throws CheckpointError for invalid JSON or config, or weights that do not fit it
 */
export function checkpointFromBytes(configText: string, weights: Uint8Array, source: string): { config: EdmConfig; params: Params; file: CheckpointFile } {
  let raw: CheckpointFile;
  try {
    raw = JSON.parse(configText);
  } catch (e) {
    throw new CheckpointError(`${source}: config.json is not valid JSON (${(e as Error).message})`);
  }
  const config = validateConfig(raw, `${source}/config.json`);
  checkManifest(raw.weights, `${source}/config.json`);
  const params = tensorsFromBytes(weights, raw.weights, `${source}/${raw.weights.file}`);
  checkParamShapes(config, params, `${source}/config.json`);
  const { weights: _w, trainState: _t, ...rest } = raw;
  void _w;
  void _t;
  return { config: rest as EdmConfig, params, file: raw };
}
