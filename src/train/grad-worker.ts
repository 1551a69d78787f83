/**
 * A gradient worker: builds the model once, then for each step loads the weights it is sent and
 * returns the loss and gradient of each of its shards.
 * Messages in: { kind: 'step', weights, tasks, denomN }; out: { kind: 'results' | 'error' }.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { type BackendName, initBackend } from '../backend.js';
import type { EdmConfig } from '../config.js';
import type { Params } from '../egnn/params.js';
import { type ShardTask, ShardGradients } from './gradients.js';

const { config, shapes, backend } = workerData as { config: EdmConfig; shapes: Record<string, number[]>; backend: BackendName };
await initBackend(backend);
const like: Params = Object.fromEntries(Object.entries(shapes).map(([k, s]) => [k, tf.zeros(s)]));
const shardGrads = new ShardGradients(config, like);
tf.dispose(Object.values(like));
parentPort!.on('message', (msg: { kind: 'step'; weights: Float32Array; tasks: ShardTask[]; denomN: number }) => {
  try {
    shardGrads.setWeights(msg.weights);
    const results = msg.tasks.map((t) => shardGrads.compute(t, msg.denomN));
    parentPort!.postMessage({ kind: 'results', results }, results.map((r) => r.grad.buffer as ArrayBuffer));
  } catch (e) {
    parentPort!.postMessage({ kind: 'error', message: (e as Error).message });
  }
});
parentPort!.postMessage({ kind: 'ready' });
