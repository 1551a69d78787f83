/**
 * Compute backend selection. tfjs-node-gpu / tfjs-node are used when the user has installed
 * one (they are optional, never dependencies: their install step downloads a native library);
 * otherwise the network runs in ONNX Runtime (`onnx`: onnxruntime-node, an optional dependency
 * that carries its CPU library; training and the sampler's arithmetic stay on tfjs WebAssembly),
 * else everything runs on the WebAssembly backend (SIMD), which works everywhere Node.js does.
 */
import * as tf from '@tensorflow/tfjs';
import { createRequire } from 'node:module';
import { OptionError } from './errors.js';
import type { EdmModel } from './diffusion/model.js';
import { OnnxInference, loadOrt } from './onnx/session.js';

/** Backends a user can ask for; `auto` picks the fastest one installed. */
export type BackendName = 'auto' | 'tensorflow-gpu' | 'tensorflow' | 'onnx' | 'wasm' | 'cpu';

let onnxActive = false;

const requireOptional = createRequire(import.meta.url);

function tryLoad(pkg: string): boolean {
  try {
    requireOptional(pkg);
    return true;
  } catch {
    return false;
  }
}

let initialised: string | undefined;

/**
 * Initialise tfjs with a backend, once per process.
 * @param name `auto` (default): tfjs-node-gpu, else tfjs-node, else wasm.
 * @returns the name of the active tfjs backend (e.g. `wasm`, `tensorflow`).
 * @throws OptionError when a named backend's package is not installed or fails to start.
 */
export async function initBackend(name: BackendName = 'auto'): Promise<string> {
  if (initialised) return initialised;
  const order: BackendName[] =
    name === 'auto' ? ['tensorflow-gpu', 'tensorflow', 'onnx', 'wasm'] : [name];
  for (const candidate of order) {
    if (candidate === 'onnx' && !loadOrt()) {
      if (name !== 'auto') throw new OptionError('backend onnx: package onnxruntime-node is not installed (npm install onnxruntime-node)');
      continue;
    }
    if (candidate === 'tensorflow-gpu' || candidate === 'tensorflow') {
      const pkg = candidate === 'tensorflow-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
      if (!tryLoad(pkg)) {
        if (name !== 'auto') throw new OptionError(`backend ${candidate}: package ${pkg} is not installed`);
        continue;
      }
      if (await tf.setBackend('tensorflow')) break;
    } else if (candidate === 'wasm' || candidate === 'onnx') {
      // onnx: the network in ONNX Runtime, everything else on wasm
      await import('@tensorflow/tfjs-backend-wasm');
      if (await tf.setBackend('wasm')) {
        onnxActive = candidate === 'onnx';
        break;
      }
    } else if (candidate === 'cpu') {
      if (await tf.setBackend('cpu')) break;
    }
    if (name !== 'auto') throw new OptionError(`backend ${candidate} could not be initialised`);
  }
  await tf.ready();
  initialised = onnxActive ? 'onnx' : tf.getBackend();
  return initialised;
}

/** Whether `initBackend` chose `onnx` (the network runs in ONNX Runtime). */
export function isOnnxActive(): boolean {
  return onnxActive;
}

/**
 * Run `model`'s network in ONNX Runtime for inference when the `onnx` backend is active (the
 * weights are exported once; never for a model being trained). @returns whether it was attached
 * @param threads ONNX Runtime intra-op threads (default one per core)
 */
export function useInferenceBackend(model: EdmModel, threads?: number): boolean {
  if (!onnxActive) return false;
  model.inference ??= new OnnxInference(model.config, model.params, threads);
  return true;
}

export { tf };

/**
 * The backend that worker threads should start to compute as this thread does (each worker
 * initialises its own; tfjs-node reports `tensorflow` whether or not it is the GPU build).
 */
export function workerBackend(): BackendName {
  const b = tf.getBackend();
  return b === 'wasm' || b === 'cpu' ? b : 'tensorflow';
}
