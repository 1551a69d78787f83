/**
 * edm in the browser: generate molecules from the shipped checkpoint on the visitor's machine
 * (a Web Worker, worker.ts), decode and score them with the CLI's own code (EDM's protocol,
 * RDKit.js), show the CLI's table and its HTML report (2D and 3D cards, the denoising
 * trajectory), and offer the SDF and the metrics JSON; or score a dropped SDF/XYZ file.
 *
 * Test contract: `?n=8&seed=1&steps=50&autorun=1` starts a run on load; when it ends,
 * `document.body.dataset.state` is "done" (or "error", the message in #error) and
 * `window.edmResult` holds `{ sdf, metrics }`.
 */
import threeDmol from '3dmol/build/3Dmol-min.js';
import { gunzipSync } from 'fflate';
import type { Molecule } from '../src/data/molecule.js';
import { formatSdf, parseSdf } from '../src/data/sdf.js';
import { parseXyz } from '../src/data/xyz.js';
import { type DecodedMolecule, withBondsAndStability } from '../src/decode/write.js';
import { EVALUATION_ELEMENTS } from '../src/decode/bond-tables.js';
import { Evaluator, type EvaluationReport } from '../src/metrics/evaluate.js';
import { chemistFields } from '../src/metrics/fields.js';
import { loadRDKit } from '../src/metrics/rdkit.js';
import { type TrainingReference, referenceFromBytes } from '../src/metrics/reference.js';
import { setThreeDmolSource } from '../src/report/html/client.js';
import { htmlReport } from '../src/report/html/page.js';
import { formatReport, reportJson } from '../src/report/table.js';
import { fetchBytes } from './fetch.js';
import type { GenerateRequest, WorkerMessage } from './worker.js';

/** The shipped checkpoint, copied beside the page by the build. */
const CHECKPOINT = new URL('checkpoint/', document.baseURI).href;

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

function setState(state: 'idle' | 'running' | 'done' | 'error', message = ''): void {
  document.body.dataset.state = state;
  $('error').textContent = state === 'error' ? message : '';
  for (const b of document.querySelectorAll<HTMLButtonElement>('button, input')) b.disabled = state === 'running';
}

let reference: Promise<TrainingReference | undefined> | undefined;

/** The checkpoint's stored training SMILES (novelty), fetched once; undefined when absent. */
function trainingReference(): Promise<TrainingReference | undefined> {
  reference ??= fetchBytes(`${CHECKPOINT}train-reference.json.gz`)
    .then((bytes) => referenceFromBytes(bytes, 'train-reference.json.gz', 'the shipped checkpoint'))
    .catch((e: Error) => ({ missing: e.message }))
    .then((r) => {
      // novelty needs the training SMILES: say why it is n/a
      if ('missing' in r) $('novelty').textContent = `novelty n/a: ${r.missing}`;
      return 'missing' in r ? undefined : r;
    });
  return reference;
}

/** Molecules from the worker, as `edm sample` makes them. */
function runWorker(req: GenerateRequest): Promise<Extract<WorkerMessage, { kind: 'done' }>> {
  const worker = new Worker(new URL('worker.js', document.baseURI), { name: 'edm-generate' });
  return new Promise((resolve, reject) => {
    worker.onmessage = (e: MessageEvent<WorkerMessage>) => {
      const m = e.data;
      if (m.kind === 'progress') {
        const bar = $<HTMLProgressElement>('progress');
        bar.max = m.n * m.steps;
        bar.value = m.done * m.steps + m.step;
        $('rate').textContent = `${m.done}/${m.n} molecules, step ${m.step}/${m.steps}: ${(m.moleculeSteps / Math.max(m.seconds, 1e-3)).toFixed(0)} molecule-steps/s`;
        return;
      }
      worker.terminate();
      if (m.kind === 'done') resolve(m);
      else reject(new Error(m.message));
    };
    worker.onerror = (e) => {
      worker.terminate();
      reject(new Error(e.message || 'the generator stopped'));
    };
    worker.postMessage(req);
  });
}

/** Score decoded molecules with EDM's protocol, adding the SDF's chemist fields as `edm sample` does. */
async function score(decoded: DecodedMolecule[], ref: TrainingReference | undefined): Promise<EvaluationReport> {
  const rdkit = await loadRDKit();
  const outcomes: Parameters<typeof chemistFields>[2][] = [];
  const evaluator = await Evaluator.create({ trainSmiles: ref?.smiles, trainStats: ref?.stats, onOutcome: (o) => outcomes.push(o) });
  evaluator.add(decoded);
  decoded.forEach((m, k) => (m.properties = { ...m.properties, ...chemistFields(rdkit, m, outcomes[k]) }));
  return evaluator.finish();
}

