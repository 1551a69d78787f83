/**
 * Our checkpoint format: a folder with `config.json` (the EdmConfig, a manifest of the weights
 * file with its SHA-256, and optionally training state) and little-endian float32 `.bin` files.
 *
 * Writes are atomic: binary files get fresh names (with the step), then `config.json` is
 * replaced by rename; a crash at any point leaves the previous checkpoint loadable.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { type EdmConfig, validateConfig } from '../config.js';
import { writeFileAtomic } from '../data/files.js';
import type { Params } from '../egnn/params.js';
import { type CheckpointFile, type TensorFileManifest, checkManifest, checkParamShapes, tensorsFromBytes } from './parse.js';

export type { CheckpointFile, TensorFileManifest, TrainStateManifest } from './parse.js';
import { CheckpointError } from '../errors.js';

/** A loaded checkpoint. */
export interface LoadedCheckpoint {
  config: EdmConfig;
  /** the weights to sample with (EMA weights for trained models) */
  params: Params;
  trainState?: { tensors: Record<string, tf.Tensor>; state: Record<string, unknown> };
  dir: string;
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

async function packTensors(named: [string, tf.Tensor][], file: string): Promise<{ bytes: Uint8Array; manifest: TensorFileManifest }> {
  const total = named.reduce((n, [, t]) => n + t.size, 0);
  const buf = new Float32Array(total);
  let off = 0;
  for (const [, t] of named) {
    buf.set((await t.data()) as Float32Array, off);
    off += t.size;
  }
  const bytes = new Uint8Array(buf.buffer);
  return { bytes, manifest: { file, sha256: sha256(bytes), tensors: named.map(([name, t]) => ({ name, shape: [...t.shape] })) } };
}

function unpackTensors(dir: string, m: TensorFileManifest, source: string): Record<string, tf.Tensor> {
  checkManifest(m, source);
  const path = join(dir, m.file);
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch {
    throw new CheckpointError(`${path}: missing (referenced by ${source})`);
  }
  if (sha256(bytes) !== m.sha256) throw new CheckpointError(`${path}: checksum mismatch (file corrupt or truncated)`);
  return tensorsFromBytes(bytes, m, path);
}

/**
 * Save a checkpoint atomically.
 * @param dir folder (created if needed)
 * @param params the weights to sample with
 * @param train optional training state (raw weights, optimiser moments, JSON state)
 * @param tag distinguishes binary file names between saves (e.g. the step); default `final`
 */
export async function saveCheckpoint(
  dir: string,
  config: EdmConfig,
  params: Params,
  train?: { tensors: Record<string, tf.Tensor>; state: Record<string, unknown> },
  tag = 'final',
): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const weights = await packTensors(Object.entries(params), `weights-${tag}.bin`);
  writeFileAtomic(join(dir, weights.manifest.file), weights.bytes);
  const file: CheckpointFile = { ...config, weights: weights.manifest };
  if (train) {
    const packed = await packTensors(Object.entries(train.tensors), `train-state-${tag}.bin`);
    writeFileAtomic(join(dir, packed.manifest.file), packed.bytes);
    file.trainState = { tensors: packed.manifest, state: train.state };
  }
  writeFileAtomic(join(dir, 'config.json'), JSON.stringify(file, null, 1) + '\n');
  // drop binaries no longer referenced
  const keep = new Set([file.weights.file, file.trainState?.tensors.file]);
  for (const f of readdirSync(dir)) {
    if (/^(weights|train-state)-.*\.bin$/.test(f) && !keep.has(f)) rmSync(join(dir, f), { force: true });
  }
}

/** A checkpoint folder's config.json, parsed and validated. @throws CheckpointError naming the folder or file */
function readConfigFile(dir: string): { raw: CheckpointFile; config: EdmConfig; cfgPath: string } {
  const cfgPath = join(dir, 'config.json');
  if (!existsSync(dir)) throw new CheckpointError(`${dir}: does not exist`);
  if (!existsSync(cfgPath)) throw new CheckpointError(`${dir}: not a checkpoint (no config.json)`);
  let raw: CheckpointFile;
  try {
    raw = JSON.parse(readFileSync(cfgPath, 'utf8'));
  } catch (e) {
    throw new CheckpointError(`${cfgPath}: not valid JSON (${(e as Error).message})`);
  }
  return { raw, config: validateConfig(raw, cfgPath), cfgPath };
}

/**
 * The configuration of a checkpoint folder alone (no weights read): its model, diffusion and dataset.
 * @throws CheckpointError for a missing folder or config.json, or an invalid config
 */
export function loadCheckpointConfig(dir: string): EdmConfig {
  const { weights: _w, trainState: _s, ...config } = readConfigFile(dir).raw;
  return config as EdmConfig;
}

/**
 * Load and validate a checkpoint folder.
 * @param withTrainState also load the training state (for `--resume`)
 * @throws CheckpointError for a missing folder or file, invalid config, checksum mismatch,
 *   a missing/unexpected tensor or a wrong shape (naming it)
 */
export function loadCheckpoint(dir: string, withTrainState = false): LoadedCheckpoint {
  const { raw, config, cfgPath } = readConfigFile(dir);
  const params = unpackTensors(dir, raw.weights, cfgPath);
  checkParamShapes(config, params, cfgPath);
  const { weights: _w, trainState: ts, ...rest } = raw;
  void _w;
  const out: LoadedCheckpoint = { config: rest as EdmConfig, params, dir };
  if (withTrainState) {
    if (!ts) throw new CheckpointError(`${cfgPath}: no training state to resume from`);
    out.trainState = { tensors: unpackTensors(dir, ts.tensors, cfgPath), state: ts.state };
  }
  return out;
}
