/**
 * Vega-Lite specs rendered to standalone SVG in Node.js (no browser, no network), for pictures
 * inlined in reports.
 */
import { compile, type TopLevelSpec } from 'vega-lite';
import { View, parse } from 'vega';

/** Render a Vega-Lite spec (a plain object) to SVG text. */
export async function vegaLiteSvg(spec: Record<string, unknown>): Promise<string> {
  const full = { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', background: 'white', ...spec } as unknown as TopLevelSpec;
  const view = new View(parse(compile(full).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
