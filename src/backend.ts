/**
 * Compute backend selection. tfjs-node-gpu / tfjs-node are used when the user has installed
 * one (they are optional, never dependencies: their install step downloads a native library);
 * otherwise the network runs in ONNX Runtime (`onnx`: onnxruntime-node, an optional dependency
 * that carries its CPU library; training and the sampler's arithmetic stay on tfjs WebAssembly),
 * else everything runs on the WebAssembly backend (SIMD), which works everywhere Node.js does.
 *
 * The choice is one `Runtime` value, made once from options (`startRuntime`) and passed to
 * sampling, training and pocket generation; a model runs on it through `withRuntime`, which
 * returns a new model and leaves the given one as it was.
 */
import * as tf from '@tensorflow/tfjs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { OptionError } from './errors.js';
import type { EdmModel } from './diffusion/model.js';
import { OnnxInference, loadOrt } from './onnx/session.js';

/** Backends a user can ask for; `auto` picks the fastest one installed. */
export type BackendName = 'auto' | 'tensorflow-gpu' | 'tensorflow' | 'onnx' | 'wasm' | 'cpu';

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
 * Initialise tfjs with a backend, once per process (tfjs's backend is process state).
 * @param name `auto` (default): tfjs-node-gpu, else tfjs-node, else ONNX Runtime, else wasm.
 * @returns the backend's name (`onnx` when the network is to run in ONNX Runtime, else the
 *   active tfjs backend, e.g. `wasm`, `tensorflow`)
 * @throws OptionError when a named backend's package is not installed or fails to start.
 */
export async function initBackend(name: BackendName = 'auto'): Promise<string> {
  if (initialised) return againInitialised(name, initialised);
  const order: BackendName[] =
    name === 'auto' ? ['tensorflow-gpu', 'tensorflow', 'onnx', 'wasm'] : [name];
  let onnx = false;
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
        onnx = candidate === 'onnx';
        break;
      }
    } else if (candidate === 'cpu') {
      if (await tf.setBackend('cpu')) break;
    }
    if (name !== 'auto') throw new OptionError(`backend ${candidate} could not be initialised`);
  }
  await tf.ready();
  initialised = onnx ? 'onnx' : tf.getBackend();
  return initialised;
}

/** The tfjs backend a backend name runs tfjs on (ONNX Runtime runs the network beside wasm). */
const tfjsBackendOf = (name: BackendName, current: string): string => (name === 'onnx' || name === 'wasm' ? 'wasm' : name === 'cpu' ? 'cpu' : name === 'auto' ? current : 'tensorflow');

/**
 * A second request in a process whose tfjs backend is already chosen: the same backend (or one
 * that shares it: onnx and wasm both run tfjs on WebAssembly) is granted, another is an error
 * rather than a silent switch to the first one's.
 * @throws OptionError naming both backends
 */
function againInitialised(name: BackendName, current: string): string {
  if (name === 'auto') return current;
  if (tfjsBackendOf(name, current) !== tf.getBackend()) throw new OptionError(`backend ${name}: this process already computes on ${current} (tfjs's backend is chosen once per process; use another process for ${name})`);
  if (name === 'onnx' && !loadOrt()) throw new OptionError('backend onnx: package onnxruntime-node is not installed (npm install onnxruntime-node)');
  return name === 'tensorflow-gpu' ? 'tensorflow' : name;
}

/** How this process computes: made once from options by `startRuntime`, then passed along. */
export interface Runtime {
  /** what runs the network: ONNX Runtime (everything else on tfjs WebAssembly), or tfjs */
  engine: 'onnx' | 'tfjs';
  /** the backend's name as `--backend` spells it: onnx, wasm, cpu, tensorflow */
  name: string;
  /** ONNX Runtime intra-op threads of sampling and training on the onnx engine (default one per core) */
  threads: number;
}

/** What `startRuntime` takes. */
export interface RuntimeOptions {
  /** default `auto` (see `initBackend`) */
  backend?: BackendName;
  /** ONNX Runtime intra-op threads (onnx engine only; default one per core) */
  threads?: number;
}

/**
 * Start the compute backend and describe it: the one place backend and thread options are checked.
 * @throws OptionError for a backend that is not installed, a thread count that is not a
 *   positive integer, or threads asked of a tfjs backend (its parallelism is worker threads)
 */
export async function startRuntime(opts: RuntimeOptions = {}): Promise<Runtime> {
  const { threads } = opts;
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1)) throw new OptionError(`--threads must be a positive integer, got ${threads}`);
  const name = await initBackend(opts.backend ?? 'auto');
  if (threads !== undefined && name !== 'onnx') throw new OptionError(`--threads ${threads}: it sets ONNX Runtime's threads, and this run computes on ${name} (use --workers there)`);
  return { engine: name === 'onnx' ? 'onnx' : 'tfjs', name, threads: threads ?? availableParallelism() };
}

/**
 * The runtime of a process whose tfjs backend is started and whose network runs on tfjs: what
 * library calls use when given no runtime.
 */
export function tfjsRuntime(): Runtime {
  return { engine: 'tfjs', name: tf.getBackend(), threads: 1 };
}

/**
 * `model` with its network on `runtime` for inference: on the onnx engine a new model whose
 * network runs in ONNX Runtime (the weights exported once; close it with `closeModel`), else
 * `model` itself. The given model is not changed. Never for a model being trained.
 */
export function withRuntime(model: EdmModel, runtime: Runtime): EdmModel {
  if (runtime.engine !== 'onnx') return model;
  const elements = model.elements && withRuntime(model.elements, runtime);
  return { ...model, inference: new OnnxInference(model.config, model.params, runtime.threads), ...(elements ? { elements } : {}) };
}

/** Free what `withRuntime` attached (the ONNX Runtime sessions, the element model's too); the weights stay. */
export function closeModel(model: EdmModel): void {
  model.inference?.close?.();
  if (model.elements) closeModel(model.elements);
}

export { tf };

/**
 * The backend that worker threads should start to compute as this thread's tfjs does (each
 * worker initialises its own; tfjs-node reports `tensorflow` whether or not it is the GPU build).
 */
export function workerBackend(): BackendName {
  const b = tf.getBackend();
  return b === 'wasm' || b === 'cpu' ? b : 'tensorflow';
}
