/**
 * The bond-aware variant (issue 19): bond labels and batches, the bonds' symmetric noise, the
 * ONNX Runtime training step against tfjs autodiff with the bonds' loss term, the sampler's bond
 * orders, the likelihood bound's bond terms, and a training run through `train` that writes a
 * version 3 checkpoint whose samples carry bond orders.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../src/backend.js';
import { loadCheckpoint } from '../src/checkpoint/format.js';
import { BOND_DIFFUSION, EDM_QM9_DIFFUSION, bondClasses, featureDim, EDM_QM9_DYNAMICS, type EdmConfig, dynamicsInputDim, validateConfig } from '../src/config.js';
import { disposeBatch, makeBatch } from '../src/data/batch.js';
import { QM9_ATOM_DECODER, datasetInfoFrom } from '../src/data/dataset.js';
import type { Molecule } from '../src/data/molecule.js';
import { loadQm9Split } from '../src/data/qm9.js';
import { parseXyz } from '../src/data/xyz.js';
import { inferBonds } from '../src/decode/bonds.js';
import { withBondsAndStability } from '../src/decode/write.js';
import { parseSdf, formatSdf } from '../src/data/sdf.js';
import { drawStepNoise } from '../src/diffusion/loss.js';
import { makeModel, nll, phi, phiState, type StateTensors } from '../src/diffusion/model.js';
import { type MolGraph, makeGraph, disposeGraph } from '../src/graph/graph.js';
import { OnnxInference } from '../src/onnx/session.js';
import { combinedNoise, symmetricPairNoise } from '../src/diffusion/noise.js';
import { langevinStep, sampleChain } from '../src/diffusion/sampler.js';
import { sigmaOf } from '../src/diffusion/schedule.js';
import { initParams, paramShapes } from '../src/egnn/params.js';
import { disposeWeights, freshWeights, growWeights } from '../src/train/state.js';
import { loadOrt } from '../src/onnx/session.js';
import { Rng } from '../src/random.js';
import { labelBonds } from '../src/train/data.js';
import { validationNll } from '../src/train/validation.js';
import { ShardGradients, flatten, makeShardTasks, paramOrder, splitFlat } from '../src/train/gradients.js';
import { OnnxGradients } from '../src/train/onnx-gradients.js';
import { train } from '../src/train/trainer.js';
import { HAS_SHARED, ROOT, SHARED } from './helpers.js';
import { evaluateMolecules } from '../src/metrics/evaluate.js';
import { formatReport } from '../src/report/table.js';
import { OWN_BOND_CURVE_COLUMNS, readCurve } from '../src/report/curve-data.js';
import { CURVE_BATCH_SIZE, CURVE_SEED } from '../src/train/curve.js';
import { generate } from '../src/generate/run.js';
import { bondDisagreements } from '../src/report/html/cards.js';
import { chemistFields, keeps } from '../src/metrics/fields.js';
import { loadRDKit } from '../src/metrics/rdkit.js';

const ORT_ABSENT = loadOrt() === undefined;

const ETHYLENE = '6\nethylene\nC 0 0 0.6675\nC 0 0 -0.6675\nH 0 0.9236 1.2397\nH 0 -0.9236 1.2397\nH 0 0.9236 -1.2397\nH 0 -0.9236 -1.2397\n';
const WATER = '3\nwater\nO 0 0 0\nH 0.96 0 0\nH -0.24 0.93 0\n';

/** QM9 validation molecules when ../shared is present, else hand-made ones; bonds labelled. */
async function labelledSet(count: number): Promise<Molecule[]> {
  const mols = HAS_SHARED ? (await loadQm9Split(join(SHARED, 'data', 'qm9'), 'valid')).slice(0, count) : parseXyz((ETHYLENE + WATER).repeat(count / 2));
  labelBonds(mols);
  return mols;
}

function bondConfig(mols: Molecule[], nf = 16, nLayers = 2): EdmConfig {
  return {
    format: 'edm-ts-checkpoint',
    version: 3,
    dynamics: { ...EDM_QM9_DYNAMICS, nf, nLayers },
    diffusion: { ...EDM_QM9_DIFFUSION, timesteps: 100, bonds: BOND_DIFFUSION },
    dataset: datasetInfoFrom('qm9', mols, QM9_ATOM_DECODER),
  };
}

