/**
 * `report.html` beside a training run's checkpoint, drawn from its curve.csv and
 * train-log.jsonl (see report/html/training.ts).
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { writeFileAtomic } from '../data/files.js';
import { trainingReportHtml } from '../report/html/training.js';
import { readCurve } from '../report/curve-data.js';
import type { EdmConfig } from '../config.js';

/**
 * Write `dir/report.html` from the run's files (atomically); the curves of trial arms kept in
 * `dir/trials/NAME.csv` (curve.csv files of other runs or branches) are drawn beside its own
 * against CPU-hours.
 * @param details lines under the title (recipe, provenance)
 */
export async function writeTrainingReport(dir: string, title: string, details: string[]): Promise<void> {
  const logPath = join(dir, 'train-log.jsonl');
  const events: Record<string, number | string>[] = existsSync(logPath)
    ? readFileSync(logPath, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l))
    : [];
  const losses = events.filter((e) => e.event === 'step').map((e) => ({ step: Number(e.step), loss: Number(e.loss) }));
  const validation = events.filter((e) => e.event === 'validation').map((e) => ({ step: Number(e.step), nll: Number(e.nll) }));
  const trialsDir = join(dir, 'trials');
  const arms = existsSync(trialsDir)
    ? readdirSync(trialsDir)
        .filter((f) => f.endsWith('.csv'))
        .sort()
        .map((f) => ({ name: basename(f, '.csv'), curve: readCurve(join(trialsDir, f)) }))
    : [];
  const html = await trainingReportHtml({ title, details, curve: readCurve(join(dir, 'curve.csv')), losses, validation, arms });
  writeFileAtomic(join(dir, 'report.html'), html);
}

/** Seconds (CPU or wall) as the hours the training documents print, e.g. `22.38`; missing counts as 0. */
export const hoursText = (seconds: number | undefined): string => ((seconds ?? 0) / 3600).toFixed(2);

/**
 * The recipe line and the header lines of a published checkpoint's training report: the
 * shipped step beside the run's latest one. One definition for publishing and for redrawing
 * the report after a trial (scripts/publish-checkpoint.ts, scripts/redraw-report.ts).
 * @param shipped the shipped checkpoint's config
 * @param latestStep the step of the state training continues from (the shipped one's when the same)
 */
export function publishedReportDetails(shipped: EdmConfig, latestStep: number | undefined): { recipe: string; details: string[] } {
  const t = shipped.training ?? {};
  const recipe = `nf ${shipped.dynamics.nf}, ${shipped.dynamics.nLayers} layers, lr ${t.lr}, batch ${t.batchSize}, EMA ${t.emaDecay}`;
  return { recipe, details: [recipe, `shipped: step ${t.steps}, ${Number(t.epochs).toFixed(2)} epochs, ${hoursText(t.cpuSeconds)} CPU-hours; run: step ${latestStep}`] };
}
