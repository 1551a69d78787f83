/**
 * Open an HTML report in headless Chromium as a reader would, offline, and check it:
 *
 *   node --import tsx scripts/check-html.ts report.html --cards 50 [--screenshot out.png] [--chain]
 *   node --import tsx scripts/check-html.ts checkpoints/qm9-default/report.html --training
 *   node --import tsx scripts/check-html.ts pocket.html --cards 50 --pocket
 *
 * (--screenshot writes out.png, the top of the page, and out-molecules.png, the first cards;
 * --training checks a training report: pictures, no molecules)
 *
 * Waits until the first molecule's 3D viewer has drawn (and the trajectory viewer, with
 * --chain), counts the molecule cards and their 2D depictions, and fails on any console error,
 * page error or request that leaves the file (the page must need no network). Prints one JSON
 * line with what it saw; exits 1 when a check fails, 2 when Chromium is missing.
 * Chromium comes from Debian (`apt-get install chromium`); set CHROMIUM to use another binary.
 */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

const args = process.argv.slice(2);
const page = args[0];
const opt = (name: string): string | undefined => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
if (!page || !existsSync(page)) {
  process.stderr.write(`check-html: ${page ? `${page}: not found` : 'usage: check-html.ts PAGE --cards N [--screenshot PNG] [--chain]'}\n`);
  process.exit(2);
}
if (!existsSync(executablePath)) {
  process.stderr.write(`check-html: no Chromium at ${executablePath} (apt-get install chromium, or set CHROMIUM)\n`);
  process.exit(2);
}
const browser = await chromium.launch({
  executablePath,
  args: ['--no-sandbox', '--disable-gpu', '--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
});
const problems: string[] = [];
try {
  const tab = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  tab.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
  });
  tab.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  const url = pathToFileURL(resolve(page)).href;
  await tab.route('**/*', (route) => (route.request().url() === url ? route.continue() : (problems.push(`request outside the page: ${route.request().url()}`), route.abort())));
  await tab.goto(url);
  const training = args.includes('--training');
  if (training) {
    const pictures = await tab.evaluate(() => document.querySelectorAll('.plots svg').length);
    if (pictures < 1) problems.push('the training report has no pictures');
    const shot = opt('--screenshot');
    if (shot) await tab.screenshot({ path: shot, fullPage: false });
    process.stdout.write(JSON.stringify({ page, bytes: statSync(page).size, pictures, problems }) + '\n');
    await browser.close();
    process.exit(problems.length ? 1 : 0);
  }
  // viewers are drawn as cards scroll into view, as a reader would scroll to them
  await tab.locator('.card').first().scrollIntoViewIfNeeded();
  await tab.waitForSelector('.card .viewer[data-ready] canvas', { timeout: 30_000 });
  if (args.includes('--pocket')) {
    // the pocket section: pocket and ligands drawn together
    await tab.waitForSelector('#pocket-viewer[data-ready] canvas', { timeout: 30_000 });
  }
  if (args.includes('--chain')) {
    await tab.locator('#chain-viewer').scrollIntoViewIfNeeded();
    await tab.waitForSelector('#chain-viewer[data-ready] canvas', { timeout: 30_000 });
  }
  // scroll through every card: viewers are made and released on the way (WebGL context limit)
  await tab.evaluate(async () => {
    for (const c of document.querySelectorAll('.card')) {
      c.scrollIntoView({ block: 'center' });
      await new Promise((r) => setTimeout(r, 120));
    }
  });
  await tab.locator('.card').first().scrollIntoViewIfNeeded();
  await tab.waitForTimeout(400);
  const seen = await tab.evaluate(() => ({
    cards: document.querySelectorAll('.card').length,
    depictions: document.querySelectorAll('.card .depiction svg').length,
    invalidPlaceholders: document.querySelectorAll('.card .no-depiction').length,
    viewersDrawn: Number(document.body.dataset.viewers ?? 0),
    plots: document.querySelectorAll('.plots svg').length,
    summaryRows: document.querySelectorAll('table.summary tr').length,
    pocketTables: document.querySelectorAll('table.pocket-table').length,
    cardScores: document.querySelectorAll('.card .scores').length,
  }));
  const shot = opt('--screenshot');
  if (shot) {
    // the molecules as a reader first sees them, and the top of the page
    await tab.screenshot({ path: shot.replace(/\.png$/, '-molecules.png'), fullPage: false });
    await tab.evaluate(() => window.scrollTo(0, 0));
    await tab.screenshot({ path: shot, fullPage: false });
  }
  const want = opt('--cards');
  if (want !== undefined && seen.cards !== Number(want)) problems.push(`${seen.cards} molecule cards, expected ${want}`);
  if (seen.depictions + seen.invalidPlaceholders !== seen.cards) problems.push(`${seen.cards} cards but ${seen.depictions} depictions and ${seen.invalidPlaceholders} placeholders`);
  if (seen.viewersDrawn < 1) problems.push('no 3D viewer was drawn');
  if (args.includes('--pocket') && seen.pocketTables < 2) problems.push(`${seen.pocketTables} pocket tables, expected the summary and the per-ligand table`);
  process.stdout.write(JSON.stringify({ page, bytes: statSync(page).size, ...seen, problems }) + '\n');
} finally {
  await browser.close();
}
process.exit(problems.length ? 1 : 0);
