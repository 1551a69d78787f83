/**
 * The learning curve's data: the rows of `curve.csv` beside a checkpoint (EDM's metrics of a
 * fixed sample set and the validation NLL against steps, epochs and CPU-hours, the currency of a
 * 2-core machine), read and written here for the trainer, the plots and the scripts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from '../data/files.js';

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

/**
 * Columns a bond-aware model's curve adds after CURVE_COLUMNS: the same samples scored on their
 * own bonds (metrics/evaluate.ts OwnBondScores), the figures its bar is set on. Written only
 * when a row has them, so an EDM model's curve.csv keeps its 13 columns.
 */
export const OWN_BOND_CURVE_COLUMNS = ['own_atom_stability', 'own_molecule_stability', 'own_validity', 'own_connected_validity'] as const;

/** One row of curve.csv (the own-bond columns only for a bond-aware model's rows). */
export type CurveRow = Record<(typeof CURVE_COLUMNS)[number], number> & Partial<Record<(typeof OWN_BOND_CURVE_COLUMNS)[number], number>>;

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

/** Whether a curve has a bond-aware model's own-bond columns (in any row). */
export function hasOwnBondColumns(rows: CurveRow[]): boolean {
  return rows.some((r) => r.own_molecule_stability !== undefined);
}

/**
 * Write rows to curve.csv atomically; the own-bond columns when any row has them (NaN in rows
 * without, e.g. those before a model was turned bond-aware).
 */
export function writeCurve(path: string, rows: CurveRow[]): void {
  const columns: (keyof CurveRow)[] = hasOwnBondColumns(rows) ? [...CURVE_COLUMNS, ...OWN_BOND_CURVE_COLUMNS] : [...CURVE_COLUMNS];
  const fmt = (v: number): string => (Number.isInteger(v) ? String(v) : v.toPrecision(6));
  const body = rows.map((r) => columns.map((c) => fmt(r[c] ?? NaN)).join(',')).join('\n');
  writeFileAtomic(path, `${columns.join(',')}\n${body}${rows.length ? '\n' : ''}`);
}

/** Whether `row` beats every row of `rows` (molecule stability, then atom stability). */
export function isBest(row: CurveRow, rows: CurveRow[]): boolean {
  return rows.every(
    (r) => row.molecule_stability > r.molecule_stability || (row.molecule_stability === r.molecule_stability && row.atom_stability > r.atom_stability),
  );
}
