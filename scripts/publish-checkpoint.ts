/**
 * Copy a training run's latest checkpoint (EMA weights + training state, so training can resume
 * on another machine) into checkpoints/<name>, validated and written atomically, with a
 * TRAINING.md recording how it was trained.
 *
 *   node --import tsx scripts/publish-checkpoint.ts runs/A checkpoints/qm9-default
 */
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend } from '../src/backend.js';
import { loadCheckpoint, saveCheckpoint } from '../src/checkpoint/format.js';
import { countParams } from '../src/egnn/params.js';
import { writeFileAtomic } from '../src/data/files.js';

const [from, to] = process.argv.slice(2);
if (!from || !to) {
  process.stderr.write('usage: publish-checkpoint.ts RUN_DIR CHECKPOINT_DIR\n');
  process.exit(2);
}
await initBackend('wasm');
const ck = loadCheckpoint(from, true);
await saveCheckpoint(to, ck.config, ck.params, ck.trainState, 'final');
const logPath = join(from, 'train-log.jsonl');
const events = existsSync(logPath) ? readFileSync(logPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l)) : [];
if (existsSync(logPath)) copyFileSync(logPath, join(to, 'train-log.jsonl'));
const t = ck.config.training ?? {};
const d = ck.config.dynamics;
const commands = events.filter((e) => e.event === 'start' || e.event === 'resume').map((e) => `${e.time}: ${e.event} at step ${e.step}`);
const evals = events
  .filter((e) => e.event === 'validation' || e.event === 'sample')
  .map((e) =>
    e.event === 'validation'
      ? `| ${e.step} | validation NLL ${e.nll.toFixed(1)} nats (${e.molecules} molecules) |`
      : `| ${e.step} | ${e.samples} samples, ${e.samplingSteps} steps: atom stability ${(100 * e.atomStability).toFixed(1)}%, molecule stability ${(100 * e.moleculeStability).toFixed(1)}% |`,
  );
const md = `# How this checkpoint was trained

- Architecture: egnn_dynamics, nf ${d.nf}, ${d.nLayers} layers, ${d.invSublayers} GCL per block, attention, tanh, coords_range ${d.coordsRange}; ${countParams(ck.params).toLocaleString('en')} parameters
- Diffusion: ${ck.config.diffusion.noiseSchedule}, ${ck.config.diffusion.timesteps} steps, precision ${ck.config.diffusion.noisePrecision}, normalize factors [${ck.config.diffusion.normalizeFactors}], L2 loss
- Data: QM9 train split of ../shared/data/qm9 (${t.trainMolecules} molecules), EDM's split
- Command: \`${t.command}\`
- Optimiser: AdamW (amsgrad, weight decay 1e-12), lr ${t.lr}, batch ${t.batchSize}, EMA ${t.emaDecay}, EDM gradient clipping
- Steps: ${t.steps}; epochs: ${Number(t.epochs).toFixed(2)}; wall time: ${t.wallTimeSeconds} s on one core (WebAssembly backend)
- Runs: ${commands.join('; ')}
- Weights are the EMA; \`train-state-final.bin\` holds the raw weights, Adam moments and RNG states, so
  \`edm train --out <copy of this folder> ... --resume\` continues exactly.

| step | evaluation during training |
| --- | --- |
${evals.join('\n')}
`;
writeFileAtomic(join(to, 'TRAINING.md'), md);
process.stdout.write(`published ${from} -> ${to}: step ${t.steps}, ${Number(t.epochs).toFixed(2)} epochs, ${t.wallTimeSeconds} s\n`);
