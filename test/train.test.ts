/**
 * Training: the loss goes down on a tiny problem, and a resumed run continues exactly
 * (weights, EMA, optimiser moments, RNG states, position in the epoch).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../src/backend.js';
import { EDM_QM9_DIFFUSION, EDM_QM9_DYNAMICS } from '../src/config.js';
import { datasetInfoFrom, QM9_ATOM_DECODER } from '../src/data/dataset.js';
import { loadQm9Split } from '../src/data/qm9.js';
import type { Molecule } from '../src/data/molecule.js';
import { parseXyz } from '../src/data/xyz.js';
import { train, type TrainOptions } from '../src/train/trainer.js';
import { loadCheckpoint } from '../src/checkpoint/format.js';
import { makeBatch } from '../src/data/batch.js';
import { makeModel } from '../src/diffusion/model.js';
import { trainingLoss } from '../src/diffusion/loss.js';
import { combinedNoise } from '../src/diffusion/noise.js';
import { initParams, type Params } from '../src/egnn/params.js';
import { Rng } from '../src/random.js';
import { HAS_SHARED, SHARED } from './helpers.js';

/** A small training set: QM9 valid molecules when ../shared is present, else hand-made ones. */
async function smallSet(): Promise<Molecule[]> {
  if (HAS_SHARED) return (await loadQm9Split(join(SHARED, 'data', 'qm9'), 'valid')).slice(0, 48);
  const water = '3\nw\nO 0 0 0\nH 0.96 0 0\nH -0.24 0.93 0\n';
  const methane = '5\nm\nC 0 0 0\nH 0.63 0.63 0.63\nH 0.63 -0.63 -0.63\nH -0.63 0.63 -0.63\nH -0.63 -0.63 0.63\n';
  return parseXyz((water + methane).repeat(24));
}

describe('training', () => {
  let mols: Molecule[];
  let base: Omit<TrainOptions, 'outDir'>;
  beforeAll(async () => {
    await initBackend('wasm');
    mols = await smallSet();
    base = {
      train: mols,
      valid: mols.slice(0, 8),
      datasetInfo: datasetInfoFrom('qm9', mols, QM9_ATOM_DECODER),
      dynamics: { ...EDM_QM9_DYNAMICS, nf: 16, nLayers: 2 },
      diffusion: EDM_QM9_DIFFUSION,
      batchSize: 8,
      lr: 1e-3,
      seed: 7,
      checkpointEvery: 4,
      validateEvery: 5,
      validSize: 8,
      // gradients in this thread: quicker for tiny models; the CLI tests cover 1 and 2 workers
      workers: 0,
    };
  });

  it('resumes exactly: losses after a stop equal those of an uninterrupted run', async () => {
    const root = mkdtempSync(join(tmpdir(), 'edm-train-'));
    const straight: number[] = [];
    await train({ ...base, outDir: join(root, 'a'), maxSteps: 10, onStep: (s) => straight.push(s.loss) });
    const first: number[] = [];
    // run 7 steps (last checkpoint at step 4 would be the state after a kill -9 at step 7;
    // here the run stops cleanly at step 7 and writes a checkpoint there), then resume
    await train({ ...base, outDir: join(root, 'b'), maxSteps: 7, onStep: (s) => first.push(s.loss) });
    const resumed: number[] = [];
    await train({ ...base, outDir: join(root, 'b'), maxSteps: 10, resume: true, onStep: (s) => resumed.push(s.loss) });
    expect(straight).toHaveLength(10);
    expect([...first, ...resumed]).toEqual(straight);
    // 10 steps of 8 molecules over 48 molecules cross an epoch boundary (6 batches per epoch)
    expect(straight.every(Number.isFinite)).toBe(true);
  });

  it('learns: after 60 steps the loss at t = T (where eps ~ z_T) is far below the initial model\'s', async () => {
    const root = mkdtempSync(join(tmpdir(), 'edm-learn-'));
    await train({ ...base, outDir: join(root, 'l'), maxSteps: 60, lr: 3e-3, batchSize: 16, validateEvery: 0 });
    const ck = loadCheckpoint(join(root, 'l'), true);
    const raw: Params = {};
    for (const k of Object.keys(ck.params)) raw[k] = ck.trainState!.tensors[`param/${k}`];
    const fresh = initParams(base.dynamics, 7, new Rng('7:init'));
    const batch = makeBatch(mols.slice(0, 16), QM9_ATOM_DECODER);
    const N = batch.graph.hostNodeMask.length / 16;
    const noise = { tInt: new Int32Array(16).fill(1000), eps: combinedNoise(new Rng('fixed'), batch.nNodes, N, 6) };
    const lossOf = (p: Params) => trainingLoss(makeModel(ck.config, p), batch, noise, 29).dataSync()[0];
    const before = lossOf(fresh);
    const after = lossOf(raw);
    expect(after).toBeLessThan(0.5 * before);
    // and the EMA weights moved away from the initial ones too
    expect(Array.from(ck.params['embedding.weight'].dataSync())).not.toEqual(Array.from(fresh['embedding.weight'].dataSync()));
  });

  it('keeps the tensor count flat over steps, and frees every tensor on return and when a step throws', async () => {
    const root = mkdtempSync(join(tmpdir(), 'edm-train-leak-'));
    const before = tf.memory().numTensors;
    const counts: number[] = [];
    // steps 4 and 5 write a checkpoint and run the validation NLL
    await train({ ...base, outDir: join(root, 'a'), maxSteps: 8, onStep: () => counts.push(tf.memory().numTensors) });
    expect(counts).toHaveLength(8);
    expect(new Set(counts).size).toBe(1);
    expect(tf.memory().numTensors).toBe(before);
    const failing = train({
      ...base,
      outDir: join(root, 'b'),
      maxSteps: 8,
      onStep: (s) => {
        if (s.step === 3) throw new Error('a callback failed at step 3');
      },
    });
    await expect(failing).rejects.toThrow('a callback failed at step 3');
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects impossible options', async () => {
    await expect(train({ ...base, outDir: '/tmp/x', batchSize: 0, maxSteps: 1 })).rejects.toThrow(/--batch-size must be a positive integer, got 0/);
    await expect(train({ ...base, outDir: '/tmp/x', train: [], maxSteps: 1 })).rejects.toThrow(/empty/);
    await expect(train({ ...base, outDir: '/tmp/x' })).rejects.toThrow(/say when to stop: --steps, --epochs or --hours/);
  });
});