describe('bond-aware model', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('labels bonds from distances and batches them as a symmetric one-hot, class 0 for real pairs without a bond', () => {
    const [ethylene, water] = parseXyz(ETHYLENE + WATER);
    expect(labelBonds([ethylene, water])).toEqual({ molecules: 2, stable: 2 });
    expect(ethylene.bonds!.find((b) => b.i === 0 && b.j === 1)!.order).toBe(2);
    const K = 4;
    const N = 6;
    const batch = makeBatch([ethylene, water], QM9_ATOM_DECODER, N, K);
    try {
      expect(batch.bonds!.shape).toEqual([2, N, N, K]);
      const e = batch.host.bonds!;
      const at = (b: number, i: number, j: number): number[] => Array.from(e.slice(((b * N + i) * N + j) * K, ((b * N + i) * N + j + 1) * K));
      expect(at(0, 0, 1)).toEqual([0, 0, 1, 0]);
      expect(at(0, 1, 0)).toEqual([0, 0, 1, 0]);
      expect(at(0, 2, 3)).toEqual([1, 0, 0, 0]);
      expect(at(0, 0, 2)).toEqual([0, 1, 0, 0]);
      expect(at(0, 4, 4)).toEqual([0, 0, 0, 0]);
      expect(at(1, 0, 1)).toEqual([0, 1, 0, 0]);
      expect(at(1, 1, 2)).toEqual([1, 0, 0, 0]);
      expect(at(1, 3, 0)).toEqual([0, 0, 0, 0]);
    } finally {
      disposeBatch(batch);
    }
    expect(() => makeBatch([{ ...water, bonds: undefined }], QM9_ATOM_DECODER, 3, K)).toThrow(/has no bond orders/);
    expect(() => makeBatch([{ ...water, bonds: [{ i: 0, j: 1, order: 4 }] }], QM9_ATOM_DECODER, 3, K)).toThrow(/bond 1-2 has order 4; this model knows orders 1\.\.3/);
  });

  it('draws one noise value per unordered pair of denoised atoms, mirrored, zero on the diagonal and padding', () => {
    const K = 3;
    const N = 5;
    const e = symmetricPairNoise(new Rng('pairs'), [5, 3], N, K);
    let nonzero = 0;
    for (let b = 0; b < 2; b++)
      for (let i = 0; i < N; i++)
        for (let j = 0; j < N; j++)
          for (let k = 0; k < K; k++) {
            const v = e[((b * N + i) * N + j) * K + k];
            expect(v).toBe(e[((b * N + j) * N + i) * K + k]);
            const real = i !== j && i < [5, 3][b] && j < [5, 3][b];
            if (!real) expect(v).toBe(0);
            else if (v !== 0) nonzero++;
          }
    // (10 + 3) pairs x 3 channels, each stored twice
    expect(nonzero).toBe(2 * 13 * K);
  });

  it('ONNX Runtime training step equals tfjs autodiff for every parameter with the bonds term (1e-4 relative)', async (ctx) => {
    ctx.skip(ORT_ABSENT, 'onnxruntime-node is not installed (an optional dependency)');
    const mols = await labelledSet(24);
    const config = bondConfig(mols, 32, 2);
    const params = initParams(config.dynamics, dynamicsInputDim(config), new Rng('bond-init'), 4);
    // every parameter's oracle gradient is non-zero below, the bond head's and bond input rows' included
    const order = paramOrder(params);
    const shapes = Object.fromEntries(order.map((k) => [k, [...params[k].shape]]));
    const model = makeModel(config, params);
    const tasks = makeShardTasks(model, mols, 2, new Rng('bond-tasks'), { kind: 'min-snr', gamma: 5 });
    expect(tasks[0].noise.bondEps).toBeDefined();
    const weights = flatten(params, order);
    const oracle = new ShardGradients(config, params);
    oracle.setWeights(weights);
    const onnx = new OnnxGradients(config, order, shapes, 2);
    try {
      const got = await onnx.compute(weights, tasks, 29);
      for (const [s, task] of tasks.entries()) {
        const ref = oracle.compute(task, 29);
        expect(Math.abs(got[s].loss - ref.loss) / ref.loss).toBeLessThan(1e-5);
        const a = splitFlat(got[s].grad, order, (k) => params[k].size);
        const r = splitFlat(ref.grad, order, (k) => params[k].size);
        for (const name of order) {
          const scale = Math.max(...r[name].map(Math.abs));
          expect(scale, `${name}: the oracle gradient is all zeros`).toBeGreaterThan(0);
          const err = Math.max(...r[name].map((v, i) => Math.abs(v - a[name][i])));
          expect(err / scale, `shard ${s}: ${name}`).toBeLessThan(1e-4);
        }
      }
    } finally {
      oracle.dispose();
      await onnx.close();
      tf.dispose(Object.values(params));
    }
  });

  it('samples bond orders with the atoms: symmetric, in 0..3, the same for the same seed', () => {
    const mols = parseXyz(ETHYLENE + WATER);
    const config = bondConfig(mols);
    const model = makeModel(config, initParams(config.dynamics, dynamicsInputDim(config), new Rng('bond-sample'), 4));
    const nNodes = Int32Array.from([6, 4]);
    const run = () => sampleChain(model, nNodes, [new Rng('m0'), new Rng('m1')], { steps: 10 });
    const a = run();
    const b = run();
    expect(a.bondOrders).toBeDefined();
    expect(Array.from(b.bondOrders!)).toEqual(Array.from(a.bondOrders!));
    expect(Array.from(b.x)).toEqual(Array.from(a.x));
    const N = a.N;
    const seen = new Set<number>();
    for (let r = 0; r < 2; r++)
      for (let i = 0; i < N; i++)
        for (let j = 0; j < N; j++) {
          const o = a.bondOrders![(r * N + i) * N + j];
          expect(o).toBe(a.bondOrders![(r * N + j) * N + i]);
          if (i === j || i >= nNodes[r] || j >= nNodes[r]) expect(o).toBe(0);
          expect(o >= 0 && o <= 3).toBe(true);
          seen.add(o);
        }
    // random weights still give some bonds and some non-bonds
    expect(seen.size).toBeGreaterThan(1);
    expect(() => sampleChain(model, nNodes, new Rng('x'), { steps: 2, guide: (z) => z })).toThrow(/cannot sample with guidance \(edm pocket's --guidance\) yet/);
    tf.dispose(Object.values(model.params));
  });

  it('a bond-aware Langevin step moves atoms and bonds by one step size per molecule, from both norms (pairs counted once)', () => {
    const mols = parseXyz(ETHYLENE + WATER);
    const config = bondConfig(mols);
    const base = makeModel(config, initParams(config.dynamics, dynamicsInputDim(config), new Rng('bond-lv'), 4));
    // a network whose noise is z / 2 for atoms and bonds, so each score is -z / (2 sigma_s)
    const half = { ...base, inference: { epsState: (z: StateTensors) => ({ atoms: tf.mul(z.atoms, 0.5), ...(z.bonds ? { bonds: tf.mul(z.bonds, 0.5) } : {}) }) } };
    const nNodes = [5, 3];
    const [B, N, F, K] = [2, 5, featureDim(config), bondClasses(config)];
    const D = 3 + F;
    const graph = makeGraph({ nNodes: Int32Array.from(nNodes), N });
    const atomsHost = combinedNoise(new Rng('lv-z'), nNodes, N, F, true);
    const bondsHost = symmetricPairNoise(new Rng('lv-zb'), nNodes, N, K);
    const z = { atoms: tf.tensor3d(atomsHost, [B, N, D]), bonds: tf.tensor4d(bondsHost, [B, N, N, K]) };
    const rng = new Rng('lv');
    const copy = new Rng('lv', rng.state());
    const noiseAtoms = combinedNoise(copy, nNodes, N, F, true);
    const noiseBonds = symmetricPairNoise(copy, nNodes, N, K);
    const [s, alpha, r] = [0.1, 0.999, 0.2];
    const got = langevinStep(half, z, s, alpha, graph, r, rng);
    const [outAtoms, outBonds] = [got.atoms.dataSync(), got.bonds!.dataSync()];
    const sigma = sigmaOf(base.schedule.gammaAt(s));
    for (let b = 0; b < B; b++) {
      const [a0, a1] = [b * N * D, (b + 1) * N * D];
      const [e0, e1] = [b * N * N * K, (b + 1) * N * N * K];
      let g2 = 0;
      let n2 = 0;
      for (let k = a0; k < a1; k++) [g2, n2] = [g2 + (atomsHost[k] / (2 * sigma)) ** 2, n2 + noiseAtoms[k] ** 2];
      for (let k = e0; k < e1; k++) [g2, n2] = [g2 + 0.5 * (bondsHost[k] / (2 * sigma)) ** 2, n2 + 0.5 * noiseBonds[k] ** 2];
      const e = 2 * alpha * r * r * (n2 / g2);
      // positions are re-centred after the move; features move exactly
      for (let i = 0; i < nNodes[b]; i++) for (let d = 3; d < D; d++) {
        const k = a0 + i * D + d;
        expect(outAtoms[k]).toBeCloseTo(atomsHost[k] - (e * atomsHost[k]) / (2 * sigma) + Math.sqrt(2 * e) * noiseAtoms[k], 4);
      }
      for (let k = e0; k < e1; k++) expect(outBonds[k]).toBeCloseTo(bondsHost[k] - (e * bondsHost[k]) / (2 * sigma) + Math.sqrt(2 * e) * noiseBonds[k], 4);
    }
    tf.dispose([z.atoms, z.bonds, got.atoms, got.bonds, ...Object.values(base.params)]);
    disposeGraph(graph);
  });

  it('corrector steps move atoms and bonds together in the last part of the chain; trajectories keep the atoms', () => {
    const mols = parseXyz(ETHYLENE + WATER);
    const config = bondConfig(mols);
    const base = makeModel(config, initParams(config.dynamics, dynamicsInputDim(config), new Rng('bond-pc'), 4));
    const calls: number[] = [];
    const counting = {
      ...base,
      inference: {
        epsState: (z: StateTensors, t: ArrayLike<number>, graph: MolGraph) => {
          if (z.bonds) calls.push(t[0]);
          return phiState(base, z, t, graph, true);
        },
      },
    };
    const nNodes = Int32Array.from([6, 4]);
    const plain = sampleChain(counting, nNodes, [new Rng('m0'), new Rng('m1')], { steps: 10 });
    expect(calls).toHaveLength(11);
    calls.length = 0;
    const pc = sampleChain(counting, nNodes, [new Rng('m0'), new Rng('m1')], { steps: 10, corrector: { steps: 2, snr: 0.1, fraction: 0.3 }, keepChainOf: [1], chainEvery: 5 });
    // predictor at t = 1.0 ... 0.1; after the steps to s = 0.3, 0.2, 0.1, two corrector calls at s; then z_0
    const expected = ['1.0', '0.9', '0.8', '0.7', '0.6', '0.5', '0.4', '0.3', '0.3', '0.3', '0.2', '0.2', '0.2', '0.1', '0.1', '0.1', '0.0'];
    expect(calls.map((t) => t.toFixed(1))).toEqual(expected);
    // the corrector changed the molecules; positions stay CoM-free, bonds symmetric and only on real pairs
    expect(Array.from(pc.x)).not.toEqual(Array.from(plain.x));
    const N = pc.N;
    for (let r = 0; r < 2; r++) {
      for (let d = 0; d < 3; d++) {
        let sum = 0;
        for (let i = 0; i < nNodes[r]; i++) sum += pc.x[(r * N + i) * 3 + d];
        expect(Math.abs(sum / nNodes[r])).toBeLessThan(1e-3);
      }
      for (let i = 0; i < N; i++)
        for (let j = 0; j < N; j++) {
          const o = pc.bondOrders![(r * N + i) * N + j];
          expect(o).toBe(pc.bondOrders![(r * N + j) * N + i]);
          if (i === j || i >= nNodes[r] || j >= nNodes[r]) expect(o).toBe(0);
        }
    }
    // frames after steps 5 and 10, then the decoded molecule, whose last frame is the output row
    expect(pc.chains).toHaveLength(1);
    expect(pc.chains![0]).toHaveLength(3);
    const last = pc.chains![0][2];
    expect(Array.from(last.x)).toEqual(Array.from(pc.x.slice(N * 3, N * 3 + 12)));
    expect(Array.from(last.atomTypes)).toEqual(Array.from(pc.atomTypes.slice(N, N + 4)));
    tf.dispose(Object.values(base.params));
  });

  it("writes a bond-aware model's own bonds as the SDF bond block, scored beside EDM's distance-inferred ones", () => {
    const [ethylene] = parseXyz(ETHYLENE);
    // the model said single for the C-C pair: its own bonds leave both carbons short of valence 4
    const own = [...inferBonds(ethylene).filter((b) => !(b.i === 0 && b.j === 1)), { i: 0, j: 1, order: 1 }];
    const [m] = withBondsAndStability([{ ...ethylene, modelBonds: own }]);
    expect(m.stability.moleculeStable).toBe(true);
    expect(m.modelStability!.moleculeStable).toBe(false);
    expect(m.properties).toMatchObject({ atom_stability: '6/6', molecule_stable: 1, model_atom_stability: '4/6', model_molecule_stable: 0 });
    const back = parseSdf(formatSdf([m]))[0];
    expect(back.bonds!.find((b) => b.i === 0 && b.j === 1)!.order).toBe(1);
    // the HTML report's card says where the two disagree
    expect(bondDisagreements(m)).toEqual(['C1-C2: own 1, distance 2']);
    expect(bondDisagreements({ ...ethylene, modelBonds: inferBonds(ethylene) })).toEqual([]);
  });

  it("a bond-aware record's validity and SMILES fields describe its own bond block (EDM's verdict beside them); --keep filters on them", async () => {
    const rdkit = await loadRDKit();
    const [ethylene] = parseXyz(ETHYLENE);
    // own bonds with a pentavalent carbon: RDKit refuses them, EDM's distance bonds are fine
    const own = [...inferBonds(ethylene).filter((b) => !(b.i === 0 && b.j === 1)), { i: 0, j: 1, order: 3 }];
    const [m] = withBondsAndStability([{ ...ethylene, modelBonds: own }]);
    const r = await evaluateMolecules([m], { keepOutcomes: 1 });
    const fields = chemistFields(rdkit, m, r.outcomes![0]);
    expect(fields).toMatchObject({ valid: 0, edm_valid: 1, edm_smiles: 'C=C' });
    expect(fields.smiles).toBeUndefined();
    m.properties = { ...m.properties, ...fields };
    expect(keeps('valid', m, r.outcomes![0])).toBe(false);
    expect(keeps('stable', m, r.outcomes![0])).toBe(false);
    // a record read back: its bond block is the one the fields describe
    const back = parseSdf(formatSdf([m]))[0];
    expect(back.bonds!.find((b) => b.i === 0 && b.j === 1)!.order).toBe(3);
    expect(back.properties!.valid).toBe('0');
    // a molecule without own bonds keeps EDM's fields, unprefixed
    const [plain] = withBondsAndStability([ethylene]);
    expect(chemistFields(rdkit, plain, r.outcomes![0])).toEqual({ valid: 1, fragments: 1, connected: 1, smiles: 'C=C', largest_fragment_smiles: 'C=C' });
  });

  it("scores molecules on their own bonds beside EDM's protocol: library, table, and edm evaluate --own-bonds", async () => {
    const [ethylene, water] = parseXyz(ETHYLENE + WATER);
    const single = [...inferBonds(ethylene).filter((b) => !(b.i === 0 && b.j === 1)), { i: 0, j: 1, order: 1 }];
    const r = await evaluateMolecules([{ ...ethylene, modelBonds: single }, { ...water, modelBonds: inferBonds(water) }]);
    expect(r.moleculeStability).toBe(1);
    expect(r.ownBonds).toMatchObject({ molecules: 2, moleculeStability: 0.5, atomStability: 7 / 9 });
    expect(formatReport(r, 't')).toMatch(/own bonds {11}\s*77\.8%\s+50\.0%/);
    // the same molecules from a file: EDM's protocol alone unless --own-bonds
    const dir = mkdtempSync(join(tmpdir(), 'edm-own-'));
    writeFileSync(join(dir, 'own.sdf'), formatSdf(withBondsAndStability([{ ...ethylene, modelBonds: single }, { ...water, modelBonds: inferBonds(water) }])));
    const cli = (extra: string[]) => spawnSync(process.execPath, [join(ROOT, 'bin', 'edm.js'), 'evaluate', join(dir, 'own.sdf'), '--no-train', ...extra], { encoding: 'utf8' });
    const plain = cli([]);
    expect(plain.status, plain.stderr).toBe(0);
    expect(plain.stdout).not.toMatch(/own bonds/);
    const own = cli(['--own-bonds']);
    expect(own.status, own.stderr).toBe(0);
    expect(own.stdout).toMatch(/own bonds {11}\s*77\.8%\s+50\.0%/);
  });

  it('ONNX Runtime inference gives the atoms\' and the bonds\' noise that tfjs gives (sampling on ORT)', (ctx) => {
    ctx.skip(ORT_ABSENT, 'onnxruntime-node is not installed (an optional dependency)');
    const config = bondConfig(parseXyz(ETHYLENE), 32, 3);
    const model = makeModel(config, initParams(config.dynamics, dynamicsInputDim(config), new Rng('bond-ort'), 4));
    const ort = new OnnxInference(config, model.params, 2);
    const [B, N, K] = [2, 7, 4];
    const graph = makeGraph({ nNodes: [7, 5], N });
    const rng = new Rng('bond-ort-input');
    const zt = tf.tensor3d(combinedNoise(rng, [7, 5], N, 6), [B, N, 9]);
    const zBonds = tf.tensor4d(symmetricPairNoise(rng, [7, 5], N, K), [B, N, N, K]);
    try {
      const ref = phiState(model, { atoms: zt, bonds: zBonds }, [0.2, 0.7], graph, true);
      const got = ort.epsState({ atoms: zt, bonds: zBonds }, [0.2, 0.7], graph);
      for (const [a, b] of [[got.atoms, ref.atoms], [got.bonds!, ref.bonds!]]) {
        const r = b.dataSync();
        const o = a.dataSync();
        expect(Math.max(...r.map(Math.abs))).toBeGreaterThan(1e-4);
        for (let i = 0; i < r.length; i++) expect(Math.abs(o[i] - r[i])).toBeLessThan(1e-4 * Math.max(1, Math.abs(r[i])));
      }
      tf.dispose([ref.atoms, ref.bonds!, got.atoms, got.bonds!]);
    } finally {
      ort.close();
      tf.dispose([zt, zBonds, ...Object.values(model.params)]);
      disposeGraph(graph);
    }
  });

  it("the likelihood bound has the bonds' terms: -log p(e | z_0) is about 0 at the data and grows off it", async () => {
    const mols = await labelledSet(8);
    const config = bondConfig(mols);
    const model = makeModel(config, initParams(config.dynamics, dynamicsInputDim(config), new Rng('bond-nll'), 4));
    const batch = makeBatch(mols, QM9_ATOM_DECODER, undefined, 4);
    const B = mols.length;
    const N = batch.graph.hostNodeMask.length / B;
    const rng = new Rng('nll-noise');
    const atoms = (): tf.Tensor => tf.tensor3d(combinedNoise(rng, batch.graph.nDenoised, N, 6), [B, N, 9]);
    const pairs = (scale: number): tf.Tensor => tf.tensor4d(symmetricPairNoise(rng, batch.graph.nDenoised, N, 4).map((v) => v * scale), [B, N, N, 4]);
    const tInt = Int32Array.from({ length: B }, () => rng.int(1, 100));
    const noise = { tInt, epsT: atoms(), eps0: atoms(), bonds: { epsT: pairs(1), eps0: pairs(0) } };
    try {
      const exact = nll(model, batch, noise);
      expect(exact.bonds).toBeDefined();
      for (let b = 0; b < B; b++) {
        expect(Number.isFinite(exact.negLogPxh[b])).toBe(true);
        expect(exact.bonds!.loss0[b]).toBeGreaterThanOrEqual(0);
        expect(exact.bonds!.loss0[b]).toBeLessThan(1e-6);
        expect(exact.bonds!.klPrior[b]).toBeGreaterThan(0);
        expect(exact.bonds!.lossT[b]).toBeGreaterThan(0);
      }
      // z_0's bonds pushed off the data by about one class bin (standard deviation 1 / (4 sigma_0)
      // in units of sigma_0): the bins of other classes take mass
      const sigma0 = sigmaOf(model.schedule.gammaAt(0));
      const off = nll(model, batch, { ...noise, bonds: { epsT: noise.bonds.epsT, eps0: pairs(1 / (BOND_DIFFUSION.normalizeFactor * sigma0)) } });
      for (let b = 0; b < B; b++) expect(off.bonds!.loss0[b]).toBeGreaterThan(exact.bonds!.loss0[b] + 0.1);
      // the atoms' terms do not depend on the bonds' z_0 noise
      expect(off.klPrior[0]).toBe(exact.klPrior[0]);
    } finally {
      tf.dispose([noise.epsT, noise.eps0, noise.bonds.epsT, noise.bonds.eps0]);
      disposeBatch(batch);
      tf.dispose(Object.values(model.params));
    }
  });

  it('trains through `train` into a version 3 checkpoint (validation NLL with bonds) whose samples carry bond orders', async () => {
    const mols = await labelledSet(16);
    for (const m of mols) delete m.bonds; // the trainer labels them
    const outDir = mkdtempSync(join(tmpdir(), 'edm-bonds-'));
    const res = await train({
      outDir,
      train: mols,
      valid: mols.slice(0, 4),
      datasetInfo: datasetInfoFrom('qm9', mols, QM9_ATOM_DECODER),
      dynamics: { ...EDM_QM9_DYNAMICS, nf: 16, nLayers: 2 },
      diffusion: { ...EDM_QM9_DIFFUSION, timesteps: 100, bonds: BOND_DIFFUSION },
      batchSize: 8,
      lr: 1e-3,
      maxSteps: 4,
      validateEvery: 2,
      validSize: 4,
      workers: 0,
      curve: { every: 4, samples: 6, steps: 5 },
    });
    expect(res.step).toBe(4);
    // the curve scores its samples on their own bonds too: the same figures edm evaluate gives them
    const [point] = readCurve(join(outDir, 'curve.csv'));
    expect(readFileSync(join(outDir, 'curve.csv'), 'utf8').split('\n')[0].split(',').slice(-4)).toEqual([...OWN_BOND_CURVE_COLUMNS]);
    const saved = loadCheckpoint(outDir);
    const again = await generate(outDir, makeModel(saved.config, saved.params), { n: 6, seed: CURVE_SEED, batchSize: CURVE_BATCH_SIZE, steps: 5, workers: 1, backend: 'wasm' });
    const own = (await evaluateMolecules(again.molecules)).ownBonds!;
    expect(point.own_molecule_stability).toBeCloseTo(own.moleculeStability, 6);
    expect(point.own_atom_stability).toBeCloseTo(own.atomStability, 6);
    expect(point.own_validity).toBeCloseTo(own.validity, 6);
    expect(point.own_connected_validity).toBeCloseTo(own.connectedValidity, 6);
    tf.dispose(Object.values(saved.params));
    const ck = loadCheckpoint(outDir);
    expect(ck.config.version).toBe(3);
    expect(ck.config.diffusion.bonds).toEqual(BOND_DIFFUSION);
    expect(ck.params['bond_mlp.2.weight'].shape).toEqual([16, 4]);
    const out = sampleChain(makeModel(ck.config, ck.params), Int32Array.from([5]), new Rng('s'), { steps: 5 });
    expect(out.bondOrders!.length).toBe(25);
    tf.dispose(Object.values(ck.params));
    // a bonds section needs version 3
    expect(() => validateConfig({ ...ck.config, version: 2 }, 'v2.json')).toThrow(/diffusion\.bonds needs config version 3/);
  });

  it('a branch of an EDM run with bonds keeps its network: new input rows start at zero, the atoms\' noise is unchanged', async () => {
    const mols = await labelledSet(16);
    const root = mkdtempSync(join(tmpdir(), 'edm-bonds-branch-'));
    const base = {
      train: mols,
      datasetInfo: datasetInfoFrom('qm9', mols, QM9_ATOM_DECODER),
      dynamics: { ...EDM_QM9_DYNAMICS, nf: 16, nLayers: 2 },
      diffusion: { ...EDM_QM9_DIFFUSION, timesteps: 100 },
      batchSize: 8,
      lr: 1e-3,
      workers: 0,
    };
    await train({ ...base, outDir: join(root, 'plain'), maxSteps: 2 });
    // one step at lr 0 writes the grown network as it starts
    await train({ ...base, outDir: join(root, 'bonds'), from: join(root, 'plain'), diffusion: { ...base.diffusion, bonds: BOND_DIFFUSION }, maxSteps: 3, lr: 1e-30 });
    const plain = loadCheckpoint(join(root, 'plain'));
    const grown = loadCheckpoint(join(root, 'bonds'));
    try {
      expect(grown.config.diffusion.bonds).toEqual(BOND_DIFFUSION);
      const old = plain.params['e_block_0.gcl_0.edge_mlp.0.weight'];
      const now = grown.params['e_block_0.gcl_0.edge_mlp.0.weight'];
      expect(now.shape).toEqual([old.shape[0] + 4, old.shape[1]]);
      const rows = old.shape[0]! * old.shape[1]!;
      expect(Array.from(now.dataSync().slice(rows)).every((v) => Math.abs(v) < 1e-20)).toBe(true);
      // the atoms' noise prediction of the grown network, whatever the bonds, is the old network's
      const B = 2;
      const N = 5;
      const graph = makeGraph({ nNodes: [5, 4], N });
      const rng = new Rng('grown');
      const zt = tf.tensor3d(combinedNoise(rng, [5, 4], N, 6), [B, N, 9]);
      const zBonds = tf.tensor4d(symmetricPairNoise(rng, [5, 4], N, 4), [B, N, N, 4]);
      // (the grown checkpoint's EMA has moved by one step: grow the plain weights themselves)
      const run = growWeights(freshWeights(plain.params, 1e-3), paramShapes(grown.config.dynamics, dynamicsInputDim(grown.config), 4), grown.params, 1e-3);
      const before = phi(makeModel(plain.config, plain.params), zt, [0.3, 0.6], graph, true);
      const after = phiState(makeModel(grown.config, run.raw), { atoms: zt, bonds: zBonds }, [0.3, 0.6], graph, true);
      expect(Math.max(...after.bonds!.dataSync().map(Math.abs))).toBeGreaterThan(1e-4);
      disposeWeights(run);
      const a = before.dataSync();
      const b = after.atoms.dataSync();
      for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThan(1e-5 * Math.max(1, Math.abs(a[i])));
      tf.dispose([zt, zBonds, before, after.atoms, after.bonds!]);
      disposeGraph(graph);
    } finally {
      tf.dispose([...Object.values(plain.params), ...Object.values(grown.params)]);
    }
    // a resumed run keeps its model
    await expect(train({ ...base, outDir: join(root, 'plain'), resume: true, diffusion: { ...base.diffusion, bonds: BOND_DIFFUSION }, maxSteps: 4 })).rejects.toThrow(/branch it with --from to add bonds/);
  });

  it('the validation NLL of a bond-aware model labels molecules that come without bonds (as scripts/trial-row.ts passes them)', async () => {
    const mols = await labelledSet(8);
    const config = bondConfig(mols);
    const model = makeModel(config, initParams(config.dynamics, dynamicsInputDim(config), new Rng('bond-valid'), 4));
    try {
      const labelled = validationNll(model, mols, 4);
      const bare = mols.map((m) => ({ ...m, bonds: undefined }));
      expect(validationNll(model, bare, 4)).toBe(labelled);
      expect(bare.every((m) => m.bonds !== undefined)).toBe(true);
    } finally {
      tf.dispose(Object.values(model.params));
    }
  });

  it('labels QM9 as the metrics do: 95.2% of the training molecules are stable under their labels', async (ctx) => {
    ctx.skip(!HAS_SHARED, 'needs QM9 in ../shared/data/qm9');
    const mols = (await loadQm9Split(join(SHARED, 'data', 'qm9'), 'valid')).slice(0, 2000);
    const s = labelBonds(mols);
    // EDM's protocol on QM9's DFT geometries: about 95% stable (the validation split here)
    expect(s.stable / s.molecules).toBeGreaterThan(0.93);
    expect(s.stable / s.molecules).toBeLessThan(0.97);
    expect(mols[0].bonds).toEqual(inferBonds(mols[0]));
  });
});
