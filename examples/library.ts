/**
 * The library API in a few lines (the example of src/index.ts; `npm test` type-checks it):
 * sample 10 molecules from the shipped checkpoint, score them, write them as SDF.
 *
 *   node --import tsx examples/library.ts
 */
import { writeFileSync } from 'node:fs';
import { DEFAULT_CHECKPOINT, evaluate, formatSdf, loadModel, sample, startRuntime, withRuntime } from '../src/index.js';

const runtime = await startRuntime();
const model = withRuntime(loadModel(DEFAULT_CHECKPOINT), runtime);
const molecules = sample(model, { n: 10, seed: 1, steps: 100 });
const report = await evaluate(molecules);
writeFileSync('example.sdf', formatSdf(molecules));
process.stdout.write(`molecule stability ${(100 * report.moleculeStability).toFixed(1)}%, validity ${(100 * report.validity).toFixed(1)}%; wrote example.sdf\n`);
