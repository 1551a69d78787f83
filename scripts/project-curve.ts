/**
 * Project learning curves to a bar: for each curve.csv (or checkpoint/run folder holding one),
 * the slope of each barred metric per CPU-hour over the last points and the steepest over the run,
 * and the CPU-hours each projects to the bar. The figure issue notes ask for at every stop.
 *
 *   node --import tsx scripts/project-curve.ts CURVE_OR_DIR... [--bar molecule_stability=0.5]...
 *     [--window 4] [--since STEP] [--budget H]
 *
 * Default bars: molecule stability 0.5 and validity 0.85 (issue 22's). `--window K`: points per
 * least-squares line (default 4). `--since STEP`: only points at or after STEP (the phase to judge:
 * the early rise of a fresh run would make any "steepest" slope meaningless). `--budget H`: CPU-hours of training left; each projection then
 * says whether it lands within them. Prints one markdown table; exits 2 with one line on bad
 * arguments or an unreadable curve.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type CurveMetric, projectCurve, readCurve } from '../src/internal.js';
import { failer } from './sample-score.js';

const METRICS: CurveMetric[] = ['atom_stability', 'molecule_stability', 'validity', 'connected_validity'];

const fail = failer('project-curve');
/** f's value, or a one-line exit with its error's message after `prefix`. */
function orFail<T>(f: () => T, prefix = ''): T {
  try {
    return f();
  } catch (e) {
    return fail(prefix + (e as Error).message);
  }
}

const args = process.argv.slice(2);
const bars: [CurveMetric, number][] = [];
const paths: string[] = [];
let window = 4;
let budget: number | undefined;
let since = 0;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--bar') {
    const [name, value] = (args[++i] ?? '').split('=');
    if (!METRICS.includes(name as CurveMetric) || !(Number(value) > 0 && Number(value) <= 1)) fail(`--bar ${args[i]}: expected METRIC=FRACTION, METRIC one of ${METRICS.join(', ')}`);
    bars.push([name as CurveMetric, Number(value)]);
  } else if (a === '--window') {
    window = Number(args[++i]);
    if (!(Number.isInteger(window) && window >= 2)) fail(`--window ${args[i]}: expected an integer >= 2`);
  } else if (a === '--since') {
    since = Number(args[++i]);
    if (!(since >= 0)) fail(`--since ${args[i]}: expected a step >= 0`);
  } else if (a === '--budget') {
    budget = Number(args[++i]);
    if (!(budget >= 0)) fail(`--budget ${args[i]}: expected CPU-hours >= 0`);
  } else if (a.startsWith('--')) fail(`unknown option ${a}`);
  else paths.push(a);
}
if (!paths.length) fail('usage: project-curve.ts CURVE_OR_DIR... [--bar METRIC=FRACTION]... [--window K] [--since STEP] [--budget H]');
if (!bars.length) bars.push(['molecule_stability', 0.5], ['validity', 0.85]);

const pts = (v: number): string => (100 * v).toFixed(1);
const hours = (h: number): string => (Number.isFinite(h) ? h.toFixed(1) : 'never');
const within = (h: number): string => (budget === undefined ? '' : h <= budget ? ' (within budget)' : ' (beyond budget)');

process.stdout.write(
  `window ${window} points, points from step ${since}${budget === undefined ? '' : `, budget ${budget} CPU-hours`}\n\n` +
    '| curve | step | CPU-hours | metric | value | bar | latest slope, points/CPU-h (steps) | steepest slope (steps) | overall slope (steps) | CPU-h to bar: latest / steepest / overall |\n' +
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n',
);
for (const p of paths) {
  const csv = existsSync(p) && statSync(p).isDirectory() ? join(p, 'curve.csv') : p;
  if (!existsSync(csv)) fail(`${csv}: not found`);
  const rows = orFail(() => readCurve(csv).filter((r) => r.step >= since));
  for (const [metric, bar] of bars) {
    const pr = orFail(() => projectCurve(rows, metric, bar, window), `${csv}: `);
    const last = rows[rows.length - 1];
    process.stdout.write(
      `| ${p} | ${last.step} | ${pr.cpuHours.toFixed(2)} | ${metric.replace('_', ' ')} | ${pts(pr.value)} | ${pts(bar)} | ` +
        `${pts(pr.latest.perCpuHour)} (${pr.latest.fromStep}-${pr.latest.toStep}) | ${pts(pr.steepest.perCpuHour)} (${pr.steepest.fromStep}-${pr.steepest.toStep}) | ` +
        `${pts(pr.overall.perCpuHour)} (${pr.overall.fromStep}-${pr.overall.toStep}) | ` +
        `${[pr.toBarOnLatest, pr.toBarOnSteepest, pr.toBarOnOverall].map((h) => hours(h) + within(h)).join(' / ')} |\n`,
    );
  }
}
