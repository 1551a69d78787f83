/**
 * The internal entry of the project's own scripts (scripts/): what they use beyond the public
 * API (src/index.ts), named here so that the layering test can hold them to it and a change of
 * an internal module shows which scripts it touches. Not part of the library's API.
 */
export { closeModel, initBackend, startRuntime, withRuntime } from './backend.js';
export { loadCheckpoint, type LoadedCheckpoint, saveCheckpoint } from './checkpoint/format.js';
export { EDM_QM9_DIFFUSION, EDM_QM9_DYNAMICS, type EdmConfig, featureDim, propertyConditioning } from './config.js';
export { disposeBatch, makeBatch } from './data/batch.js';
export { datasetInfoFrom } from './data/dataset.js';
export { writeFileAtomic } from './data/files.js';
export { type Molecule } from './data/molecule.js';
export { propertyValue } from './data/properties.js';
export { loadQm9Split } from './data/qm9.js';
export { readMolecules } from './data/read.js';
export { formatXyz } from './data/xyz.js';
export { inferBonds, oddValenceSum, stability } from './decode/bonds.js';
export { predictFeatures } from './diffusion/element-model.js';
export { drawStepNoise, trainingLoss } from './diffusion/loss.js';
export { makeModel, phi } from './diffusion/model.js';
export { combinedNoise } from './diffusion/noise.js';
export { checkSamplerOptions, sampleZsGivenZt } from './diffusion/sampler.js';
export { countParams, initParams } from './egnn/params.js';
export { elementAccuracy } from './elements/accuracy.js';
export { ELEMENT_MODEL_DIR, loadSamplingModel } from './elements/load.js';
export { UserError } from './errors.js';
export { sampleInWorkers } from './generate/pool.js';
export { disposeGraph, makeGraph } from './graph/graph.js';
export { DEFAULT_CORRECTOR, loadModel, pocketRun } from './index.js';
export { pocketTotals } from './cli-support.js';
export { type OwnBondScores } from './metrics/evaluate.js';
export { CHECKPOINT_REFERENCE_FILE } from './metrics/reference.js';
export { loadOrt, OnnxInference } from './onnx/session.js';
export { DEFAULT_CHECKPOINT, DEFAULT_QM9_DIR, PACKAGE_ROOT } from './paths.js';
export { baselineErrors } from './properties/check.js';
export { drawProperty } from './properties/conditioning.js';
export { gdbId, type PropertyName, writeLabels } from './properties/labels.js';
export { predictProperty } from './properties/regressor.js';
export { XTB_ARGS, xtbVersion } from './properties/xtb.js';
export { computeProperties } from './properties/check.js';
export { InterruptedError } from './errors.js';
export { Rng } from './random.js';
export { type CurveRow, hasOwnBondColumns, readCurve } from './report/curve-data.js';
export { curveSvg } from './report/curve-plot.js';
export { type CurveMetric, projectCurve } from './report/curve-projection.js';
export { conditionData, DEFAULT_LABELS } from './train/conditioned.js';
export { loadTrainingData } from './train/data.js';
export { flatten, makeShardTasks, paramOrder } from './train/gradients.js';
export { OnnxGradients } from './train/onnx-gradients.js';
export { hoursText, publishedReportDetails, writeTrainingReport } from './train/report.js';
export { train } from './train/trainer.js';
export { validationNll } from './train/validation.js';
export { EDM_DATASETS } from './checkpoint/edm-datasets.js';
