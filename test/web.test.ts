/**
 * The browser page in a real browser: `npm run build:web`'s page served by `edm web`, opened in
 * headless Chromium at the test contract URL (?n=8&seed=1&steps=50&autorun=1). It must reach
 * "done" with no console error and no request leaving the machine, and its molecules must be
 * those of `edm sample -n 8 --seed 1 --steps 50` (to float32 rounding: elements, positions to
 * 1e-3 Å, stability and SMILES). Also: a dropped file with a bad line gets the CLI's one-line
 * error and no table.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSdf } from '../src/data/sdf.js';
import { GEOM_PROTOCOL, inferBonds } from '../src/decode/bonds.js';
import { ROOT } from './helpers.js';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const NO_CHROMIUM = !existsSync(CHROMIUM);
const EDM = join(ROOT, 'bin', 'edm.js');
const NO_CHROMIUM_REASON = `needs Chromium at ${CHROMIUM} (apt-get install chromium; .ci/run installs it)`;

type Tab = import('playwright-core').Page;

/** A new tab in headless Chromium (software WebGL for the 3D views), closed after `body`. */
async function inBrowser(body: (tab: Tab) => Promise<void>): Promise<void> {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--disable-background-networking', '--disable-component-update'] });
  try {
    await body(await browser.newPage());
  } finally {
    await browser.close();
  }
}

/** Open the page and choose a checkpoint folder, as a visitor does. */
async function openWithCheckpoint(tab: Tab, url: string, folder: string): Promise<void> {
  await tab.goto(url);
  await tab.waitForFunction(() => document.body.dataset.state === 'idle');
  await tab.setInputFiles('#checkpoint', folder);
  await tab.waitForFunction(() => document.body.dataset.state === 'idle');
}

/**
 * Fill the form's fields (by element id), press Generate and wait for the run's end.
 * @returns the page's error line ('' when the run succeeded)
 */
async function generateIn(tab: Tab, fields: Record<string, string>, timeout = 120_000): Promise<string> {
  for (const [id, value] of Object.entries(fields)) await tab.fill(`#${id}`, value);
  await tab.click('#generate');
  await tab.waitForFunction(() => ['done', 'error'].includes(document.body.dataset.state ?? ''), null, { timeout });
  return (await tab.evaluate(() => document.getElementById('error')!.textContent)) ?? '';
}

