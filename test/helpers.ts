/** Shared test helpers: where ../shared is, reference vectors, tensor comparison. */
import { existsSync, readFileSync, watch } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type TestContext, expect } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { EDM_QM9_DIFFUSION, EDM_QM9_DYNAMICS, type EdmConfig } from '../src/config.js';

const here = dirname(fileURLToPath(import.meta.url));
/** Root of the repository. */
export const ROOT = resolve(here, '..');
/** The read-only shared folder beside the repository (absent outside the team's machines). */
export const SHARED = resolve(ROOT, '..', 'shared');
/** Whether ../shared is present; tests that need it skip with this reason otherwise. */
export const HAS_SHARED = existsSync(join(SHARED, 'reference', 'edm'));
export const NO_SHARED_REASON = `needs ../shared (EDM reference weights and vectors, QM9, pockets), which is not at ${SHARED}`;

/**
 * For `beforeEach` (or the start of a test): skip when ../shared is absent, with the reason as
 * the skip note, which the verbose reporter prints beside the test.
 */
export function skipWithoutShared(ctx: TestContext): void {
  ctx.skip(!HAS_SHARED, NO_SHARED_REASON);
}

/** Nested arrays from vectors.json to a flat Float64Array and a shape. */
export function flat(v: unknown): { data: Float64Array; shape: number[] } {
  const shape: number[] = [];
  let cur: unknown = v;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    cur = cur[0];
  }
  const data = new Float64Array((v as unknown[]).flat(Infinity as 1) as number[]);
  return { data, shape };
}

/** A float32 tensor from nested arrays. */
export function tensorOf(v: unknown): tf.Tensor {
  const { data, shape } = flat(v);
  return tf.tensor(Float32Array.from(data), shape);
}

/** Read `../shared/reference/edm/<name>/vectors.json`. */
export function loadVectors(name: string): Record<string, any> {
  return JSON.parse(readFileSync(join(SHARED, 'reference', 'edm', name, 'vectors.json'), 'utf8'));
}

/**
 * Assert |a - b| <= rtol * max|b| + atol elementwise, reporting the worst element.
 * Relative to the largest reference magnitude, as float32 vs float64 differences scale with it.
 */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, atol = 0, what = ''): void {
  expect(actual.length, `${what} length`).toBe(expected.length);
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  let worst = 0;
  let at = -1;
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    if (!(err <= worst)) {
      worst = err;
      at = i;
    }
  }
  const tol = rtol * scale + atol;
  expect(worst, `${what}: worst |diff| ${worst} at ${at} (actual ${actual[at]}, expected ${expected[at]}), tol ${tol}`).toBeLessThanOrEqual(tol);
}

/** A tiny model config for fast tests. */
export const TINY: EdmConfig = {
  format: 'edm-ts-checkpoint',
  version: 1,
  dynamics: { ...EDM_QM9_DYNAMICS, nf: 16, nLayers: 2 },
  diffusion: EDM_QM9_DIFFUSION,
  dataset: { name: 'qm9', atomDecoder: ['H', 'C', 'N', 'O', 'F'], nNodesHistogram: { '5': 2, '8': 1 }, maxNAtoms: 29 },
};

/**
 * Resolve once `ready()` holds, checked now and at every event of its sources: data on a child's
 * stream, or any change under a folder (recursive fs.watch). No polling: a kill test acts on the
 * event it waits for, not after a guessed delay.
 * @param sources a stream (e.g. a child's stderr) and/or a folder to watch
 * @param timeoutMs reject after this long, naming `what`
 */
export function when(ready: () => boolean, sources: { stream?: NodeJS.ReadableStream | null; folder?: string }, what: string, timeoutMs = 120_000): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const watcher = sources.folder ? watch(sources.folder, { recursive: true }, () => check()) : undefined;
    const timer = setTimeout(() => finish(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
    function finish(error?: Error): void {
      clearTimeout(timer);
      watcher?.close();
      sources.stream?.removeListener('data', check);
      if (error) reject(error);
      else resolvePromise();
    }
    function check(): void {
      if (ready()) finish();
    }
    sources.stream?.on('data', check);
    check();
  });
}
