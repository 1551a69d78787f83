/**
 * Our checkpoint format: round trip, and clear errors for missing or corrupt files.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, cpSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../src/backend.js';
import { loadCheckpoint, saveCheckpoint } from '../src/checkpoint/format.js';
import { initParams } from '../src/egnn/params.js';
import { CheckpointError } from '../src/errors.js';
import { Rng } from '../src/random.js';
import { TINY } from './helpers.js';


describe('checkpoint format', () => {
  let dir: string;
  beforeAll(async () => {
    await initBackend('wasm');
    dir = mkdtempSync(join(tmpdir(), 'edm-ck-'));
    await saveCheckpoint(join(dir, 'good'), TINY, initParams(TINY.dynamics, 7, new Rng(1)));
  });

  it('round-trips config and weights exactly', () => {
    const p = initParams(TINY.dynamics, 7, new Rng(1));
    const ck = loadCheckpoint(join(dir, 'good'));
    expect(ck.config.dynamics).toEqual(TINY.dynamics);
    for (const [k, t] of Object.entries(p)) expect(Array.from(ck.params[k].dataSync())).toEqual(Array.from(t.dataSync()));
  });

  it('leaves exactly one weights file after repeated saves', async () => {
    const d = join(dir, 'again');
    await saveCheckpoint(d, TINY, initParams(TINY.dynamics, 7, new Rng(2)), undefined, 'a');
    await saveCheckpoint(d, TINY, initParams(TINY.dynamics, 7, new Rng(3)), undefined, 'b');
    expect(readdirSync(d).sort()).toEqual(['config.json', 'weights-b.bin']);
  });

  it('reports a missing folder, a truncated weights file, bad JSON and a bad config', () => {
    expect(() => loadCheckpoint(join(dir, 'nope'))).toThrow(/nope: does not exist/);
    mkdirSync(join(dir, 'empty'));
    expect(() => loadCheckpoint(join(dir, 'empty'))).toThrow(/empty: not a checkpoint \(no config\.json\)/);
    const bad = join(dir, 'bad');
    cpSync(join(dir, 'good'), bad, { recursive: true });
    const bin = join(bad, 'weights-final.bin');
    writeFileSync(bin, readFileSync(bin).subarray(0, 100));
    expect(() => loadCheckpoint(bad)).toThrow(/weights-final\.bin: checksum mismatch/);
    rmSync(bin);
    expect(() => loadCheckpoint(bad)).toThrow(/weights-final\.bin: missing/);
    writeFileSync(join(bad, 'config.json'), '{ not json');
    expect(() => loadCheckpoint(bad)).toThrow(CheckpointError);
    const cfg = JSON.parse(readFileSync(join(dir, 'good', 'config.json'), 'utf8'));
    cfg.dynamics.nf = -3;
    writeFileSync(join(bad, 'config.json'), JSON.stringify(cfg));
    expect(() => loadCheckpoint(bad)).toThrow(/dynamics\.nf must be an integer in 1\.\.4096/);
  });

  it('names a tensor whose shape disagrees with the config', () => {
    const bad = join(dir, 'shape');
    cpSync(join(dir, 'good'), bad, { recursive: true });
    const cfg = JSON.parse(readFileSync(join(bad, 'config.json'), 'utf8'));
    cfg.dynamics.nf = 8; // weights are nf 16
    writeFileSync(join(bad, 'config.json'), JSON.stringify(cfg));
    expect(() => loadCheckpoint(bad)).toThrow(/tensor embedding\.weight has shape \[7,16\] but \[7,8\] was expected/);
  });
});