describe('edm in the browser', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edm-web-'));
  let server: ChildProcess | undefined;
  let url = '';

  beforeAll(async () => {
    if (NO_CHROMIUM) return;
    const built = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'build-web.ts'), '--out', join(dir, 'site')], { cwd: ROOT, encoding: 'utf8' });
    expect(built.status, built.stderr).toBe(0);
    server = spawn(process.execPath, [EDM, 'web', '--port', '0', '--dir', join(dir, 'site')], { stdio: ['ignore', 'pipe', 'pipe'] });
    url = await new Promise<string>((resolve, reject) => {
      let out = '';
      server!.stdout!.on('data', (d) => {
        out += String(d);
        const m = /at (http:\/\/localhost:\d+\/)/.exec(out);
        if (m) resolve(m[1]);
      });
      server!.once('exit', (code) => reject(new Error(`edm web exited ${code}: ${out}`)));
    });
  }, 120_000);

  afterAll(() => {
    server?.kill('SIGINT');
  });

  it('the contract URL reaches "done" with the molecules of edm sample -n 8 --seed 1 --steps 50, no console error, nothing fetched from elsewhere', async (ctx) => {
    ctx.skip(NO_CHROMIUM, NO_CHROMIUM_REASON);
    const problems: string[] = [];
    await inBrowser(async (tab) => {
      tab.on('console', (m) => {
        if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
      });
      tab.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      await tab.context().route('**/*', (route) => (route.request().url().startsWith(url) || route.request().url().startsWith('blob:') || route.request().url().startsWith('data:') ? route.continue() : (problems.push(`request outside the machine: ${route.request().url()}`), route.abort())));
      await tab.setViewportSize({ width: 1280, height: 900 });
      await tab.goto(`${url}?n=8&seed=1&steps=50`);
      // before any run: no empty framed box, no empty summary block
      await tab.waitForFunction(() => document.body.dataset.state === 'idle');
      expect(await tab.evaluate(() => [document.getElementById('report')!.getBoundingClientRect().height, document.getElementById('summary')!.getBoundingClientRect().height])).toEqual([0, 0]);
      await tab.goto(`${url}?n=8&seed=1&steps=50&autorun=1`);
      await tab.waitForFunction(() => ['done', 'error'].includes(document.body.dataset.state ?? ''), null, { timeout: 300_000 });
      expect(await tab.evaluate(() => document.getElementById('error')!.textContent)).toBe('');
      expect(await tab.evaluate(() => document.body.dataset.state)).toBe('done');
      expect(await tab.evaluate(() => crossOriginIsolated)).toBe(true);
      const result = (await tab.evaluate(() => window.edmResult))!;
      const metrics = JSON.parse(result.metrics);
      expect(metrics.molecules).toBe(8);
      expect(await tab.evaluate(() => document.getElementById('summary')!.textContent)).toMatch(/this set/);
      // the CLI's HTML report in the frame: a card per molecule
      await tab.waitForFunction(() => (document.getElementById('report') as HTMLIFrameElement).contentDocument?.querySelectorAll('.card').length === 8, null, { timeout: 60_000 });
      // the report is not a scroller inside the page, and no summary line is cut off (1280 px)
      await tab.waitForFunction(() => {
        const f = document.getElementById('report') as HTMLIFrameElement;
        return f.getBoundingClientRect().height >= f.contentDocument!.documentElement.scrollHeight;
      }, null, { timeout: 30_000 });
      expect(await tab.evaluate(() => {
        const s = document.getElementById('summary')!;
        return s.scrollWidth <= s.clientWidth;
      })).toBe(true);
      await tab.screenshot({ path: join(dir, 'page.png'), fullPage: true });
      // the same molecules as the CLI
      const cli = spawnSync(process.execPath, [EDM, 'sample', '-n', '8', '--seed', '1', '--steps', '50', '--out', join(dir, 'cli.sdf')], { encoding: 'utf8' });
      expect(cli.status, cli.stderr).toBe(0);
      const page = parseSdf(result.sdf);
      const ref = parseSdf(readFileSync(join(dir, 'cli.sdf'), 'utf8'));
      expect(page).toHaveLength(8);
      page.forEach((m, k) => {
        expect(m.elements, `molecule ${k + 1}`).toEqual(ref[k].elements);
        for (let i = 0; i < m.positions.length; i++) expect(Math.abs(m.positions[i] - ref[k].positions[i]), `molecule ${k + 1}`).toBeLessThan(1e-3);
        for (const field of ['molecule_stable', 'atom_stability', 'smiles', 'valid']) expect(m.properties?.[field], `molecule ${k + 1} ${field}`).toEqual(ref[k].properties?.[field]);
      });
    });
    expect(problems).toEqual([]);
  }, 400_000);

  it('with the element model box (&elements=1) it makes the molecules of edm sample --element-model --element-from tMax', async (ctx) => {
    ctx.skip(NO_CHROMIUM, NO_CHROMIUM_REASON);
    const tMax = (JSON.parse(readFileSync(join(ROOT, 'checkpoints', 'qm9-default', 'elements', 'config.json'), 'utf8')) as { elementModel: { tMax: number } }).elementModel.tMax;
    await inBrowser(async (tab) => {
      await tab.goto(`${url}?n=4&seed=2&steps=40&autorun=1&elements=1`);
      await tab.waitForFunction(() => ['done', 'error'].includes(document.body.dataset.state ?? ''), null, { timeout: 300_000 });
      expect(await tab.evaluate(() => document.getElementById('error')!.textContent)).toBe('');
      const result = (await tab.evaluate(() => window.edmResult))!;
      const cli = spawnSync(process.execPath, [EDM, 'sample', '-n', '4', '--seed', '2', '--steps', '40', '--element-model', '--element-from', String(tMax), '--out', join(dir, 'cli-elements.sdf')], { encoding: 'utf8' });
      expect(cli.status, cli.stderr).toBe(0);
      const plain = spawnSync(process.execPath, [EDM, 'sample', '-n', '4', '--seed', '2', '--steps', '40', '--out', join(dir, 'cli-plain.sdf')], { encoding: 'utf8' });
      expect(plain.status, plain.stderr).toBe(0);
      const page = parseSdf(result.sdf);
      const ref = parseSdf(readFileSync(join(dir, 'cli-elements.sdf'), 'utf8'));
      page.forEach((m, k) => {
        expect(m.elements, `molecule ${k + 1}`).toEqual(ref[k].elements);
        for (let i = 0; i < m.positions.length; i++) expect(Math.abs(m.positions[i] - ref[k].positions[i]), `molecule ${k + 1}`).toBeLessThan(1e-3);
      });
      // the box changes the molecules (the element model is really used)
      const without = parseSdf(readFileSync(join(dir, 'cli-plain.sdf'), 'utf8'));
      expect(page.some((m, k) => m.elements.join() !== without[k].elements.join() || m.positions.some((v, i) => Math.abs(v - without[k].positions[i]) > 1e-3))).toBe(true);
    });
  }, 400_000);

  it('generates from a checkpoint folder the visitor chooses, and names what a wrong folder lacks', async (ctx) => {
    ctx.skip(NO_CHROMIUM, NO_CHROMIUM_REASON);
    const ck = join(dir, 'my-checkpoint');
    const bad = join(dir, 'not-a-checkpoint');
    mkdirSync(ck);
    mkdirSync(bad);
    const shipped = join(ROOT, 'checkpoints', 'qm9-default');
    const weights = (JSON.parse(readFileSync(join(shipped, 'config.json'), 'utf8')) as { weights: { file: string } }).weights.file;
    for (const f of ['config.json', weights]) copyFileSync(join(shipped, f), join(ck, f));
    copyFileSync(join(shipped, weights), join(bad, weights));
    await inBrowser(async (tab) => {
      await tab.goto(url);
      await tab.waitForFunction(() => document.body.dataset.state === 'idle');
      await tab.setInputFiles('#checkpoint', bad);
      await tab.waitForFunction(() => document.body.dataset.state === 'error');
      expect(await tab.evaluate(() => document.getElementById('error')!.textContent)).toBe('not-a-checkpoint: not a checkpoint (no config.json)');
      await tab.setInputFiles('#checkpoint', ck);
      await tab.waitForFunction(() => document.body.dataset.state === 'idle');
      expect(await tab.evaluate(() => document.getElementById('checkpoint-label')!.textContent)).toMatch(/my-checkpoint/);
      expect(await generateIn(tab, { n: '2', steps: '5' })).toBe('');
      const result = (await tab.evaluate(() => window.edmResult))!;
      expect(parseSdf(result.sdf)).toHaveLength(2);
      // the chosen folder has no training SMILES: novelty says why it is n/a
      expect(await tab.evaluate(() => document.getElementById('novelty')!.textContent)).toMatch(/novelty n\/a: my-checkpoint has no train-reference\.json\.gz/);
    });
  }, 180_000);

  it('samples from a property-conditioned checkpoint folder (EDM\'s alpha model, imported) with the condition box, and names a missing condition', async (ctx) => {
    ctx.skip(NO_CHROMIUM, NO_CHROMIUM_REASON);
    const src = join(ROOT, '..', 'shared', 'reference', 'edm', 'conditional_alpha');
    ctx.skip(!existsSync(src), `${src} absent: needs EDM's conditional reference model`);
    const imp = spawnSync(process.execPath, [EDM, 'import-torch', src, '--out', join(dir, 'alpha')], { encoding: 'utf8' });
    expect(imp.status, imp.stderr).toBe(0);
    await inBrowser(async (tab) => {
      await openWithCheckpoint(tab, url, join(dir, 'alpha'));
      expect(await generateIn(tab, { n: '2', steps: '3' })).toMatch(/this checkpoint is conditioned on alpha: give --condition alpha=VALUE/);
      expect(await generateIn(tab, { condition: 'alpha=80' })).toBe('');
      const sdf = (await tab.evaluate(() => window.edmResult))!.sdf;
      expect(parseSdf(sdf).map((m) => m.properties?.target_alpha)).toEqual(['80', '80']);
    });
  }, 240_000);

  it('samples drug-size molecules from a GEOM-Drugs checkpoint folder (EDM\'s GEOM model, imported) and decodes them with EDM\'s GEOM bond rule', async (ctx) => {
    ctx.skip(NO_CHROMIUM, NO_CHROMIUM_REASON);
    const src = join(ROOT, '..', 'shared', 'reference', 'edm', 'geom_drugs');
    ctx.skip(!existsSync(src), `${src} absent: needs EDM's GEOM-Drugs reference model`);
    const imp = spawnSync(process.execPath, [EDM, 'import-torch', src, '--out', join(dir, 'geom')], { encoding: 'utf8' });
    expect(imp.status, imp.stderr).toBe(0);
    const config = JSON.parse(readFileSync(join(dir, 'geom', 'config.json'), 'utf8')) as { dataset: { atomDecoder: string[] } };
    await inBrowser(async (tab) => {
      await openWithCheckpoint(tab, url, join(dir, 'geom'));
      expect(await generateIn(tab, { n: '2', steps: '2', seed: '4' }, 240_000)).toBe('');
      const mols = parseSdf((await tab.evaluate(() => window.edmResult))!.sdf, 'page.sdf', config.dataset.atomDecoder);
      expect(mols).toHaveLength(2);
      // sizes from GEOM's histogram (QM9 stops at 29 atoms); the bond block is GEOM's rule on the atoms
      expect(Math.max(...mols.map((m) => m.elements.length))).toBeGreaterThan(29);
      for (const m of mols) expect(m.bonds!.map((b) => [b.i, b.j, b.order])).toEqual(inferBonds(m, GEOM_PROTOCOL).map((b) => [b.i, b.j, b.order]));
    });
  }, 300_000);

  it('a dropped file with a bad line gets the CLI\'s one-line error and no table', async (ctx) => {
    ctx.skip(NO_CHROMIUM, NO_CHROMIUM_REASON);
    await inBrowser(async (tab) => {
      await tab.goto(url);
      await tab.waitForFunction(() => document.body.dataset.state === 'idle');
      await tab.setInputFiles('#file', { name: 'bad.xyz', mimeType: 'text/plain', buffer: Buffer.from('2\nbad\nC 0 0 0\nXx 1 0 0\n') });
      await tab.waitForFunction(() => document.body.dataset.state === 'error', null, { timeout: 60_000 });
      expect(await tab.evaluate(() => document.getElementById('error')!.textContent)).toMatch(/^bad\.xyz:4: unknown element Xx; known elements are H, C, N, O, F/);
      expect(await tab.evaluate(() => document.getElementById('summary')!.textContent)).toBe('');
    });
  }, 120_000);
});