/** Show a scored set: the CLI's table, downloads, and the CLI's HTML report in a frame. */
async function show(title: string, details: string[], decoded: DecodedMolecule[], r: EvaluationReport, ref: TrainingReference | undefined, extra: Record<string, unknown>, chain?: Molecule[]): Promise<void> {
  const anchors = !ref || /qm9/i.test(ref.source);
  $('summary').textContent = formatReport(r, `${title}${ref ? ` (novelty vs ${ref.source})` : ''}`, anchors);
  const sdf = formatSdf(decoded);
  const metrics = reportJson(r, { ...extra, train: ref?.source ?? null });
  link('download-sdf', sdf, 'chemical/x-mdl-sdfile', 'samples.sdf');
  link('download-json', metrics, 'application/json', 'samples.metrics.json');
  $<HTMLIFrameElement>('report').srcdoc = await htmlReport({ title, details, report: r, molecules: decoded, trainStats: ref?.stats, maxMolecules: 100, chain, anchors });
  window.edmResult = { sdf, metrics };
}

function link(id: string, text: string, type: string, name: string): void {
  const a = $<HTMLAnchorElement>(id);
  if (a.href) URL.revokeObjectURL(a.href);
  a.href = URL.createObjectURL(new Blob([text], { type }));
  a.download = name;
  a.hidden = false;
}

async function generate(): Promise<void> {
  const n = Number($<HTMLInputElement>('n').value);
  const seed = Number($<HTMLInputElement>('seed').value);
  const steps = Number($<HTMLInputElement>('steps').value);
  setState('running');
  try {
    const ref = trainingReference();
    const out = await runWorker({ checkpoint: CHECKPOINT, n, seed, steps, chain: true });
    const decoded = withBondsAndStability(out.molecules);
    const r = await score(decoded, await ref);
    const where = `${out.seconds.toFixed(1)} s in this browser on ${out.backend} (${out.threads} thread${out.threads === 1 ? '' : 's'})`;
    const details = [`${n} molecules sampled with seed ${seed}, ${steps} denoising steps, ${where}`];
    await show(`edm in the browser: ${n} samples from the shipped checkpoint`, details, decoded, r, await ref, { checkpoint: 'checkpoints/qm9-default', seed, steps, temperature: 1, samplingSeconds: out.seconds, backend: `browser ${out.backend}` }, out.chain);
    $('rate').textContent = `${n} molecules x ${steps} steps in ${out.seconds.toFixed(1)} s: ${((n * steps) / out.seconds).toFixed(0)} molecule-steps/s (${out.backend}, ${out.threads} thread${out.threads === 1 ? '' : 's'})`;
    setState('done');
  } catch (e) {
    setState('error', (e as Error).message);
  }
}

/**
 * The molecules of a dropped file (SDF, MOL or XYZ, optionally gzipped), with the CLI's errors.
 * @throws InputError naming the file and line for a malformed file or an unknown element
 */
function readDropped(name: string, bytes: Uint8Array): Molecule[] {
  const gz = /\.gz$/i.test(name);
  const text = new TextDecoder().decode(gz ? gunzipSync(bytes) : bytes);
  const base = name.replace(/\.gz$/i, '').toLowerCase();
  if (base.endsWith('.sdf') || base.endsWith('.sd') || base.endsWith('.mol')) return parseSdf(text, name, EVALUATION_ELEMENTS);
  if (base.endsWith('.xyz')) return parseXyz(text, { source: name, knownElements: EVALUATION_ELEMENTS });
  throw new Error(`${name}: unknown file type (use .sdf, .mol or .xyz, optionally .gz)`);
}

async function scoreFile(file: File): Promise<void> {
  setState('running');
  $('summary').textContent = '';
  try {
    const mols = readDropped(file.name, new Uint8Array(await file.arrayBuffer()));
    if (mols.length === 0) throw new Error(`${file.name}: no molecules`);
    const ref = await trainingReference();
    // EDM's protocol: bonds inferred from distances, whatever the file's bonds
    const decoded = withBondsAndStability(mols.map((m) => ({ ...m, bonds: undefined })));
    const r = await score(decoded, ref);
    await show(file.name, [`${mols.length} molecules from ${file.name}, scored with EDM's protocol in this browser`], decoded, r, ref, { file: file.name });
    setState('done');
  } catch (e) {
    setState('error', (e as Error).message);
  }
}

function init(): void {
  setThreeDmolSource(threeDmol);
  const q = new URLSearchParams(location.search);
  for (const k of ['n', 'seed', 'steps']) if (q.has(k)) $<HTMLInputElement>(k).value = q.get(k)!;
  $('generate').addEventListener('click', () => void generate());
  $<HTMLInputElement>('file').addEventListener('change', (e) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (f) void scoreFile(f);
  });
  const drop = $('drop');
  drop.addEventListener('dragover', (e) => e.preventDefault());
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    const f = e.dataTransfer?.files[0];
    if (f) void scoreFile(f);
  });
  $('isolation').textContent = crossOriginIsolated
    ? 'Cross-origin isolated: the network runs on several WebAssembly threads.'
    : 'Not cross-origin isolated (no COOP/COEP headers): the network runs on one WebAssembly thread. `edm web` sends the headers.';
  setState('idle');
  if (q.get('autorun') === '1') void generate();
}

init();
