/**
 * EDM's published model layouts end to end through the command line (issue 44): a GEOM-Drugs
 * checkpoint imported from EDM's files (random weights, EDM's layout: ../shared/reference/edm)
 * samples molecules of 120+ atoms with the report, scored by EDM's GEOM analysis.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSdf } from '../src/data/sdf.js';
import { NO_SHARED_REASON, ROOT, SHARED } from './helpers.js';

const EDM = join(ROOT, 'bin', 'edm.js');

describe('EDM\'s GEOM-Drugs layout', () => {
  it('an imported checkpoint samples 4 molecules of 125 atoms end to end, with the SDF, the metrics and the HTML report', (ctx) => {
    const src = join(SHARED, 'reference', 'edm', 'geom_drugs');
    if (!existsSync(src)) return ctx.skip(NO_SHARED_REASON);
    const dir = mkdtempSync(join(tmpdir(), 'edm-geom-'));
    const run = (args: string[]) => spawnSync(process.execPath, [EDM, ...args], { cwd: dir, encoding: 'utf8', timeout: 300_000 });
    const imp = run(['import-torch', src, '--out', 'geom']);
    expect(imp.status, imp.stderr).toBe(0);
    const s = run(['sample', '--checkpoint', 'geom', '-n', '4', '--n-atoms', '125', '--steps', '2', '--no-train', '--out', 'g.sdf', '--html', 'g.html']);
    expect(s.status, s.stderr).toBe(0);
    const mols = parseSdf(readFileSync(join(dir, 'g.sdf'), 'utf8'));
    expect(mols.map((m) => m.elements.length)).toEqual([125, 125, 125, 125]);
    const geomTypes = new Set(['H', 'B', 'C', 'N', 'O', 'F', 'Al', 'Si', 'P', 'S', 'Cl', 'As', 'Br', 'I', 'Hg', 'Bi']);
    for (const m of mols) {
      expect(m.elements.every((e) => geomTypes.has(e))).toBe(true);
      // EDM's decoding without charges never gives the last type
      expect(m.elements).not.toContain('Bi');
    }
    const metrics = JSON.parse(readFileSync(join(dir, 'g.metrics.json'), 'utf8'));
    expect(metrics.molecules).toBe(4);
    // one card per molecule, each with its 2D depiction and its 3D view's data
    const html = readFileSync(join(dir, 'g.html'), 'utf8');
    expect(html.match(/<div class="card"/g)).toHaveLength(4);
    expect(html.match(/<div class="depiction"><svg/g)).toHaveLength(4);
    const views = JSON.parse(/<script type="application\/json" id="edm-molecules">([^<]*)<\/script>/.exec(html)![1]) as { molblock: string }[];
    expect(views.map((m) => parseSdf(m.molblock + '$$$$\n')[0].elements.length)).toEqual([125, 125, 125, 125]);
    // no QM9 rows beside a GEOM model's figures
    expect(s.stdout).not.toMatch(/QM9 data/);
  }, 300_000);
});
