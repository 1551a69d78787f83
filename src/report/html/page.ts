/**
 * The HTML report of a set of molecules: one self-contained file (scripts, styles and pictures
 * inlined; nothing is fetched when it is opened) with the summary table against QM9 and EDM's
 * published figures, plots of the distributions, a card per molecule with its 2D depiction and
 * an interactive 3D view (inferred bonds, unstable atoms in magenta), and, after `--chain`, the
 * denoising trajectory as an animation.
 */
import type { Molecule } from '../../data/molecule.js';
import { formatXyz } from '../../data/xyz.js';
import type { DistributionStats } from '../../metrics/distributions.js';
import type { EvaluationReport } from '../../metrics/evaluate.js';
import { QM9_ANCHORS } from '../table.js';
import { escapeHtml, moleculeCards } from './cards.js';
import { PAGE_SCRIPT, POCKET_SCRIPT, threeDmolSource } from './client.js';
import { reportPlots } from './plots.js';
import { PAGE_STYLE } from './style.js';

/** What `htmlReport` draws. */
export interface HtmlReportInput {
  /** first heading, e.g. the file or checkpoint */
  title: string;
  /** lines under the title (command, seed, steps, timings) */
  details?: string[];
  report: EvaluationReport;
  /** the scored molecules in the report's order (the first ones are enough: cards are drawn for at most maxMolecules) */
  molecules: Molecule[];
  /** the training data's distributions, drawn beside this set's */
  trainStats?: DistributionStats;
  /** cards at most (default 100): the page grows by about 15 kB a card */
  maxMolecules?: number;
  /** add EDM's published QM9 rows to the summary (default true; off for other datasets) */
  anchors?: boolean;
  /** frames of one molecule's denoising trajectory, from noise to the molecule */
  chain?: Molecule[];
  /** a pocket run: the pocket and its ligands drawn together, and the pocket summary */
  pocket?: PocketView;
}

/** What the pocket section draws. */
export interface PocketView {
  /** pocket atoms as PDB text */
  pdb: string;
  /** generated ligands as SDF text (protein frame) */
  ligandsSdf: string;
  /** the reference ligand as SDF text, if any */
  referenceSdf?: string;
  /** lines about the run (site, sizes, time) */
  intro: string[];
  /** the summary and per-ligand tables, drawn as HTML tables */
  tables: { caption: string; head: string[]; rows: string[][] }[];
  /** one line of scores per ligand card (fit, QED, Vina), in the molecules' order */
  notes?: string[];
}

/** Text inside a `<script type="text/plain">`: no `<`, so nothing can close the element. */
const plainScript = (id: string, text: string): string => `<script type="text/plain" id="${id}">${text.replace(/</g, ' ')}</script>`;

/** A table as an HTML table (class pocket-table), cells escaped. */
function htmlTable(t: { caption: string; head: string[]; rows: string[][] }): string {
  const cells = (tag: string, row: string[]): string => `<tr>${row.map((c) => `<${tag}>${escapeHtml(c)}</${tag}>`).join('')}</tr>`;
  return `<table class="pocket-table"><caption>${escapeHtml(t.caption)}</caption>${cells('th', t.head)}\n${t.rows.map((r) => cells('td', r)).join('\n')}</table>`;
}

function pocketSection(p: PocketView | undefined): string {
  if (!p) return '';
  return `<section><h2>Pocket</h2><p class="note">The pocket (grey lines), the reference ligand (green) and the generated ligands (cyan carbons) in the protein's frame. Drag to rotate, scroll to zoom.</p>
<div id="pocket-viewer" class="chain"></div>${p.intro.map((l) => `<p>${escapeHtml(l)}</p>`).join('')}
${p.tables.map(htmlTable).join('\n')}
${plainScript('edm-pocket-pdb', p.pdb)}${plainScript('edm-pocket-ligands', p.ligandsSdf)}${p.referenceSdf ? plainScript('edm-pocket-reference', p.referenceSdf) : ''}</section>`;
}

const pct = (v: number | null | undefined): string => (v === null || v === undefined || Number.isNaN(v) ? 'n/a' : `${(100 * v).toFixed(1)}%`);

