/**
 * The learning curve: at fixed steps, sample a fixed-seed set of molecules from the EMA weights
 * and record EDM's metrics with the validation NLL in `curve.csv` beside the checkpoint, against
 * steps, epochs and CPU-hours (the currency of a 2-core machine).
 */
import { existsSync, readFileSync } from 'node:fs';
import type { BackendName } from '../backend.js';
import { writeFileAtomic } from '../data/files.js';
import type { EdmModel } from '../diffusion/model.js';
import { evaluateMolecules } from '../metrics/evaluate.js';
import { generate } from '../generate/run.js';

/** Columns of curve.csv, in order. Fractions in [0, 1]; NLL in nats per molecule. */
export const CURVE_COLUMNS = [
  'step',
  'epoch',
  'cpu_hours',
  'wall_hours',
  'atom_stability',
  'molecule_stability',
  'validity',
  'uniqueness',
  'connected_validity',
  'valid_nll',
  'samples',
  'sampling_steps',
  'probe_seconds',
] as const;

/** One row of curve.csv. */
export type CurveRow = Record<(typeof CURVE_COLUMNS)[number], number>;

/** How a curve point is measured. */
export interface CurveProbeOptions {
  /** molecules sampled at each point (fixed seed, so points differ only by the weights) */
  samples: number;
  /** denoising steps of each sample (strided from the trained schedule) */
  steps: number;
  /** worker threads for sampling (0: this thread) */
  workers: number;
  backend: BackendName;
}

/** The fixed seed of the curve's sample set. */
export const CURVE_SEED = 'curve';

/** Molecules per sampling batch of a curve point (200 molecules: 8 batches to share among workers). */
export const CURVE_BATCH_SIZE = 25;

/**
 * Sample the fixed set from a model and score it (EDM's stability and RDKit validity).
 * @param checkpointDir where the same EMA weights are saved (workers load them from there)
 */
export async function probeSamples(
  model: EdmModel,
  checkpointDir: string,
  opts: CurveProbeOptions,
): Promise<Pick<CurveRow, 'atom_stability' | 'molecule_stability' | 'validity' | 'uniqueness' | 'connected_validity' | 'samples' | 'sampling_steps'>> {
  // a fixed batch size: the batches (and so the molecules) must not depend on the worker count
  const { molecules } = await generate(checkpointDir, model, {
    n: opts.samples,
    batchSize: CURVE_BATCH_SIZE,
    steps: opts.steps,
    seed: CURVE_SEED,
    workers: Math.max(1, opts.workers),
    backend: opts.backend,
  });
  const r = await evaluateMolecules(molecules);
  return {
    atom_stability: r.atomStability,
    molecule_stability: r.moleculeStability,
    validity: r.validity,
    // NaN (written as NaN, drawn as a gap) when no molecule is valid
    uniqueness: r.uniqueness ?? NaN,
    connected_validity: r.connectedValidity,
    samples: r.molecules,
    sampling_steps: opts.steps,
  };
}

/** Read curve.csv (empty when absent). @throws Error naming the file and line for a bad row */
export function readCurve(path: string): CurveRow[] {
  if (!existsSync(path)) return [];
  const lines = readFileSync(path, 'utf8').trim().split('\n');
  const header = lines[0].split(',');
  return lines.slice(1).filter(Boolean).map((line, i) => {
    const cells = line.split(',');
    if (cells.length !== header.length) throw new Error(`${path}:${i + 2}: ${cells.length} cells, expected ${header.length}`);
    return Object.fromEntries(header.map((h, j) => [h, Number(cells[j])])) as CurveRow;
  });
}

/** Write rows to curve.csv atomically. */
export function writeCurve(path: string, rows: CurveRow[]): void {
  const fmt = (v: number): string => (Number.isInteger(v) ? String(v) : v.toPrecision(6));
  const body = rows.map((r) => CURVE_COLUMNS.map((c) => fmt(r[c] ?? NaN)).join(',')).join('\n');
  writeFileAtomic(path, `${CURVE_COLUMNS.join(',')}\n${body}${rows.length ? '\n' : ''}`);
}

/** Whether `row` beats every row of `rows` (molecule stability, then atom stability). */
export function isBest(row: CurveRow, rows: CurveRow[]): boolean {
  return rows.every(
    (r) => row.molecule_stability > r.molecule_stability || (row.molecule_stability === r.molecule_stability && row.atom_stability > r.atom_stability),
  );
}
