/**
 * The learning-curve picture: EDM's sample metrics and the validation NLL against CPU-hours
 * and epochs, as a standalone SVG drawn by Vega-Lite (rendered in Node, no browser).
 */
import { vegaLiteSvg } from './vega.js';
import type { CurveRow } from './curve-data.js';

/** Curve metrics drawn as percentages, with their legend names. */
const PERCENT_METRICS: [keyof CurveRow, string][] = [
  ['molecule_stability', 'molecule stability'],
  ['atom_stability', 'atom stability'],
  ['validity', 'validity'],
  ['connected_validity', 'connected validity'],
  ['uniqueness', 'uniqueness'],
  // a bond-aware model's samples on their own bonds (absent for EDM's model: no line)
  ['own_molecule_stability', 'molecule stability, own bonds'],
  ['own_validity', 'validity, own bonds'],
];

/**
 * Render curve rows as an SVG document: a 2 x 2 grid, sample metrics (%) and validation NLL
 * (nats per molecule) against CPU-hours (left) and epochs (right).
 * @param title heading of the picture (e.g. the checkpoint's name and recipe)
 * @throws Error when `rows` is empty
 */
export async function curveSvg(rows: CurveRow[], title: string): Promise<string> {
  if (rows.length === 0) throw new Error('the learning curve has no rows yet');
  const long = rows
    .flatMap((r) => PERCENT_METRICS.map(([key, metric]) => ({ cpu_hours: r.cpu_hours, epoch: r.epoch, step: r.step, metric, percent: 100 * (r[key] ?? NaN) })))
    .filter((p) => Number.isFinite(p.percent)); // undefined (no valid molecule): a gap, not a zero
  const nll = rows.filter((r) => Number.isFinite(r.valid_nll)).map((r) => ({ cpu_hours: r.cpu_hours, epoch: r.epoch, valid_nll: r.valid_nll }));
  const panel = (x: 'cpu_hours' | 'epoch', xTitle: string, y: 'percent' | 'valid_nll'): Record<string, unknown> => ({
    width: 320,
    height: 200,
    data: { values: y === 'percent' ? long : nll },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: x, type: 'quantitative', title: xTitle },
      y:
        y === 'percent'
          ? { field: 'percent', type: 'quantitative', title: 'fixed sample set (%)', scale: { domain: [0, 100] } }
          : { field: 'valid_nll', type: 'quantitative', title: 'validation NLL (nats/molecule)', scale: { zero: false } },
      ...(y === 'percent' ? { color: { field: 'metric', type: 'nominal', title: null, sort: PERCENT_METRICS.map(([, m]) => m) } } : {}),
    },
  });
  const last = rows[rows.length - 1];
  return vegaLiteSvg({
    title: { text: title, subtitle: `${rows.length} points; last: step ${last.step}, ${last.cpu_hours.toFixed(2)} CPU-hours, ${last.samples} samples x ${last.sampling_steps} steps each` },
    vconcat: [
      { hconcat: [panel('cpu_hours', 'CPU-hours of training', 'percent'), panel('epoch', 'epochs', 'percent')] },
      { hconcat: [panel('cpu_hours', 'CPU-hours of training', 'valid_nll'), panel('epoch', 'epochs', 'valid_nll')] },
    ],
  });
}
