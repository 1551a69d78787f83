/**
 * The one sampling pool (src/generate/dispatch.ts) that Node's worker threads and the browser's
 * Web Workers share, driven here by fake workers: batches go to whichever worker is idle, results
 * come back in plan order whatever order they finish in, progress sums over batches, an abort
 * asks the workers to stop and waits for the busy ones, and a worker's error names its batch.
 */
import { describe, expect, it } from 'vitest';
import { makeModel } from '../src/diffusion/model.js';
import { type BatchRequest, type PoolWorker, type WorkerReply, runPool } from '../src/generate/dispatch.js';
import { Assembler, planSampling } from '../src/generate/plan.js';
import { InterruptedError, UserError } from '../src/errors.js';
import { TINY } from './helpers.js';

const model = makeModel(TINY, {});

/** A worker that takes `ms(index)` per denoising step and makes one hydrogen per molecule, x = its id. */
function fakeWorker(name: string, ms: (index: number) => number, log: string[], fail?: number): PoolWorker & { stopAsked?: boolean } {
  let reply: (m: WorkerReply) => void = () => {};
  let dead = false;
  const w: PoolWorker & { stopAsked?: boolean } = {
    post: (msg: BatchRequest) => {
      log.push(`${name}:${msg.index}`);
      const steps = msg.settings.steps ?? 1;
      let step = 0;
      const tick = (): void => {
        if (dead) return;
        if (w.stopAsked) return reply({ kind: 'stopped', index: msg.index });
        if (msg.index === fail) return reply({ kind: 'error', index: msg.index, message: 'out of memory' });
        if (++step <= steps) {
          reply({ kind: 'progress', index: msg.index, step });
          setTimeout(tick, ms(msg.index));
        } else reply({ kind: 'result', index: msg.index, out: { molecules: Array.from(msg.batch.ids, (id) => ({ elements: ['H'], positions: Float32Array.of(id, 0, 0) })), chains: [] } });
      };
      setTimeout(tick, ms(msg.index));
    },
    onReply: (handler) => {
      reply = handler;
      setTimeout(() => reply({ kind: 'ready', backend: 'fake', threads: 1 }), 1);
    },
    onCrash: () => {},
    terminate: () => {
      dead = true;
    },
  };
  return w;
}

describe('the sampling pool', () => {
  it('deals batches to idle workers, returns the molecules in run order and sums progress', async () => {
    const plan = planSampling(model, { n: 12, seed: 1, steps: 3, batchSize: 2, nAtoms: 4 });
    expect(plan.batches).toHaveLength(6);
    const log: string[] = [];
    // batch 0 is slow: the other worker makes the rest meanwhile, and batch 0 still comes first
    const workers = [fakeWorker('a', (i) => (i === 0 ? 40 : 2), log), fakeWorker('b', () => 2, log)];
    const progress: number[][] = [];
    const { result, engine } = await runPool(plan, workers, new Assembler(plan), { onProgress: (done, steps, moleculeSteps) => progress.push([done, steps, moleculeSteps]) });
    expect(result.molecules.map((m) => m.positions[0])).toEqual(Array.from({ length: 12 }, (_, i) => i));
    expect(result.molecules.map((m) => m.name)).toEqual(Array.from({ length: 12 }, (_, i) => `sample ${i + 1}`));
    expect(log.filter((l) => l.startsWith('a:'))).toEqual(['a:0']);
    expect(engine).toEqual({ backend: 'fake', threads: 1 });
    // 6 batches x 3 steps, 12 molecules x 3 steps at the end
    expect(progress.at(-1)).toEqual([12, 18, 36]);
  });

  it('an abort asks the workers to stop, waits for the busy ones, and rejects', async () => {
    const plan = planSampling(model, { n: 8, seed: 1, steps: 50, batchSize: 2, nAtoms: 4 });
    const workers = [fakeWorker('a', () => 5, []), fakeWorker('b', () => 5, [])];
    const stop = new AbortController();
    const run = runPool(plan, workers, new Assembler(plan), {
      signal: stop.signal,
      requestStop: () => workers.forEach((w) => (w.stopAsked = true)),
      onProgress: (_d, steps) => steps >= 4 && stop.abort(),
    });
    await expect(run).rejects.toThrow(InterruptedError);
    expect(workers.every((w) => w.stopAsked)).toBe(true);
  });

  it('a batch that fails is named in the error', async () => {
    const plan = planSampling(model, { n: 6, seed: 1, steps: 2, batchSize: 2, nAtoms: 4 });
    await expect(runPool(plan, [fakeWorker('a', () => 1, [], 1)], new Assembler(plan))).rejects.toThrow(new UserError('sampling batch 2 failed: out of memory'));
  });
});
