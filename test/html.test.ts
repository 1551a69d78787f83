/**
 * HTML reports: self-contained pages (nothing fetched when opened), one card per molecule, and,
 * where Debian's Chromium is installed (CI installs it), rendered as a reader sees them: the 3D
 * viewers draw, the trajectory animates, and no console error appears.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Molecule } from '../src/data/molecule.js';
import { evaluateMolecules } from '../src/metrics/evaluate.js';
import { htmlReport } from '../src/report/html/page.js';
import { trainingReportHtml } from '../src/report/html/training.js';
import { reportPlots } from '../src/report/html/plots.js';
import type { CurveRow } from '../src/report/curve-data.js';
import { ROOT } from './helpers.js';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const NO_CHROMIUM = `needs Chromium at ${CHROMIUM} (apt-get install chromium; .ci/run installs it)`;

const mol = (atoms: [string, number, number, number][], name: string): Molecule => ({ name, elements: atoms.map((a) => a[0]), positions: Float32Array.from(atoms.flatMap((a) => a.slice(1) as number[])) });
const methane = mol([['C', 0, 0, 0], ['H', 0.63, 0.63, 0.63], ['H', 0.63, -0.63, -0.63], ['H', -0.63, 0.63, -0.63], ['H', -0.63, -0.63, 0.63]], 'methane');
const water = mol([['O', 0, 0, 0], ['H', 0.96, 0, 0], ['H', -0.24, 0.93, 0]], 'water');
// hydrogen between two carbons: valence 2, which RDKit refuses
const broken = mol([['C', 0, 0, 0], ['H', 1.05, 0, 0], ['C', 2.1, 0, 0]], 'broken <&> name');

/** Run scripts/check-html.ts on a page; returns its JSON line. */
function checkInChromium(page: string, extra: string[]): Record<string, unknown> {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'check-html.ts'), page, ...extra], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  expect(r.status, r.stderr + r.stdout).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

describe('HTML reports', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'edm-html-'));
  });

  it('a sample report is one self-contained file with a card per molecule, and renders in Chromium', async (ctx) => {
    const molecules = [methane, water, broken, methane, water, broken, methane];
    const report = await evaluateMolecules(molecules, { trainSmiles: new Set(['[H]O[H]']) });
    const chain = [0.2, 0.6, 1].map((s, f) => ({ ...methane, name: `frame ${f}`, positions: methane.positions.map((x) => x * s) }));
    const html = await htmlReport({ title: 'test <report>', report, molecules, maxMolecules: 6, chain });
    // nothing from the network: no external scripts, styles or images
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)=["']?(https?:)?\/\//i);
    expect(html).not.toMatch(/<script[^>]+src=/i);
    expect(html.match(/<div class="card"/g)).toHaveLength(6);
    // until its viewer is drawn, each 3D box says so rather than being an empty frame
    expect(html.match(/<div class="viewer" id="viewer-\d+"><div class="released">3D view when nearer the middle of the window<\/div><\/div>/g)).toHaveLength(6);
    expect(html).toContain('test &lt;report&gt;');
    expect(html).toContain('broken &lt;&amp;&gt; name');
    expect(html).toMatch(/connected validity/);
    const page = join(dir, 'sample.html');
    writeFileSync(page, html);
    ctx.skip(!existsSync(CHROMIUM), NO_CHROMIUM);
    const seen = checkInChromium(page, ['--cards', '6', '--chain', '--screenshot', join(dir, 'sample.png')]);
    expect(seen).toMatchObject({ cards: 6, depictions: 4, invalidPlaceholders: 2, plots: 4, problems: [] });
    expect(existsSync(join(dir, 'sample.png'))).toBe(true);
  });

  it('a short run\'s loss chart draws its point with whole-number steps; bond panels skip pairs with no bond on the axis', async () => {
    const html = await trainingReportHtml({ title: 'Training runs/short', details: [], curve: [], losses: [{ step: 50, loss: 0.31 }], validation: [] });
    // one logged step: a point is drawn (a line needs two) and no tick reads 50.000000
    expect(html).toMatch(/class="mark-symbol/);
    expect(html).not.toMatch(/\d\.0{6}/);
    const stats = (h: Record<string, number[]>) => ({ nAtoms: { '9': 10 }, atomTypes: { C: 10, H: 10, O: 2 }, bondLengths: h });
    const hist = (at: number, n: number): number[] => Object.assign(new Array<number>(300).fill(0), { [Math.round(at / 0.01)]: n });
    // H-H: many "bonds" at 0.5 Å, off the axis; H-O fewer but drawable
    const gen = stats({ 'C-H': hist(1.09, 50), 'H-H': hist(0.5, 40), 'C-C': hist(1.53, 30), 'C-O': hist(1.43, 20), 'C-N': hist(1.47, 15), 'N-H': hist(1.01, 12), 'H-O': hist(0.97, 10) });
    const plots = await reportPlots(gen, gen, [0, 0, 0, 0, 0, 0, 0, 0, 0, 5]);
    const bonds = plots.find((p) => p.title === 'Bond lengths')!.svg;
    expect(bonds).toMatch(/H-O bonds/);
    expect(bonds).not.toMatch(/H-H bonds/);
    expect(plots.map((p) => p.svg).join('')).not.toMatch(/\d\.0{6}%/);
  });

  it('a training report draws the learning curve, loss and NLL, and renders in Chromium', async (ctx) => {
    const row = (step: number): CurveRow => ({
      step, epoch: step / 1500, cpu_hours: step / 5000, wall_hours: step / 9000, atom_stability: 0.4 + step / 1e5, molecule_stability: step > 6000 ? 0.01 : 0,
      validity: 0.3, uniqueness: 0.98, connected_validity: 0.2, valid_nll: 200 - step / 100, samples: 200, sampling_steps: 500, probe_seconds: 100,
    });
    const html = await trainingReportHtml({
      title: 'Training runs/x',
      details: ['nf 64, 4 layers'],
      curve: [row(3000), row(6000), row(9000)],
      losses: Array.from({ length: 180 }, (_, i) => ({ step: 50 * (i + 1), loss: 0.5 / Math.sqrt(i + 1) })),
      validation: [{ step: 3000, nll: 170 }, { step: 6000, nll: 140 }],
    });
    expect(html.match(/<svg/g)!.length).toBe(3);
    expect(html).not.toMatch(/<script/i);
    const page = join(dir, 'training.html');
    writeFileSync(page, html);
    ctx.skip(!existsSync(CHROMIUM), NO_CHROMIUM);
    expect(checkInChromium(page, ['--training'])).toMatchObject({ pictures: 3, problems: [] });
  });
});
