/**
 * The element model p(h | x) (issue 40): its invariances, its objective and training (the loss
 * falls on a fixed batch, exact resume, a branch from a noise predictor), its checkpoint inside a
 * noise predictor's folder, and sampling with it (final types are the model's, reproducible
 * across batch sizes and workers, refused where it does not apply).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../src/backend.js';
import { loadCheckpoint, saveCheckpoint } from '../src/checkpoint/format.js';
import { BOND_DIFFUSION, EDM_QM9_DIFFUSION, EDM_QM9_DYNAMICS, ELEMENT_MODEL, type EdmConfig, dynamicsInputDim, validateConfig } from '../src/config.js';
import { disposeBatch } from '../src/data/batch.js';
import { QM9_ATOM_DECODER, datasetInfoFrom } from '../src/data/dataset.js';
import { makeTrainingBatch } from '../src/data/examples.js';
import type { Molecule } from '../src/data/molecule.js';
import { parseXyz } from '../src/data/xyz.js';
import { drawStepNoise, trainingLoss } from '../src/diffusion/loss.js';
import { type EdmModel, makeModel, normalizedXh } from '../src/diffusion/model.js';
import { sampleChain } from '../src/diffusion/sampler.js';
import { initParams } from '../src/egnn/params.js';
import { elementAccuracy } from '../src/elements/accuracy.js';
import { ELEMENT_MODEL_DIR, loadSamplingModel } from '../src/elements/load.js';
import { hardFeatures, predictFeatures, predictedClasses } from '../src/diffusion/element-model.js';
import { generate } from '../src/generate/run.js';
import { Rng } from '../src/random.js';
import { disposeGraph, makeGraph } from '../src/graph/graph.js';
import { train } from '../src/train/trainer.js';

const ETHANOL = '9\nethanol\nC -0.0014 -0.4573 0.0000\nC 1.2387 0.4272 0.0000\nO -1.1760 0.3545 0.0000\nH -0.0267 -1.1067 0.8780\nH -0.0267 -1.1067 -0.8780\nH 1.2629 1.0639 0.8854\nH 1.2629 1.0639 -0.8854\nH 2.1449 -0.1809 0.0000\nH -1.9521 -0.2175 0.0000\n';
const METHYLAMINE = '7\nmethylamine\nC 0.0519 0.7044 0.0000\nN 0.0519 -0.7582 0.0000\nH -0.9710 1.0938 0.0000\nH 0.5668 1.0681 0.8836\nH 0.5668 1.0681 -0.8836\nH -0.4556 -1.0508 0.8133\nH -0.4556 -1.0508 -0.8133\n';
const HCN = '3\nhcn\nH 0 0 -1.6\nC 0 0 -0.53\nN 0 0 0.62\n';
const WATER = '3\nwater\nO 0 0 0\nH 0.96 0 0\nH -0.24 0.93 0\n';

const MOLS: Molecule[] = parseXyz(ETHANOL + METHYLAMINE + HCN + WATER);

function noisePredictorConfig(): EdmConfig {
  return {
    format: 'edm-ts-checkpoint',
    version: 2,
    dynamics: { ...EDM_QM9_DYNAMICS, nf: 16, nLayers: 2 },
    diffusion: { ...EDM_QM9_DIFFUSION, timesteps: 100 },
    dataset: datasetInfoFrom('qm9', MOLS, QM9_ATOM_DECODER),
  };
}

const elementConfig = (): EdmConfig => ({ ...noisePredictorConfig(), version: 4, elementModel: ELEMENT_MODEL });

const trainBase = {
  train: MOLS,
  valid: MOLS,
  datasetInfo: datasetInfoFrom('qm9', MOLS, QM9_ATOM_DECODER),
  dynamics: { ...EDM_QM9_DYNAMICS, nf: 16, nLayers: 2 },
  diffusion: { ...EDM_QM9_DIFFUSION, timesteps: 100 },
  batchSize: 4,
  lr: 1e-3,
  workers: 0,
  elementModel: ELEMENT_MODEL,
};

/** Rotate (about a fixed axis), translate and permute a molecule. */
function moved(m: Molecule, perm: number[]): Molecule {
  const [c, s] = [Math.cos(0.7), Math.sin(0.7)];
  const positions = new Float32Array(m.positions.length);
  perm.forEach((from, to) => {
    const [x, y, z] = [m.positions[from * 3], m.positions[from * 3 + 1], m.positions[from * 3 + 2]];
    positions[to * 3] = c * x - s * z + 3.1;
    positions[to * 3 + 1] = y - 1.7;
    positions[to * 3 + 2] = s * x + c * z + 0.4;
  });
  return { elements: perm.map((i) => m.elements[i]), positions };
}