/** JSON inside a `<script>` element: `<` escaped so no text can close the element. */
const scriptJson = (v: unknown): string => JSON.stringify(v).replace(/</g, '\\u003c');

function summaryTable(r: EvaluationReport, anchors: boolean): string {
  const vu = r.uniqueness === null ? null : r.validity * r.uniqueness;
  const anchorRows = (anchors ? QM9_ANCHORS : []).map(
    (a) => `<tr><th>${escapeHtml(a.name)}</th><td>${pct(a.atom)}</td><td>${pct(a.mol)}</td><td>${pct(a.valid)}</td><td>–</td><td>–</td><td>${pct(a.validUnique)}</td><td>–</td></tr>`,
  );
  const c = r.counts;
  return `<table class="summary">
<tr><th></th><th>atom stability</th><th>molecule stability</th><th>validity</th><th>connected validity</th><th>uniqueness</th><th>valid × unique</th><th>novelty</th></tr>
<tr class="ours"><th>this set</th><td>${pct(r.atomStability)}</td><td>${pct(r.moleculeStability)}</td><td>${pct(r.validity)}</td><td>${pct(r.connectedValidity)}</td><td>${pct(r.uniqueness)}</td><td>${pct(vu)}</td><td>${pct(r.novelty)}</td></tr>
${anchorRows.join('\n')}
</table>
<p class="counts">${r.molecules} molecules, ${r.atoms} atoms: ${c.stableAtoms} stable atoms, ${c.stableMolecules} stable molecules, ${c.valid} valid, ${c.connectedValid} valid and connected, ${c.unique} unique${c.novel !== null ? `, ${c.novel} novel` : ''}; mean fragments ${r.meanFragments.toFixed(2)}; ${c.oddValence} unstable with an odd valence sum (composition: no bonds make them stable)${c.collapsed ? `; ${c.collapsed} with collapsed atoms (closer than 0.1 Å)` : ''}.</p>
<p class="note">Validity is EDM's: RDKit sanitises the molecule and keeps its largest fragment, so lone atoms and scattered fragments count as valid. Connected validity also asks for a single fragment.</p>`;
}

/**
 * Build the page.
 * @returns the HTML text (write it atomically)
 */
export async function htmlReport(input: HtmlReportInput): Promise<string> {
  const max = input.maxMolecules ?? 100;
  const shown = input.molecules.slice(0, max);
  const { html: cards, data } = await moleculeCards(shown, input.report.outcomes.slice(0, max), input.pocket?.notes);
  const plots = await reportPlots(input.report.stats, input.trainStats, input.report.stableShareHistogram);
  const chain = input.chain?.length
    ? `<section><h2>Denoising trajectory</h2><p class="note">${input.chain.length} frames of one molecule, from noise to the final molecule.</p><div id="chain-viewer" class="chain"></div>
<script type="text/plain" id="edm-chain">${formatXyz(input.chain).replace(/</g, " ")}</script></section>`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(input.title)}</title>
<style>${PAGE_STYLE}</style></head>
<body>
<header><h1>${escapeHtml(input.title)}</h1>${(input.details ?? []).map((d) => `<p>${escapeHtml(d)}</p>`).join('')}</header>
${pocketSection(input.pocket)}
<section><h2>Summary</h2>${summaryTable(input.report, input.anchors ?? true)}</section>
<section><h2>Distributions</h2><div class="plots">${plots.map((p) => `<figure>${p.svg}</figure>`).join('\n')}</div>
${input.trainStats ? '' : '<p class="note">No training data was given, so only this set is drawn.</p>'}</section>
${chain}
<section><h2>Molecules</h2><p class="note">${shown.length} of ${input.report.molecules} molecules. 3D: bonds inferred from distances as the metrics see them; unstable atoms as larger magenta spheres. Drag to rotate, scroll to zoom.</p>
<div class="grid">${cards}</div></section>
<script type="application/json" id="edm-molecules">${scriptJson(data)}</script>
<script>${threeDmolSource()}</script>
<script>${PAGE_SCRIPT}</script>
${input.pocket ? `<script>${POCKET_SCRIPT}</script>` : ''}
</body></html>
`;
}
