/**
 * The runtime is explicit (issue 39): tfjs's backend is process state, so a second request for a
 * different one is an error naming both, not a silent switch to the first one's; requests that
 * share it (onnx and wasm both run tfjs on WebAssembly) are granted as asked.
 */
import { describe, expect, it } from 'vitest';
import { initBackend, startRuntime } from '../src/backend.js';
import { loadOrt } from '../src/onnx/session.js';
import { withRuntime } from '../src/backend.js';
import { makeModel } from '../src/diffusion/model.js';
import { dynamicsInputDim } from '../src/config.js';
import { initParams } from '../src/egnn/params.js';
import { generate } from '../src/generate/run.js';
import { Rng } from '../src/random.js';
import { TINY } from './helpers.js';

describe('backend requests in one process', () => {
  it('a conflicting second backend is refused; a compatible one is granted as asked', async () => {
    expect(await initBackend('wasm')).toBe('wasm');
    await expect(initBackend('cpu')).rejects.toThrow(/backend cpu: this process already computes on wasm/);
    await expect(startRuntime({ backend: 'tensorflow' })).rejects.toThrow(/backend tensorflow: this process already computes on wasm/);
    expect(await initBackend('auto')).toBe('wasm');
    expect(await startRuntime({ backend: 'wasm' })).toMatchObject({ engine: 'tfjs', name: 'wasm' });
    if (loadOrt()) expect(await startRuntime({ backend: 'onnx', threads: 1 })).toEqual({ engine: 'onnx', name: 'onnx', threads: 1 });
  });
});

describe('generate takes the runtime', () => {
  it('runs the model on the runtime given (ONNX Runtime for a plain model), and refuses a runtime with a separate worker backend', async () => {
    await initBackend('wasm');
    const cfg = { ...TINY, diffusion: { ...TINY.diffusion, timesteps: 20 } };
    const model = makeModel(cfg, initParams(cfg.dynamics, dynamicsInputDim(cfg), new Rng('gen-runtime')));
    const opts = { n: 3, seed: 4, steps: 5, workers: 1 };
    const plain = await generate('', model, opts);
    const wasm = await generate('', model, { ...opts, runtime: await startRuntime({ backend: 'wasm' }) });
    expect(wasm.molecules).toEqual(plain.molecules);
    await expect(generate('', model, { ...opts, runtime: await startRuntime({ backend: 'wasm' }), backend: 'wasm' })).rejects.toThrow(/give the runtime or a worker backend, not both/);
    if (!loadOrt()) return;
    const runtime = await startRuntime({ backend: 'onnx', threads: 1 });
    const given = await generate('', model, { ...opts, runtime });
    const attached = await generate('', withRuntime(model, runtime), opts);
    expect(given.molecules).toEqual(attached.molecules);
  });
});
