/**
 * The training report (`report.html` beside a checkpoint): the learning curve of the fixed sample
 * set, the validation NLL and the training loss, against steps and CPU-hours. Self-contained.
 */
import type { CurveRow } from '../curve-data.js';
import { curveSvg } from '../curve-plot.js';
import { vegaLiteSvg } from '../vega.js';
import { escapeHtml } from './cards.js';
import { PAGE_STYLE } from './style.js';

/** What the training report draws. */
export interface TrainingReportInput {
  title: string;
  /** lines under the title (recipe, steps, CPU-hours) */
  details: string[];
  /** rows of curve.csv */
  curve: CurveRow[];
  /** `step` events of train-log.jsonl: the training loss */
  losses: { step: number; loss: number }[];
  /** `validation` events of train-log.jsonl */
  validation: { step: number; nll: number }[];
  /** curves of trial arms (branches or other runs) drawn with this run's against CPU-hours */
  arms?: { name: string; curve: CurveRow[] }[];
}

/**
 * Molecule and atom stability of every arm against CPU-hours, one colour per arm, so trials are
 * compared at equal compute (`this run` is the report's own curve).
 */
async function armsSvg(own: CurveRow[], arms: { name: string; curve: CurveRow[] }[]): Promise<string> {
  const values = [{ name: 'this run', curve: own }, ...arms].flatMap(({ name, curve }) =>
    curve.flatMap((r) => [
      { arm: name, cpu_hours: r.cpu_hours, metric: 'molecule stability', value: r.molecule_stability },
      { arm: name, cpu_hours: r.cpu_hours, metric: 'atom stability', value: r.atom_stability },
      // a bond-aware arm's samples on their own bonds: a line of its own beside EDM's protocol
      ...(Number.isFinite(r.own_molecule_stability)
        ? [
            { arm: `${name}, own bonds`, cpu_hours: r.cpu_hours, metric: 'molecule stability', value: r.own_molecule_stability! },
            { arm: `${name}, own bonds`, cpu_hours: r.cpu_hours, metric: 'atom stability', value: r.own_atom_stability! },
          ]
        : []),
    ]),
  );
  return vegaLiteSvg({
    title: 'Trials: the fixed sample set against CPU-hours',
    data: { values },
    facet: { column: { field: 'metric', type: 'nominal', title: null } },
    resolve: { scale: { y: 'independent' } },
    spec: {
      width: 330,
      height: 240,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'cpu_hours', type: 'quantitative', title: 'CPU-hours', scale: { zero: false } },
        y: { field: 'value', type: 'quantitative', title: null, axis: { format: '.0%' }, scale: { zero: false } },
        color: { field: 'arm', type: 'nominal', title: 'arm' },
      },
    },
  });
}

/** Mean of consecutive points so that at most `max` remain (a readable loss line). */
function thin(points: { step: number; loss: number }[], max: number): { step: number; loss: number }[] {
  const k = Math.ceil(points.length / max);
  if (k <= 1) return points;
  const out: { step: number; loss: number }[] = [];
  for (let i = 0; i < points.length; i += k) {
    const part = points.slice(i, i + k);
    out.push({ step: part[part.length - 1].step, loss: part.reduce((a, p) => a + p.loss, 0) / part.length });
  }
  return out;
}

/** Build the training report page (HTML text). */
export async function trainingReportHtml(input: TrainingReportInput): Promise<string> {
  const pictures: string[] = [];
  if (input.curve.length) pictures.push(await curveSvg(input.curve, 'Fixed sample set and validation NLL'));
  if (input.arms?.length) pictures.push(await armsSvg(input.curve, input.arms));
  const lines = [
    ...thin(input.losses, 800).map((p) => ({ step: p.step, value: p.loss, series: 'training loss (mean per step)' })),
  ];
  if (lines.length) {
    pictures.push(
      await vegaLiteSvg({
        title: 'Training loss (L2 on eps)',
        width: 700,
        height: 220,
        data: { values: lines },
        // a short run's few points are drawn as points (a line needs two); steps are whole numbers
        mark: { type: 'line', point: lines.length < 50 },
        encoding: { x: { field: 'step', type: 'quantitative', title: 'optimiser step', axis: { format: 'd', tickMinStep: 1 } }, y: { field: 'value', type: 'quantitative', title: 'loss', scale: { type: 'log' }, axis: { format: '.3~g' } } },
      }),
    );
  }
  if (input.validation.length) {
    pictures.push(
      await vegaLiteSvg({
        title: 'Validation NLL (nats per molecule)',
        width: 700,
        height: 220,
        data: { values: input.validation },
        mark: { type: 'line', point: true },
        encoding: { x: { field: 'step', type: 'quantitative', title: 'optimiser step', axis: { format: 'd', tickMinStep: 1 } }, y: { field: 'nll', type: 'quantitative', title: 'NLL', scale: { zero: false }, axis: { format: '.4~g' } } },
      }),
    );
  }
  const rows = input.curve
    .map((r) => `<tr><td>${r.step}</td><td>${r.epoch.toFixed(2)}</td><td>${r.cpu_hours.toFixed(2)}</td><td>${(100 * r.atom_stability).toFixed(1)}%</td><td>${(100 * r.molecule_stability).toFixed(1)}%</td><td>${(100 * r.validity).toFixed(1)}%</td><td>${Number.isFinite(r.valid_nll) ? r.valid_nll.toFixed(1) : 'n/a'}</td></tr>`)
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(input.title)}</title><style>${PAGE_STYLE}</style></head>
<body>
<header><h1>${escapeHtml(input.title)}</h1>${input.details.map((d) => `<p>${escapeHtml(d)}</p>`).join('')}</header>
<section><h2>Learning curves</h2><div class="plots">${pictures.map((p) => `<figure>${p}</figure>`).join('\n')}</div>
${pictures.length ? '' : '<p class="note">Nothing logged yet.</p>'}</section>
<section><h2>Curve points</h2><table class="summary"><tr><th>step</th><th>epoch</th><th>CPU-hours</th><th>atom stability</th><th>molecule stability</th><th>validity</th><th>NLL</th></tr>
${rows}</table></section>
</body></html>
`;
}
