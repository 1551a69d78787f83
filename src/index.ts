/**
 * edm-ts library API: everything the `edm` command does, for programs.
 *
 * ```ts
 * import { initBackend, loadModel, sample, evaluate, writeSdf } from 'edm-ts';
 * await initBackend();
 * const model = loadModel('checkpoints/qm9-default');
 * const molecules = sample(model, { n: 10, seed: 1 });
 * const report = await evaluate(molecules);
 * ```
 */
import { loadCheckpoint } from './checkpoint/format.js';
import type { Molecule } from './data/molecule.js';
import { type EdmModel, makeModel } from './diffusion/model.js';
import { type EvaluateOptions, type EvaluationReport, evaluateMolecules } from './metrics/evaluate.js';
import { Rng } from './random.js';
import { type SampleOptions, type SampleResult, sampleMoleculesWithChains } from './sample.js';

export { initBackend, type BackendName } from './backend.js';
export * from './config.js';
export * from './errors.js';
export type { Molecule, Bond } from './data/molecule.js';
export { readMolecules } from './data/read.js';
export { readXyz, parseXyz, formatXyz } from './data/xyz.js';
export { readSdf, parseSdf, formatSdf, toMolBlock } from './data/sdf.js';
export { loadQm9Split } from './data/qm9.js';
export { datasetInfoFrom, QM9_ATOM_DECODER } from './data/dataset.js';
export { inferBonds, bondOrder, stability } from './decode/bonds.js';
export { withBondsAndStability, writeMolecules } from './decode/write.js';
export { loadCheckpoint, saveCheckpoint } from './checkpoint/format.js';
export { importTorchDir } from './checkpoint/torch-import.js';
export { train, type TrainOptions } from './train/trainer.js';
export { trainingReference } from './metrics/reference.js';
export { formatReport, reportJson } from './report/table.js';
export type { EdmModel, EvaluationReport, EvaluateOptions, SampleResult };
export { Rng };

/**
 * Load a checkpoint folder as a model ready to sample.
 * @throws CheckpointError for a missing or corrupt checkpoint
 */
export function loadModel(dir: string): EdmModel {
  const ck = loadCheckpoint(dir);
  return makeModel(ck.config, ck.params);
}

/**
 * Generate molecules with a model.
 * @param opts `n` molecules; `seed` (default 0) makes the output reproducible; see SampleOptions
 */
export function sample(model: EdmModel, opts: Omit<SampleOptions, 'seed'> & { seed?: number | string }): Molecule[] {
  return sampleMoleculesWithChains(model, { ...opts, seed: opts.seed ?? 0 }).molecules;
}

/** Score molecules with EDM's protocol (stability, validity, uniqueness, novelty). */
export function evaluate(mols: Molecule[], opts?: EvaluateOptions): Promise<EvaluationReport> {
  return evaluateMolecules(mols, opts);
}
