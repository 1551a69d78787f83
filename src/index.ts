/**
 * edm-ts library API: everything the `edm` command does, for programs.
 *
 * ```ts
 * import { writeFileSync } from 'node:fs';
 * import { DEFAULT_CHECKPOINT, evaluate, formatSdf, loadModel, sample, startRuntime, withRuntime } from 'edm-ts';
 * const runtime = await startRuntime();
 * const model = withRuntime(loadModel(DEFAULT_CHECKPOINT), runtime);
 * const molecules = sample(model, { n: 10, seed: 1, steps: 100 });
 * const report = await evaluate(molecules);
 * writeFileSync('example.sdf', formatSdf(molecules));
 * ```
 * (examples/library.ts is this example as a file; `npm test` type-checks it)
 */
import { loadCheckpoint } from './checkpoint/format.js';
import type { Molecule } from './data/molecule.js';
import { type EdmModel, makeModel } from './diffusion/model.js';
import { type EvaluateOptions, type EvaluationReport, Evaluator, evaluateMolecules } from './metrics/evaluate.js';
import { Rng } from './random.js';
import { sampleMoleculesWithChains } from './generate/local.js';
import type { SampleOptions, SampleResult } from './generate/types.js';

export { initBackend, startRuntime, tfjsRuntime, withRuntime, closeModel, workerBackend, type BackendName, type Runtime, type RuntimeOptions } from './backend.js';
export { PACKAGE_ROOT, DEFAULT_CHECKPOINT, DEFAULT_QM9_DIR, DEFAULT_TRAIN_FILE } from './paths.js';
export { writeFileAtomic } from './data/files.js';
export * from './config.js';
export * from './errors.js';
export type { Molecule, Bond } from './data/molecule.js';
export { readMolecules } from './data/read.js';
export { readXyz, parseXyz, formatXyz } from './data/xyz.js';
export { readSdf, parseSdf, formatSdf, toMolBlock } from './data/sdf.js';
export { loadQm9Split } from './data/qm9.js';
export { datasetInfoFrom, QM9_ATOM_DECODER } from './data/dataset.js';
export { EVALUATION_ELEMENTS } from './decode/bond-tables.js';
export { inferBonds, bondOrder, oddValenceSum, stability, type BondProtocol, QM9_PROTOCOL, GEOM_PROTOCOL, protocolOf } from './decode/bonds.js';
export { withBondsAndStability, isDecoded, type DecodedMolecule, writeMolecules, MoleculeStreamWriter } from './decode/write.js';
export { loadCheckpoint, loadCheckpointConfig, saveCheckpoint } from './checkpoint/format.js';
export { importTorchDir, EDM_PROPERTY_NORMS, type PropertyNorms } from './checkpoint/torch-import.js';
export { EDM_DATASETS, type EdmDataset } from './checkpoint/edm-datasets.js';
export { train, type TrainOptions, type StepReport } from './train/trainer.js';
export { lossWeightAt, UNIFORM_WEIGHTING, type LossWeighting } from './diffusion/loss.js';
export { lrAt, CONSTANT_LR, type LrSchedule } from './train/lr-schedule.js';
export { loadTrainingData, storeTrainingReference, type TrainingData, type TrainingDataOptions } from './train/data.js';
export { readCurve, writeCurve, CURVE_COLUMNS, type CurveRow } from './report/curve-data.js';
export { curveSvg } from './report/curve-plot.js';
export { curveSlope, projectCurve, type CurveMetric, type CurveSlope, type CurveProjection } from './report/curve-projection.js';
export { generate, type GenerateOptions, type GenerateProgress, type GenerateResult } from './generate/run.js';
export { planSampling, defaultBatchSize } from './generate/plan.js';
export type { ElementSampling, PlanOptions } from './generate/types.js';
export { DEFAULT_CORRECTOR, correctorOrDefault, samplerWords, type CorrectorOptions, type SamplerSettings } from './diffusion/sampler.js';
export { mergeSampleFiles, type MergedSamples } from './generate/merge.js';
export { trainingReference, chooseReference, type ReferenceChoice, type TrainingReference } from './metrics/reference.js';
export { formatReport, reportJson, reportJsonParts } from './report/table.js';
export { htmlReport, type HtmlReportInput } from './report/html/page.js';
export { trainingReportHtml, type TrainingReportInput } from './report/html/training.js';
export { pocketRun, type PocketRunOptions, type PocketReport, type LigandRow } from './pocket/run.js';
export { readPdb, parsePdb, formatPdbAtoms, type Protein, type ProteinAtom } from './pocket/pdb.js';
export { pocketFromLigand, pocketFromCentre, pocketAsIs, type PocketSite } from './pocket/site.js';
export { sampleInPocket, type PocketSampleOptions } from './pocket/generate.js';
export { qed } from './metrics/qed.js';
export { chemistFields, implicitHSmiles, keeps, type KeepRule } from './metrics/fields.js';
export { loadRDKit } from './metrics/rdkit.js';
export type { MoleculeOutcome } from './metrics/evaluate.js';
export { findComplexPairs, loadComplexes, loadComplexTrainingData, pocketDynamics, sampleConditional, sampleWithPocket, DEFAULT_POCKET_CONDITIONING, type ComplexTrainingData, type ComplexFiles } from './pocket/conditional.js';
export type { ComplexExample, PocketNodes } from './data/complex.js';
export { type TrainingExample, makeTrainingBatch } from './data/examples.js';
export { makeGraph, type MolGraph, type GraphSpec } from './graph/graph.js';
export type { EdmModel, EvaluationReport, EvaluateOptions, SampleOptions, SampleResult };
export { makeModel, Evaluator };
export { loadSamplingModel, ELEMENT_MODEL_DIR } from './elements/load.js';
// molecular properties: xtb, labels, EDM's conditioning and the checks of conditioned samples (issue 42)
export { PROPERTY_NAMES, PROPERTY_UNITS, type PropertyName, type PropertyLabels, readLabels, writeLabels, gdbId } from './properties/labels.js';
export { type XtbProperties, parseXtbOutput, runXtb, xtbVersion } from './properties/xtb.js';
export { type PropertyCheck, type PropertyError, computeProperties, propertyErrors, targetsOf, electronCount, baselineErrors } from './properties/check.js';
export { meanMad, propertyHistograms, buildPropertyConditioning, drawProperty, histogramValue, parseCondition } from './properties/conditioning.js';
export { propertyValue, propertyContext } from './data/properties.js';
export { DEFAULT_LABELS, conditionData, conditionNames, regressorData } from './train/conditioned.js';
export { predictProperty, regressorMae } from './properties/regressor.js';
import { loadSamplingModel } from './elements/load.js';
export { Rng };

/**
 * Load a checkpoint folder as a model ready to sample.
 * @throws CheckpointError for a missing or corrupt checkpoint
 */
export function loadModel(dir: string): EdmModel {
  return loadSamplingModel(dir);
}

/**
 * Generate molecules with a model (EDM's ancestral sampler with `DEFAULT_CORRECTOR`'s Langevin
 * steps; `corrector: false` for EDM's sampler alone).
 * @param opts `n` molecules; `seed` (default 0) makes the output reproducible; see SampleOptions
 */
export function sample(model: EdmModel, opts: Omit<SampleOptions, 'seed'> & { seed?: number | string }): Molecule[] {
  return sampleMoleculesWithChains(model, { ...opts, seed: opts.seed ?? 0 }).molecules;
}

/** Score molecules with EDM's protocol (stability, validity, uniqueness, novelty). */
export function evaluate(mols: Molecule[], opts?: EvaluateOptions): Promise<EvaluationReport> {
  return evaluateMolecules(mols, opts);
}