/** Predicted features of each atom of one molecule, `[n, F]` rows. */
function predictedRows(model: EdmModel, m: Molecule, t: number): number[][] {
  const batch = makeTrainingBatch(model.config, [m]);
  const N = batch.graph.hostNodeMask.length;
  const out = tf.tidy(() => predictFeatures(model, tf.slice(normalizedXh(model, batch), [0, 0, 0], [1, N, 3]), [t], batch.graph).arraySync() as number[][][]);
  disposeBatch(batch);
  return out[0].slice(0, m.elements.length);
}

describe('element model', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('is E(3)- and permutation-invariant: rotated, translated, permuted atoms get their own predictions (1e-5)', () => {
    const model = makeModel(elementConfig(), initParams(elementConfig().dynamics, dynamicsInputDim(elementConfig()), new Rng('inv')));
    const m = MOLS[0];
    const perm = [4, 2, 7, 0, 8, 1, 3, 6, 5];
    for (const t of [0, 0.05]) {
      const a = predictedRows(model, m, t);
      const b = predictedRows(model, moved(m, perm), t);
      const scale = Math.max(...a.flat().map(Math.abs));
      expect(scale).toBeGreaterThan(1e-3);
      perm.forEach((from, to) => a[from].forEach((v, k) => expect(Math.abs(b[to][k] - v)).toBeLessThan(1e-5 * Math.max(1, scale))));
    }
  });

  it("its objective reads positions only: features zeroed in z_t, the target is the clean features, the position channels weigh 0, t within tMax", () => {
    const model = makeModel(elementConfig(), initParams(elementConfig().dynamics, dynamicsInputDim(elementConfig()), new Rng('obj')));
    const batch = makeTrainingBatch(model.config, MOLS);
    const noise = drawStepNoise(model, batch, new Rng('n'));
    expect(Math.max(...noise.tInt)).toBeLessThanOrEqual(ELEMENT_MODEL.tMax * 100);
    // the loss does not depend on the features given: same molecules with other elements at the same positions would differ only through the target
    const loss = trainingLoss(model, batch, noise, 29).dataSync()[0];
    expect(Number.isFinite(loss) && loss > 0).toBe(true);
    disposeBatch(batch);
    // hard features: argmax one-hot and that element's atomic number, normalised
    const pred = Float32Array.from([0.1, 0.2, 0.01, 0.3, 0.0, 0.5, 0.2, 0.1, 0.0, 0.0, 0.05, 0.1]);
    const hard = hardFeatures(model, predictedClasses(pred, 6, 5));
    expect(Array.from(hard)).toEqual([0, 0, 0, 0.25, 0, 0.8, 0.25, 0, 0, 0, 0, 0.1].map((v) => Math.fround(v)));
  });

  it('training lowers its loss on a fixed batch, and its accuracy is measured per element', async () => {
    const outDir = mkdtempSync(join(tmpdir(), 'edm-elements-'));
    const cfg = elementConfig();
    const init = initParams(cfg.dynamics, dynamicsInputDim(cfg), new Rng('0:init'));
    await train({ ...trainBase, outDir, maxSteps: 60, emaDecay: 0, validateEvery: 60, validSize: 4 });
    const ck = loadCheckpoint(outDir);
    expect(ck.config.version).toBe(4);
    expect(ck.config.elementModel).toEqual(ELEMENT_MODEL);
    const lossOf = (params: typeof init): number => {
      const model = makeModel(cfg, params);
      const batch = makeTrainingBatch(cfg, MOLS);
      const l = trainingLoss(model, batch, drawStepNoise(model, batch, new Rng('fixed')), 29).dataSync()[0];
      disposeBatch(batch);
      return l;
    };
    const before = lossOf(init);
    const after = lossOf(ck.params);
    expect(after).toBeLessThan(0.5 * before);
    const log = readFileSync(join(outDir, 'train-log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const acc = log.filter((e) => e.event === 'element-accuracy');
    expect(acc.map((e) => e.t)).toEqual([0, ELEMENT_MODEL.tMax]);
    const direct = elementAccuracy(makeModel(ck.config, ck.params), MOLS, 0);
    expect(acc[0].accuracy).toBeCloseTo(direct.accuracy, 10);
    expect(direct.perElement.H.atoms).toBe(14);
    expect(direct.perElement.C.atoms + direct.perElement.N.atoms + direct.perElement.O.atoms).toBe(8);
    tf.dispose([...Object.values(init), ...Object.values(ck.params)]);
  });

  it('resumes exactly: 4 steps equal 2 steps then 2 resumed', async () => {
    const root = mkdtempSync(join(tmpdir(), 'edm-elements-resume-'));
    await train({ ...trainBase, outDir: join(root, 'straight'), maxSteps: 4 });
    await train({ ...trainBase, outDir: join(root, 'resumed'), maxSteps: 2 });
    await train({ ...trainBase, outDir: join(root, 'resumed'), maxSteps: 4, resume: true });
    const a = loadCheckpoint(join(root, 'straight'), true);
    const b = loadCheckpoint(join(root, 'resumed'), true);
    for (const [k, v] of Object.entries(a.params)) expect(Array.from(b.params[k].dataSync()), k).toEqual(Array.from(v.dataSync()));
    for (const [k, v] of Object.entries(a.trainState!.tensors)) expect(Array.from(b.trainState!.tensors[k].dataSync()), k).toEqual(Array.from(v.dataSync()));
    tf.dispose([...Object.values(a.params), ...Object.values(b.params), ...Object.values(a.trainState!.tensors), ...Object.values(b.trainState!.tensors)]);
  });

  it('a branch from a noise predictor takes its architecture and weights, at step 0; a noise predictor is not resumed as one', async () => {
    const root = mkdtempSync(join(tmpdir(), 'edm-elements-branch-'));
    const { elementModel: _e, ...plainBase } = trainBase;
    await train({ ...plainBase, outDir: join(root, 'plain'), maxSteps: 2, dynamics: { ...EDM_QM9_DYNAMICS, nf: 24, nLayers: 1 } });
    const res = await train({ ...trainBase, outDir: join(root, 'elements'), from: join(root, 'plain'), maxSteps: 1, lr: 1e-30 });
    expect(res.step).toBe(1);
    const parent = loadCheckpoint(join(root, 'plain'));
    const child = loadCheckpoint(join(root, 'elements'));
    expect(child.config.dynamics.nf).toBe(24);
    expect(child.config.elementModel).toEqual(ELEMENT_MODEL);
    const w = 'e_block_0.gcl_0.edge_mlp.0.weight';
    const d = child.params[w].dataSync().map((v, i) => Math.abs(v - parent.params[w].dataSync()[i]));
    // (the EMA of one step at lr 1e-30 rounds in float32)
    expect(Math.max(...d)).toBeLessThan(1e-6);
    // the output layer is new (the noise predictor's has the opposite sign)
    const o = 'embedding_out.weight';
    const dOut = child.params[o].dataSync().map((v, i) => Math.abs(v - parent.params[o].dataSync()[i]));
    expect(Math.max(...dOut)).toBeGreaterThan(1e-3);
    tf.dispose([...Object.values(parent.params), ...Object.values(child.params)]);
    await expect(train({ ...trainBase, outDir: join(root, 'plain'), maxSteps: 3, resume: true })).rejects.toThrow(/holds a noise predictor/);
    // a branch of an element model keeps every weight, with its own noise range
    await train({ ...trainBase, outDir: join(root, 'narrow'), from: join(root, 'elements'), elementModel: { kind: 'elements', tMax: 0.03 }, maxSteps: 1, lr: 1e-30 });
    const narrow = loadCheckpoint(join(root, 'narrow'));
    const wide = loadCheckpoint(join(root, 'elements'));
    expect(narrow.config.elementModel!.tMax).toBe(0.03);
    const dHead = narrow.params[o].dataSync().map((v, i) => Math.abs(v - wide.params[o].dataSync()[i]));
    expect(Math.max(...dHead)).toBeLessThan(1e-6);
    tf.dispose([...Object.values(narrow.params), ...Object.values(wide.params)]);
    await expect(train({ ...trainBase, outDir: join(root, 'bonded'), diffusion: { ...trainBase.diffusion, bonds: BOND_DIFFUSION }, maxSteps: 1 })).rejects.toThrow(/no --bonds, no pocket/);
    // the config section is checked on load
    expect(() => validateConfig({ ...child.config, version: 3 }, 'c.json')).toThrow(/elementModel needs config version 4/);
    expect(() => validateConfig({ ...child.config, elementModel: { kind: 'elements', tMax: 2 } }, 'c.json')).toThrow(/tMax in \(0, 1\]/);
  });

  describe('sampling', () => {
    let dir: string;
    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'edm-elements-ck-'));
      const cfg = noisePredictorConfig();
      await saveCheckpoint(dir, cfg, initParams(cfg.dynamics, dynamicsInputDim(cfg), new Rng('np')));
      const ecfg = elementConfig();
      await saveCheckpoint(join(dir, ELEMENT_MODEL_DIR), ecfg, initParams(ecfg.dynamics, dynamicsInputDim(ecfg), new Rng('el')));
    });

    it('a checkpoint loads with its element model; the final types are the element model\'s on the final positions', () => {
      const model = loadSamplingModel(dir);
      expect(model.elements?.config.elementModel).toEqual(ELEMENT_MODEL);
      const nNodes = Int32Array.from([5, 3]);
      const plain = sampleChain(model, nNodes, new Rng('s'), { steps: 6 });
      const typed = sampleChain(model, nNodes, new Rng('s'), { steps: 6, elements: { model: model.elements!, from: 0 } });
      // typing at the end leaves the chain and its positions as they were
      expect(Array.from(typed.x)).toEqual(Array.from(plain.x));
      const N = typed.N;
      const graph = makeGraph({ nNodes, N });
      const pred = tf.tidy(() => predictFeatures(model.elements!, tf.tensor3d(typed.x, [2, N, 3]), [0, 0], graph).dataSync() as Float32Array);
      disposeGraph(graph);
      const hard = hardFeatures(model.elements!, predictedClasses(pred, 6, 5));
      let changed = 0;
      for (let b = 0; b < 2; b++) {
        for (let i = 0; i < nNodes[b]; i++) {
          const a = b * N + i;
          const k = typed.atomTypes[a];
          expect(hard[a * 6 + k]).toBe(0.25);
          expect(typed.charges[a]).toBe([1, 6, 7, 8, 9][k]);
          if (k !== plain.atomTypes[a]) changed++;
        }
      }
      expect(changed).toBeGreaterThan(0);
      // typing from t = 0.1 changes the chain (the positions settle around the new types)
      const plain20 = sampleChain(model, nNodes, new Rng('s'), { steps: 20 });
      const early = sampleChain(model, nNodes, new Rng('s'), { steps: 20, elements: { model: model.elements!, from: 0.1 } });
      expect(Array.from(early.x)).not.toEqual(Array.from(plain20.x));
    });

    it('a checkpoint without an element model loads and samples exactly as before', async () => {
      const old = mkdtempSync(join(tmpdir(), 'edm-elements-old-'));
      const cfg = noisePredictorConfig();
      const params = initParams(cfg.dynamics, dynamicsInputDim(cfg), new Rng('np'));
      await saveCheckpoint(old, cfg, params);
      const loaded = loadSamplingModel(old);
      expect(loaded.elements).toBeUndefined();
      const ck = loadCheckpoint(old);
      const a = sampleChain(loaded, Int32Array.from([4, 6]), new Rng('same'), { steps: 5 });
      const b = sampleChain(makeModel(ck.config, ck.params), Int32Array.from([4, 6]), new Rng('same'), { steps: 5 });
      expect(Array.from(a.x)).toEqual(Array.from(b.x));
      expect(Array.from(a.atomTypes)).toEqual(Array.from(b.atomTypes));
    });

    it('gives the same molecules whatever the batch size and the workers (wasm, byte for byte)', async () => {
      const model = loadSamplingModel(dir);
      const run = (batchSize: number, workers: number): Promise<string> =>
        generate(dir, model, { n: 5, seed: 3, steps: 4, batchSize, workers, backend: 'wasm', elements: { from: 0.05 } }).then((r) => JSON.stringify(r.molecules.map((m) => [m.elements, Array.from(m.positions)])));
      const one = await run(5, 1);
      expect(await run(2, 1)).toBe(one);
      expect(await run(2, 2)).toBe(one);
      // shards: the two halves, concatenated, are the run
      const shard = async (index: number): Promise<unknown[]> => (await generate(dir, model, { n: 5, seed: 3, steps: 4, batchSize: 2, workers: 1, backend: 'wasm', elements: { from: 0.05 }, shard: { index, count: 2 } })).molecules.map((m) => [m.elements, Array.from(m.positions)]);
      expect(JSON.stringify([...(await shard(0)), ...(await shard(1))])).toBe(one);
      const plain = await generate(dir, model, { n: 5, seed: 3, steps: 4, batchSize: 5, workers: 1, backend: 'wasm' });
      expect(JSON.stringify(plain.molecules.map((m) => [m.elements, Array.from(m.positions)]))).not.toBe(one);
    });

    it('is refused where it does not apply, with one message each', async () => {
      const cfg = noisePredictorConfig();
      const bare = makeModel(cfg, initParams(cfg.dynamics, dynamicsInputDim(cfg), new Rng('np')));
      await expect(generate(dir, bare, { n: 2, seed: 0, steps: 2, workers: 1, elements: { from: 0 } })).rejects.toThrow(/ships no element model/);
      const model = loadSamplingModel(dir);
      await expect(generate(dir, model, { n: 2, seed: 0, steps: 2, workers: 1, elements: { from: 0.5 } })).rejects.toThrow(/trained on position noise up to t = 0.1/);
      expect(() => sampleChain(model, Int32Array.from([3]), new Rng('s'), { steps: 2, elements: { model: model.elements!, from: 0 }, inpaint: { known: Float32Array.from([1, 0, 0]), xh: new Float32Array(27) } })).toThrow(/inpainting/);
      expect(() => loadSamplingModel(join(dir, ELEMENT_MODEL_DIR))).toThrow(/an element model/);
    });
  });
});
