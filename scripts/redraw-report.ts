/**
 * Draw a published checkpoint's report.html again (after a trial arm's curve was added to its
 * `trials/`), with the header publish-checkpoint gives it; the weights are not touched:
 *
 *   node --import tsx scripts/redraw-report.ts checkpoints/qm9-default
 *
 * The run's latest step is read from `DEST/latest` when it is there. Exits 2 with one line for a
 * missing or corrupt checkpoint.
 */
import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { loadCheckpoint, publishedReportDetails, UserError, writeTrainingReport } from '../src/internal.js';

try {
  const dest = resolve(process.argv[2] ?? 'checkpoints/qm9-default');
  const shipped = loadCheckpoint(dest).config;
  const latest = existsSync(join(dest, 'latest')) ? loadCheckpoint(join(dest, 'latest')).config : shipped;
  await writeTrainingReport(dest, `Training of ${basename(dest)}`, publishedReportDetails(shipped, latest.training?.steps).details);
  process.stdout.write(`redrew ${join(dest, 'report.html')}\n`);
} catch (e) {
  if (!(e instanceof UserError)) throw e;
  process.stderr.write(`redraw-report: ${e.message}\n`);
  process.exit(2);
}
