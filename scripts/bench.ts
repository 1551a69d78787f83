/**
 * Speed and memory benchmark (`npm run bench`): EDM's sampling step and training step for the
 * architectures timed with EDM's PyTorch reference on this machine kind
 * (docs/architecture.md: batch 64 molecules of 19 atoms, 2 cores, torch 1.13 CPU).
 *
 * Prints molecule-steps/s (one denoising step of one molecule) on the tfjs backend (one thread,
 * and one worker per core) and with the network in ONNX Runtime when onnxruntime-node is
 * installed (one batch, one intra-op thread per core), molecules/s (training), the ratio to the
 * reference figures, and peak memory; the training step likewise on tfjs (one thread) and on
 * ONNX Runtime (the exported training step, one intra-op thread per core, the trainer's two
 * shards). Then `edm train` (nf 64, 4 layers, batch 64) on ONNX Runtime (the default when it
 * loads) and on one tfjs worker per core, against the single-core trainer (tfjs in this thread,
 * one gradient per batch), back to back. Options: --quick (one architecture, fewer repeats),
 * --train-only (only the trainer comparison), --sample-only (no trainer comparison), --geom (only
 * EDM's GEOM-Drugs network on 181- and 120-atom molecules: speed and peak memory), --json FILE.
 */
import { writeFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { combinedNoise, datasetInfoFrom, EDM_DATASETS, disposeBatch, drawStepNoise, EDM_QM9_DIFFUSION, EDM_QM9_DYNAMICS, type EdmConfig, flatten, initBackend, initParams, loadOrt, loadQm9Split, makeBatch, makeModel, makeShardTasks, type Molecule, OnnxGradients, OnnxInference, paramOrder, Rng, sampleInWorkers, sampleZsGivenZt, saveCheckpoint, train, trainingLoss } from '../src/internal.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir, availableParallelism } from 'node:os';
import { join } from 'node:path';
import { existsSync } from 'node:fs';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const jsonOut = args.includes('--json') ? args[args.indexOf('--json') + 1] : undefined;
const backend = await initBackend((args.includes('--backend') ? args[args.indexOf('--backend') + 1] : 'wasm') as 'wasm');

/** PyTorch reference (docs/architecture.md, measured 2026-11-22), same batch and size. */
const REFERENCE: Record<string, { train: number; sample: number }> = {
  'nf256-L9': { train: 8.8, sample: 34.3 },
  'nf128-L6': { train: 24.9, sample: 67.6 },
};

const B = 64;
const N = 19;
const rng = new Rng('bench');
// 19-atom molecules with QM9-like composition and geometry (positions from noise: timing only)
const mols = Array.from({ length: B }, () => ({
  elements: [...'CCCCCCCCNO', ...'HHHHHHHHH'].map((e) => String(e)),
  positions: Float32Array.from({ length: N * 3 }, () => rng.normal() * 1.5),
}));

function time(fn: () => void, repeats: number): number {
  fn(); // warm-up (kernel set-up, memory growth)
  const t0 = performance.now();
  for (let i = 0; i < repeats; i++) fn();
  return (performance.now() - t0) / repeats;
}

const results: Record<string, unknown>[] = [];
// --geom: EDM's GEOM-Drugs network (nf 256, 4 layers, 16 atom types, no charges) on its largest
// molecules (181 atoms, one per batch as a default plan cuts them): one denoising step, peak memory
if (args.includes('--geom')) {
  const config: EdmConfig = {
    format: 'edm-ts-checkpoint',
    version: 5,
    dynamics: { ...EDM_QM9_DYNAMICS, nf: 256, nLayers: 4 },
    diffusion: { ...EDM_QM9_DIFFUSION, includeCharges: false, decodeDropsLastType: true },
    dataset: { name: 'geom', atomDecoder: EDM_DATASETS.geom.atomDecoder!, nNodesHistogram: EDM_DATASETS.geom.nNodesHistogram, maxNAtoms: 181 },
  };
  const F = 16;
  const init = initParams(config.dynamics, F + 1, rng);
  const model = makeModel(config, init);
  for (const n of [181, 120]) {
    const mol = { elements: Array.from({ length: n }, (_, i) => (i % 2 ? 'H' : 'C')), positions: Float32Array.from({ length: n * 3 }, () => rng.normal() * 3) };
    const batch = makeBatch([mol], config.dataset.atomDecoder);
    const z = tf.tensor3d(combinedNoise(rng, batch.nNodes, n, F), [1, n, 3 + F]);
    const noise = tf.tensor3d(combinedNoise(rng, batch.nNodes, n, F), [1, n, 3 + F]);
    const tfjsMs = time(() => sampleZsGivenZt(model, [0.499], [0.5], z, batch.graph, noise).dispose(), quick ? 1 : 3);
    let onnxMs: number | undefined;
    if (loadOrt()) {
      const inference = new OnnxInference(config, init, availableParallelism());
      onnxMs = time(() => sampleZsGivenZt({ ...model, inference }, [0.499], [0.5], z, batch.graph, noise).dispose(), quick ? 2 : 5);
      inference.close();
    }
    const row = { architecture: 'geom-nf256-L4', atoms: n, backend, sampleMoleculeStepsPerSecond: 1000 / tfjsMs, onnxSampleMoleculeStepsPerSecond: onnxMs && 1000 / onnxMs, peakRssMiB: process.resourceUsage().maxRSS / 1024 };
    results.push(row);
    process.stdout.write(`GEOM network, ${n} atoms, batch 1: ${row.sampleMoleculeStepsPerSecond.toFixed(2)} molecule-steps/s on ${backend} (one thread)${onnxMs ? `, ${row.onnxSampleMoleculeStepsPerSecond!.toFixed(2)} on ONNX Runtime (${availableParallelism()} threads)` : ''}; peak resident memory so far ${row.peakRssMiB.toFixed(0)} MiB\n`);
    tf.dispose([z, noise]);
    disposeBatch(batch);
  }
  if (jsonOut) writeFileSync(jsonOut, JSON.stringify(results, null, 1) + '\n');
  process.exit(0);
}
const archs = args.includes('--train-only') ? [] : quick ? [['nf128-L6', 128, 6]] : [['nf128-L6', 128, 6], ['nf256-L9', 256, 9]];
for (const [name, nf, layers] of archs as [string, number, number][]) {
  const config: EdmConfig = {
    format: 'edm-ts-checkpoint',
    version: 1,
    dynamics: { ...EDM_QM9_DYNAMICS, nf, nLayers: layers },
    diffusion: EDM_QM9_DIFFUSION,
    dataset: { name: 'qm9', atomDecoder: ['H', 'C', 'N', 'O', 'F'], nNodesHistogram: { '19': 1 }, maxNAtoms: 29 },
  };
  const init = initParams(config.dynamics, 7, rng);
  const vars: Record<string, tf.Variable> = {};
  for (const [k, v] of Object.entries(init)) vars[k] = tf.variable(v);
  const model = makeModel(config, vars);
  // sampling: one ancestral step p(z_s | z_t) for the whole batch
  const batch = makeBatch(mols, config.dataset.atomDecoder);
  const z = tf.tensor3d(combinedNoise(rng, batch.nNodes, N, 6), [B, N, 9]);
  const noise = tf.tensor3d(combinedNoise(rng, batch.nNodes, N, 6), [B, N, 9]);
  const s = new Array(B).fill(0.499);
  const t = new Array(B).fill(0.5);
  const sampleMs = time(() => sampleZsGivenZt(model, s, t, z, batch.graph, noise).dispose(), quick ? 2 : 4);
  // the same step with the network in ONNX Runtime (2 intra-op threads: one batch on both cores)
  let onnxMs: number | undefined;
  if (loadOrt()) {
    const inference = new OnnxInference(config, vars, availableParallelism());
    const ortModel = { ...model, inference };
    onnxMs = time(() => sampleZsGivenZt(ortModel, s, t, z, batch.graph, noise).dispose(), quick ? 4 : 10);
    inference.close();
  }
  // training: loss, gradients (the optimiser update is negligible next to them)
  // batch 64 exceeds wasm32's 4 GiB heap with autodiff's saved tensors at these sizes:
  // train it in micro-batches (gradients of a batch are the sum over its micro-batches)
  const chunk = nf >= 256 ? 8 : 32;
  const trainMs = time(() => {
    for (let c = 0; c < B; c += chunk) {
      const part = makeBatch(mols.slice(c, c + chunk), config.dataset.atomDecoder);
      const { value, grads } = tf.variableGrads(() => trainingLoss(model, part, drawStepNoise(model, part, rng), 29), Object.values(vars));
      value.dataSync();
      tf.dispose([value, ...Object.values(grads)]);
      disposeBatch(part);
    }
  }, quick ? 1 : 2);
  // the same training step on ONNX Runtime: loss and gradients of the 64 molecules in the
  // trainer's 2 shards (the host optimiser update is negligible next to them)
  let onnxTrainMs: number | undefined;
  if (loadOrt()) {
    const order = paramOrder(vars);
    const engine = new OnnxGradients(config, order, Object.fromEntries(order.map((k) => [k, [...vars[k].shape]])), availableParallelism());
    const weights = flatten(vars, order);
    const tasks = makeShardTasks(model, mols, 2, rng);
    const t0 = performance.now();
    await engine.compute(weights, tasks, 29); // warm-up: session creation
    const warm = performance.now() - t0;
    const repeats = quick ? 2 : 4;
    const t1 = performance.now();
    for (let i = 0; i < repeats; i++) await engine.compute(weights, makeShardTasks(model, mols, 2, rng), 29);
    onnxTrainMs = (performance.now() - t1) / repeats;
    process.stdout.write(`${name}: ONNX training session start-up and first step ${(warm / 1000).toFixed(1)} s\n`);
    await engine.close();
  }
  // the same denoising step on every core: one worker thread per core, one batch of 64 each
  const workers = availableParallelism();
  const ckDir = join(mkdtempSync(join(tmpdir(), 'edm-bench-')), name);
  await saveCheckpoint(ckDir, config, vars);
  const batches = Array.from({ length: workers }, (_, w) => ({ ids: Int32Array.from({ length: B }, (_, i) => w * B + i), nNodes: new Int32Array(B).fill(N) }));
  const plan = { seed: 'bench', steps: 20, chain: 0, batches, range: { start: 0, end: workers * B } };
  await sampleInWorkers(ckDir, backend as 'wasm', { ...plan, steps: 2 }, workers); // start-up and warm-up
  const tw = performance.now();
  await sampleInWorkers(ckDir, backend as 'wasm', plan, workers);
  const parallelRate = (workers * B * plan.steps) / ((performance.now() - tw) / 1000);
  const ref = REFERENCE[name];
  const row = {
    workers,
    sampleMoleculeStepsPerSecondAllCores: parallelRate,
    sampleRatioAllCores: parallelRate / ref.sample,
    architecture: name,
    backend,
    sampleMoleculeStepsPerSecond: (B / sampleMs) * 1000,
    trainMoleculesPerSecond: (B / trainMs) * 1000,
    trainChunk: chunk,
    referenceSample: ref.sample,
    referenceTrain: ref.train,
    sampleRatio: (B / sampleMs) * 1000 / ref.sample,
    onnxSampleMoleculeStepsPerSecond: onnxMs === undefined ? undefined : (B / onnxMs) * 1000,
    onnxSampleRatio: onnxMs === undefined ? undefined : ((B / onnxMs) * 1000) / ref.sample,
    trainRatio: (B / trainMs) * 1000 / ref.train,
    onnxTrainMoleculesPerSecond: onnxTrainMs === undefined ? undefined : (B / onnxTrainMs) * 1000,
    onnxTrainRatio: onnxTrainMs === undefined ? undefined : ((B / onnxTrainMs) * 1000) / ref.train,
    rssMiB: process.memoryUsage().rss / 2 ** 20,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
  };
  results.push(row);
  const onnxText = row.onnxSampleMoleculeStepsPerSecond === undefined ? 'onnx: onnxruntime-node absent' : `onnx (one batch, ${availableParallelism()} threads): ${row.onnxSampleMoleculeStepsPerSecond.toFixed(1)} molecule-steps/s (x${row.onnxSampleRatio!.toFixed(2)})`;
  process.stdout.write(
    `${name}: sampling ${row.sampleMoleculeStepsPerSecond.toFixed(1)} molecule-steps/s (reference ${ref.sample}, x${row.sampleRatio.toFixed(2)}); ` +
      `${workers} workers: ${parallelRate.toFixed(1)} molecule-steps/s (x${row.sampleRatioAllCores.toFixed(2)}); ${onnxText}; ` +
      `training ${row.trainMoleculesPerSecond.toFixed(1)} molecules/s (reference ${ref.train}, x${row.trainRatio.toFixed(2)}${chunk < B ? `, chunks of ${chunk}` : ''}); ` +
      `${row.onnxTrainMoleculesPerSecond === undefined ? 'onnx training: onnxruntime-node absent' : `onnx training ${row.onnxTrainMoleculesPerSecond.toFixed(1)} molecules/s (x${row.onnxTrainRatio!.toFixed(2)})`}; rss ${row.rssMiB.toFixed(0)} MiB, peak ${row.peakRssMiB.toFixed(0)} MiB\n`,
  );
  tf.dispose([z, noise, ...Object.values(vars)]);
  disposeBatch(batch);
}

/**
 * Training molecules/s of `train()` over `steps` steps on QM9's validation molecules (or the
 * synthetic ones when ../shared is absent), timed from the 5th step on (after start-up).
 */
async function trainRate(workers: number, shards: number, steps: number, trainBackend: 'wasm' | 'onnx' = 'wasm'): Promise<number> {
  const qm9 = join(process.cwd(), '..', 'shared', 'data', 'qm9');
  const data: Molecule[] = existsSync(qm9) ? (await loadQm9Split(qm9, 'valid')).slice(0, 4000) : Array.from({ length: 40 }, () => mols).flat();
  const stamps: number[] = [];
  await train({
    outDir: mkdtempSync(join(tmpdir(), 'edm-bench-train-')),
    train: data,
    datasetInfo: datasetInfoFrom('qm9', data, ['H', 'C', 'N', 'O', 'F']),
    dynamics: { ...EDM_QM9_DYNAMICS, nf: 64, nLayers: 4 },
    diffusion: EDM_QM9_DIFFUSION,
    batchSize: 64,
    lr: 1e-4,
    maxSteps: steps,
    checkpointEvery: 1_000_000,
    workers,
    shards,
    runtime: trainBackend === 'onnx' ? { engine: 'onnx', name: 'onnx', threads: availableParallelism() } : undefined,
    onStep: () => stamps.push(performance.now()),
  });
  return ((steps - 5) * 64) / ((stamps[steps - 1] - stamps[4]) / 1000);
}
const trainSteps = quick ? 25 : 60;
if (args.includes('--sample-only')) {
  if (jsonOut) writeFileSync(jsonOut, JSON.stringify(results, null, 1) + '\n');
  process.exit(0);
}
const single = await trainRate(0, 1, trainSteps);
const cores = availableParallelism();
const parallel = await trainRate(cores, 2, trainSteps);
const onnx = loadOrt() ? await trainRate(0, 2, trainSteps, 'onnx') : undefined;
const trainRow = {
  onnxTrainMoleculesPerSecond: onnx,
  onnxRatio: onnx === undefined ? undefined : onnx / single,
  workersTrainMoleculesPerSecond: parallel,
  singleCoreTrainMoleculesPerSecond: single,
  workersRatio: parallel / single,
  workers: cores,
  rssMiB: process.memoryUsage().rss / 2 ** 20,
};
results.push(trainRow);
process.stdout.write(
  `edm train (nf 64, 4 layers, batch 64, 2 shards): ` +
    `${onnx === undefined ? 'onnx: onnxruntime-node absent' : `ONNX Runtime (${cores} threads, the default) ${onnx.toFixed(1)} molecules/s (x${trainRow.onnxRatio!.toFixed(2)})`}; ` +
    `tfjs on ${cores} gradient workers ${parallel.toFixed(1)} molecules/s (x${trainRow.workersRatio.toFixed(2)}); single-core trainer ${single.toFixed(1)} molecules/s\n`,
);
if (jsonOut) writeFileSync(jsonOut, JSON.stringify(results, null, 1) + '\n');
