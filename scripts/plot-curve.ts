/**
 * Regenerate a checkpoint's learning-curve picture (curve.svg) from its curve.csv, written by
 * `edm train --curve-every K`.
 *
 *   node --import tsx scripts/plot-curve.ts checkpoints/qm9-default [--title "..."]
 *
 * Writes DIR/curve.svg atomically; exits 2 with a one-line error when DIR has no curve.csv.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { curveSvg, readCurve, writeFileAtomic } from '../src/internal.js';

const args = process.argv.slice(2);
const dir = args.find((a, i) => !a.startsWith('--') && args[i - 1] !== '--title');
const title = args.includes('--title') ? args[args.indexOf('--title') + 1] : undefined;
const csv = dir ? join(dir, 'curve.csv') : '';
if (!dir || !existsSync(csv)) {
  process.stderr.write(`plot-curve: ${dir ? `${csv}: not found` : 'usage: plot-curve.ts CHECKPOINT_DIR [--title TEXT]'}\n`);
  process.exit(2);
}
const rows = readCurve(csv);
const svg = await curveSvg(rows, title ?? `Learning curve of ${dir}`);
writeFileAtomic(join(dir, 'curve.svg'), svg);
process.stdout.write(`wrote ${join(dir, 'curve.svg')} from ${rows.length} rows\n`);
