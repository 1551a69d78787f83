/**
 * The optional files of an evaluation: the report as JSON and an SVG grid of valid molecules.
 */
import { writeFileAtomic } from '../data/files.js';
import type { EvaluationReport } from '../metrics/evaluate.js';
import { svgGrid } from './svg.js';
import { reportJson } from './table.js';

/**
 * Write the JSON report and/or the SVG grid, each atomically (absent paths are skipped).
 * @param maxSvg valid molecules drawn at most
 * @param extra fields added at the top of the JSON (e.g. checkpoint, seed)
 * @throws InputError if a file cannot be written
 */
export async function writeReportFiles(
  r: EvaluationReport,
  paths: { json?: string; svg?: string },
  maxSvg: number,
  extra: Record<string, unknown>,
): Promise<void> {
  if (paths.json) writeFileAtomic(paths.json, reportJson(r, extra));
  if (paths.svg) {
    const items = r.outcomes
      .filter((o) => o.valid)
      .slice(0, maxSvg)
      .map((o) => ({ smiles: o.smiles!, label: `${o.index + 1}${o.stable ? '' : ' (unstable)'}` }));
    writeFileAtomic(paths.svg, await svgGrid(items));
  }
}
