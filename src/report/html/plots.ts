/**
 * The report's plots, drawn as inline SVG: atom counts and atom types against the training data,
 * bond-length histograms per element pair, and how many atoms of each molecule are stable.
 */
import { BOND_BIN_ANGSTROM, type DistributionStats } from '../../metrics/distributions.js';
import { STABLE_SHARE_BINS } from '../../metrics/evaluate.js';
import { vegaLiteSvg } from '../vega.js';

/** One bar or point of a distribution: its key, share of its set, and which set. */
interface Share {
  key: string;
  share: number;
  set: string;
}

/** Shares of a count table, labelled with `set`. */
function shares(counts: Record<string, number>, set: string): Share[] {
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  return Object.entries(counts).map(([key, n]) => ({ key, share: total ? n / total : 0, set }));
}

/** Grouped bars of this set against the training data. */
function comparedBars(values: Share[], title: string, xTitle: string, numericKeys: boolean): Record<string, unknown> {
  return {
    title,
    width: 360,
    height: 180,
    data: { values },
    mark: 'bar',
    encoding: {
      x: { field: 'key', type: numericKeys ? 'ordinal' : 'nominal', title: xTitle, sort: numericKeys ? { field: 'num', op: 'min' } : undefined },
      xOffset: { field: 'set' },
      y: { field: 'share', type: 'quantitative', title: 'share', axis: { format: '.0%' } },
      color: { field: 'set', type: 'nominal', title: null },
    },
    transform: numericKeys ? [{ calculate: 'toNumber(datum.key)', as: 'num' }] : [],
  };
}

/** Shortest and longest bond drawn, Å: H-H (0.74 Å) to the longest single bonds EDM's tables allow. */
const BOND_AXIS: [number, number] = [0.6, 2.2];

/**
 * Bond lengths of up to `maxPairs` element pairs (most frequent first) as lines per set; a pair
 * with no bond inside the axis is left out rather than drawn as an empty panel.
 */
function bondLengthPanels(gen: DistributionStats, train: DistributionStats | undefined, maxPairs: number): Record<string, unknown>[] {
  const total = (h: number[]): number => h.reduce((a, b) => a + b, 0);
  const rowsOf = (pair: string): { length: number; share: number; set: string }[] => {
    const rows: { length: number; share: number; set: string }[] = [];
    for (const [set, stats] of [['this set', gen], ['training data', train]] as const) {
      const h = stats?.bondLengths[pair];
      if (!h) continue;
      const n = total(h);
      // 0.02 Å bins: two histogram bins each, smooth enough to read at this size
      for (let i = 0; i + 1 < h.length; i += 2) {
        const length = (i + 1) * BOND_BIN_ANGSTROM;
        if (length > BOND_AXIS[0] && length < BOND_AXIS[1]) rows.push({ length, share: (h[i] + h[i + 1]) / n, set });
      }
    }
    return rows;
  };
  return Object.entries(gen.bondLengths)
    .sort((a, b) => total(b[1]) - total(a[1]))
    .map(([pair]) => ({ pair, rows: rowsOf(pair) }))
    .filter((p) => p.rows.some((r) => r.share > 0))
    .slice(0, maxPairs)
    .map(({ pair, rows }) => ({
      title: `${pair} bonds`,
      width: 170,
      height: 110,
      data: { values: rows },
      mark: { type: 'line', interpolate: 'step' },
      encoding: {
        x: { field: 'length', type: 'quantitative', title: 'length (Å)', scale: { domain: BOND_AXIS } },
        y: { field: 'share', type: 'quantitative', title: null, axis: { format: '.0%' } },
        color: { field: 'set', type: 'nominal', title: null },
      },
    }));
}

/**
 * The plots of an evaluation as SVG documents.
 * @param stats distributions of the scored molecules
 * @param train the training data's distributions, when known (drawn beside them)
 * @param stableShareHistogram molecules by share of stable atoms (`EvaluationReport.stableShareHistogram`)
 */
export async function reportPlots(stats: DistributionStats, train: DistributionStats | undefined, stableShareHistogram: number[]): Promise<{ title: string; svg: string }[]> {
  const sets = (counts: (s: DistributionStats) => Record<string, number>): Share[] => [...shares(counts(stats), 'this set'), ...(train ? shares(counts(train), 'training data') : [])];
  // the last bin (share 1, the stable molecules) gets its own bar
  const stableShare = stableShareHistogram.map((count, k) => ({ from: k / STABLE_SHARE_BINS, to: (k + 1) / STABLE_SHARE_BINS, count }));
  const panels = bondLengthPanels(stats, train, 6);
  return [
    { title: 'Atom counts', svg: await vegaLiteSvg(comparedBars(sets((s) => s.nAtoms), 'Atoms per molecule', 'atoms', true)) },
    { title: 'Atom types', svg: await vegaLiteSvg(comparedBars(sets((s) => s.atomTypes), 'Atom types', 'element', false)) },
    {
      title: 'Per-molecule stability',
      svg: await vegaLiteSvg({
        title: 'Stable atoms per molecule (1 = molecule stable)',
        width: 360,
        height: 180,
        data: { values: stableShare },
        mark: 'bar',
        encoding: {
          x: { field: 'from', type: 'quantitative', bin: { binned: true, step: 1 / STABLE_SHARE_BINS }, title: 'fraction of stable atoms' },
          x2: { field: 'to' },
          y: { field: 'count', type: 'quantitative', title: 'molecules' },
        },
      }),
    },
    ...(panels.length ? [{ title: 'Bond lengths', svg: await vegaLiteSvg({ title: 'Bond lengths per element pair (inferred bonds)', columns: 3, concat: panels }) }] : []),
  ];
}
