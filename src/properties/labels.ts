/**
 * Property labels keyed by molecule id: a CSV (optionally gzipped) with `#` comment lines giving
 * its provenance, then `id,gap,homo,lumo,mu,alpha`. The QM9 labels the project computes with
 * xtb (scripts/label-xtb.ts) are one such file; any user's own labels can be another.
 */
import { gzipSync } from 'node:zlib';
import { InputError } from '../errors.js';
import { readText, writeFileAtomic } from '../data/files.js';

export { PROPERTY_NAMES, PROPERTY_UNITS, type PropertyName, isPropertyName } from '../data/properties.js';
import { type PropertyName, PROPERTY_NAMES, isPropertyName } from '../data/properties.js';

/** Labels of many molecules: id -> values, plus the file's comment lines. */
export interface PropertyLabels {
  /** columns of the file, in order (a subset of PROPERTY_NAMES) */
  columns: PropertyName[];
  /** molecule id (QM9's gdb index) -> one value per column */
  values: Map<number, Float64Array>;
  /** the file's `#` lines without the `#`: where the labels came from */
  provenance: string[];
}

/**
 * Read a labels file.
 * @throws InputError naming the file and line for a missing header, an unknown column, a
 *   malformed id or value, a repeated id
 */
export function readLabels(path: string): PropertyLabels {
  const provenance: string[] = [];
  let columns: PropertyName[] | undefined;
  const values = new Map<number, Float64Array>();
  readText(path).split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line) return;
    if (line.startsWith('#')) return void provenance.push(line.slice(1).trim());
    const cells = line.split(',');
    if (!columns) {
      if (cells[0] !== 'id') throw new InputError(`the header must start with "id", not "${cells[0]}"`, path, i + 1);
      const bad = cells.slice(1).find((c) => !isPropertyName(c));
      if (bad !== undefined) throw new InputError(`unknown property column "${bad}" (known: ${PROPERTY_NAMES.join(', ')})`, path, i + 1);
      columns = cells.slice(1) as PropertyName[];
      return;
    }
    const id = Number(cells[0]);
    if (!Number.isInteger(id) || id < 1) throw new InputError(`the id "${cells[0]}" is not a positive integer`, path, i + 1);
    if (cells.length !== columns.length + 1) throw new InputError(`${cells.length} cells, expected ${columns.length + 1}`, path, i + 1);
    const row = Float64Array.from(cells.slice(1), Number);
    const bad = row.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new InputError(`${columns[bad]} "${cells[bad + 1]}" is not a number`, path, i + 1);
    if (values.has(id)) throw new InputError(`id ${id} appears twice`, path, i + 1);
    values.set(id, row);
  });
  if (!columns) throw new InputError('no header line (id,gap,...)', path);
  return { columns, values, provenance };
}

/**
 * Write labels atomically (gzipped when the path ends in `.gz`), ids in increasing order.
 * @throws InputError if the file cannot be written
 */
export function writeLabels(path: string, labels: PropertyLabels): void {
  const lines = labels.provenance.map((p) => `# ${p}`);
  lines.push(['id', ...labels.columns].join(','));
  for (const id of [...labels.values.keys()].sort((a, b) => a - b)) {
    lines.push([id, ...Array.from(labels.values.get(id)!, (v) => String(Number(v.toPrecision(7))))].join(','));
  }
  const text = `${lines.join('\n')}\n`;
  writeFileAtomic(path, path.endsWith('.gz') ? gzipSync(text, { level: 9 }) : text);
}

/**
 * The QM9 id of a molecule named `gdb <id>` (the shared split's XYZ comments), or undefined.
 */
export function gdbId(name: string | undefined): number | undefined {
  const m = /^gdb\s+(\d+)$/.exec(name?.trim() ?? '');
  return m ? Number(m[1]) : undefined;
}
