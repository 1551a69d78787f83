/**
 * The entry of the browser page (web/): the modules it bundles, all free of Node-only code at
 * run time (the bundle replaces Node built-ins with empty modules), named here so that the
 * layering test can hold the page to them. Not part of the library's API.
 */
export { checkpointFromBytes } from './checkpoint/parse.js';
export { validateConfig } from './config.js';
export { type Molecule } from './data/molecule.js';
export { formatSdf, parseSdf } from './data/sdf.js';
export { parseXyz } from './data/xyz.js';
export { EVALUATION_ELEMENTS } from './decode/bond-tables.js';
export { type BondProtocol, protocolOf, QM9_PROTOCOL } from './decode/bonds.js';
export { type DecodedMolecule, withBondsAndStability } from './decode/write.js';
export { type EdmModel, makeModel } from './diffusion/model.js';
export { type CorrectorOptions, samplerWords } from './diffusion/sampler.js';
export { withElementModel } from './elements/attach.js';
export { sampleBatch } from './generate/batch.js';
export { type BatchRequest, type PoolWorker, runPool, type WorkerReply } from './generate/dispatch.js';
export { Assembler, planSampling } from './generate/plan.js';
export { type PlanOptions } from './generate/types.js';
export { type EvaluationReport, Evaluator } from './metrics/evaluate.js';
export { chemistFields } from './metrics/fields.js';
export { loadRDKit } from './metrics/rdkit.js';
export { referenceFromBytes, type TrainingReference } from './metrics/reference.js';
export { parseCondition } from './properties/conditioning.js';
export { setThreeDmolSource } from './report/html/client.js';
export { htmlReport } from './report/html/page.js';
export { formatReport, reportJson } from './report/table.js';
