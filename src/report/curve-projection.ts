/**
 * Where a learning curve is heading: slopes of a metric against CPU-hours and the CPU-hours they
 * project to a bar. The figures issue notes need at every stop of training ("the projected
 * CPU-hours to the bar"), computed one way for every run instead of by hand.
 *
 * A curve point samples only 200 molecules (about +-3 points of molecule stability at 20%), so a
 * slope between two neighbouring points is mostly noise: every slope here is a least-squares
 * line through `window` consecutive points.
 */
import type { CurveRow } from './curve-data.js';

/** A metric of curve.csv that a bar is set on (fractions in [0, 1]). */
export type CurveMetric = 'atom_stability' | 'molecule_stability' | 'validity' | 'connected_validity';

/** A least-squares line through consecutive curve points, against CPU-hours. */
export interface CurveSlope {
  /** CPU-hours of the window's first and last points. */
  fromCpuHours: number;
  toCpuHours: number;
  /** Steps of the window's first and last points. */
  fromStep: number;
  toStep: number;
  /** Change of the metric per CPU-hour (fraction per CPU-hour). */
  perCpuHour: number;
  /** The line's value at the window's last point (fraction): the smoothed level there. */
  level: number;
}

/** A curve's latest level, its latest and steepest slopes, and what they project to a bar. */
export interface CurveProjection {
  metric: CurveMetric;
  /** The bar (fraction in [0, 1]). */
  bar: number;
  /** The last point's CPU-hours and raw value. */
  cpuHours: number;
  value: number;
  /**
   * The slope over the last `window` points, the steepest over any `window` consecutive points,
   * and the line through every point given (the long-run trend, least moved by sampling noise).
   */
  latest: CurveSlope;
  steepest: CurveSlope;
  overall: CurveSlope;
  /**
   * CPU-hours of further training to the bar on each slope, from the latest smoothed level
   * (Infinity for a slope <= 0 with the bar above; 0 when the level is already there).
   */
  toBarOnLatest: number;
  toBarOnSteepest: number;
  toBarOnOverall: number;
}

/**
 * The least-squares line of `metric` against CPU-hours through `rows` (at least 2, in step order).
 * @throws Error when fewer than 2 rows, or when all rows have the same CPU-hours
 */
export function curveSlope(rows: CurveRow[], metric: CurveMetric): CurveSlope {
  if (rows.length < 2) throw new Error(`curveSlope: ${rows.length} curve point(s), a slope needs at least 2`);
  const xs = rows.map((r) => r.cpu_hours);
  const ys = rows.map((r) => r[metric]);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < xs.length; i++) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) ** 2;
  }
  if (sxx === 0) throw new Error(`curveSlope: every point is at ${mx} CPU-hours`);
  const perCpuHour = sxy / sxx;
  const last = rows[rows.length - 1];
  return {
    fromCpuHours: rows[0].cpu_hours,
    toCpuHours: last.cpu_hours,
    fromStep: rows[0].step,
    toStep: last.step,
    perCpuHour,
    level: my + perCpuHour * (last.cpu_hours - mx),
  };
}

/** CPU-hours to go from `level` to `bar` at `perCpuHour` (Infinity when the slope never gets there). */
function hoursTo(bar: number, level: number, perCpuHour: number): number {
  if (level >= bar) return 0;
  return perCpuHour > 0 ? (bar - level) / perCpuHour : Infinity;
}

/**
 * Project a learning curve to a bar: the slope through its last `window` points, the steepest
 * slope through any `window` consecutive points and the line through all points, each extended
 * linearly from the latest smoothed level (of the last `window` points). Pass only the rows of
 * the phase to judge (e.g. after the early rapid rise) for "steepest" and "overall" to mean it. Linear extension of a flattening curve is optimistic, so "out of reach on the steepest
 * slope" is a safe call and "within reach" is not a promise.
 * @param rows curve.csv rows in step order
 * @param window points per least-squares line (>= 2; 4 points span 15,000 steps at the usual cadence)
 * @throws Error when `window` < 2 or the curve has fewer than `window` points
 */
export function projectCurve(rows: CurveRow[], metric: CurveMetric, bar: number, window = 4): CurveProjection {
  if (!(Number.isInteger(window) && window >= 2)) throw new Error(`projectCurve: window ${window} must be an integer >= 2`);
  if (rows.length < window) throw new Error(`projectCurve: ${rows.length} curve point(s), the window needs ${window}`);
  const slopes: CurveSlope[] = [];
  for (let i = 0; i + window <= rows.length; i++) slopes.push(curveSlope(rows.slice(i, i + window), metric));
  const latest = slopes[slopes.length - 1];
  const steepest = slopes.reduce((best, s) => (s.perCpuHour > best.perCpuHour ? s : best));
  const overall = curveSlope(rows, metric);
  const last = rows[rows.length - 1];
  return {
    metric,
    bar,
    cpuHours: last.cpu_hours,
    value: last[metric],
    latest,
    steepest,
    overall,
    toBarOnLatest: hoursTo(bar, latest.level, latest.perCpuHour),
    toBarOnSteepest: hoursTo(bar, latest.level, steepest.perCpuHour),
    toBarOnOverall: hoursTo(bar, latest.level, overall.perCpuHour),
  };
}
