/**
 * edm in the browser: generate molecules from the shipped checkpoint on the visitor's machine
 * (a Web Worker, worker.ts), decode and score them with the CLI's own code (EDM's protocol,
 * RDKit.js), show the CLI's table and its HTML report (2D and 3D cards, the denoising
 * trajectory), and offer the SDF and the metrics JSON; or score a dropped SDF/XYZ file.
 *
 * Test contract: `?n=8&seed=1&steps=50&autorun=1` starts a run on load (`&elements=1`: with the
 * element model; `&condition=gap%3D4.5`: a property-conditioned checkpoint's values); when it ends,
 * `document.body.dataset.state` is "done" (or "error", the message in #error) and
 * `window.edmResult` holds `{ sdf, metrics }`.
 */
import threeDmol from '3dmol/build/3Dmol-min.js';
import { gunzipSync } from 'fflate';
import { Assembler, type BondProtocol, chemistFields, protocolOf, QM9_PROTOCOL, type CorrectorOptions, type DecodedMolecule, EVALUATION_ELEMENTS, type EvaluationReport, Evaluator, formatReport, formatSdf, htmlReport, loadRDKit, makeModel, type Molecule, parseCondition, parseSdf, parseXyz, type PlanOptions, planSampling, type PoolWorker, runPool, type WorkerReply, referenceFromBytes, reportJson, samplerWords, setThreeDmolSource, type TrainingReference, validateConfig, withBondsAndStability } from '../src/browser.js';
import { fetchBytes, sha256Hex } from './fetch.js';
import type { ModelRequest } from './worker.js';

/** A checkpoint to generate with: the shipped one (by URL) or a folder the visitor chose. */
interface CheckpointSource {
  label: string;
  url?: string;
  /** a chosen folder's config.json, weights file, (if present) training SMILES and element model */
  files?: { config: Uint8Array; weights: Uint8Array; reference?: Uint8Array; elements?: { config: Uint8Array; weights: Uint8Array } };
}

/** A checkpoint's config.json and weights file, and its element model's (elements/) when it ships one. */
type CheckpointFiles = { config: Uint8Array; weights: Uint8Array; elements?: { config: Uint8Array; weights: Uint8Array } };

const loaded = new WeakMap<CheckpointSource, Promise<CheckpointFiles>>();

/**
 * A checkpoint's files, fetched (the shipped one) or as chosen, the weights' SHA-256 checked:
 * once per checkpoint, however many workers read them.
 * @throws Error naming the file for a failed fetch, invalid JSON, a missing manifest or a checksum mismatch
 */
function checkpointFiles(s: CheckpointSource): Promise<CheckpointFiles> {
  let p = loaded.get(s);
  if (!p) {
    p = readCheckpointFiles(s);
    loaded.set(s, p);
    p.catch(() => loaded.delete(s));
  }
  return p;
}

async function readCheckpointFiles(s: CheckpointSource): Promise<CheckpointFiles> {
  const root = s.url ?? `${s.label}/`;
  const main = await checkedFiles(root, s.files);
  if (s.files) return { ...main, ...(s.files.elements ? { elements: await checkedFiles(`${root}elements/`, s.files.elements) } : {}) };
  // the shipped checkpoint's element model, when the build copied one
  const elements = await checkedFiles(`${root}elements/`).catch(() => undefined);
  return { ...main, ...(elements ? { elements } : {}) };
}

/**
 * One checkpoint folder's config.json and the weights file its manifest names, fetched (or as
 * chosen), the SHA-256 checked.
 * @throws Error naming the file for a failed fetch, invalid JSON, a missing manifest or a checksum mismatch
 */
async function checkedFiles(root: string, chosen?: { config: Uint8Array; weights: Uint8Array }): Promise<{ config: Uint8Array; weights: Uint8Array }> {
  const config = chosen?.config ?? (await fetchBytes(`${root}config.json`));
  let file: { file?: string; sha256?: string } | undefined;
  try {
    file = (JSON.parse(new TextDecoder().decode(config)) as { weights?: { file?: string; sha256?: string } }).weights;
  } catch (e) {
    throw new Error(`${root}config.json: not valid JSON (${(e as Error).message})`);
  }
  if (!file?.file) throw new Error(`${root}config.json: no weights manifest`);
  const weights = chosen?.weights ?? (await fetchBytes(`${root}${file.file}`));
  if ((await sha256Hex(weights)) !== file.sha256) throw new Error(`${root}${file.file}: checksum mismatch (file corrupt or truncated)`);
  return { config, weights };
}

/** The shipped checkpoint, copied beside the page by the build. */
const SHIPPED: CheckpointSource = { label: 'the shipped checkpoint', url: new URL('checkpoint/', document.baseURI).href };
let source = SHIPPED;

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

function setState(state: 'idle' | 'running' | 'done' | 'error', message = ''): void {
  document.body.dataset.state = state;
  $('error').textContent = state === 'error' ? message : '';
  for (const b of document.querySelectorAll<HTMLButtonElement>('button, input')) b.disabled = state === 'running';
}

let reference: { of: CheckpointSource; ref: Promise<TrainingReference | undefined> } | undefined;

/** The checkpoint's stored training SMILES (novelty), read once per checkpoint; undefined when absent. */
function trainingReference(): Promise<TrainingReference | undefined> {
  if (reference?.of === source) return reference.ref;
  const s = source;
  const bytes = s.files ? (s.files.reference ? Promise.resolve(s.files.reference) : Promise.reject(new Error(`${s.label} has no train-reference.json.gz`))) : fetchBytes(`${s.url}train-reference.json.gz`);
  const ref = bytes
    .then((b) => referenceFromBytes(b, 'train-reference.json.gz', s.label))
    .catch((e: Error) => ({ missing: e.message }))
    .then((r) => {
      // novelty needs the training SMILES: say why it is n/a
      $('novelty').textContent = 'missing' in r ? `novelty n/a: ${r.missing}` : '';
      return 'missing' in r ? undefined : r;
    });
  reference = { of: s, ref };
  return ref;
}

/** What the workers made: the molecules in run order, the first one's trajectory, timing. */
interface Generated {
  molecules: Molecule[];
  chain?: Molecule[];
  seconds: number;
  backend: string;
  workers: number;
  threads: number;
  /** the run's corrector (the library's default), none when undefined */
  corrector?: CorrectorOptions;
  /** the checkpoint's dataset (`geom` chooses EDM's GEOM analysis) */
  dataset: string;
}

/** What the page generates: the model to load, and the run to make with it. */
interface GenerateRequest extends ModelRequest {
  /** a property-conditioned checkpoint's asked values (`parseCondition`: a value, or `draw`) */
  condition?: Record<string, number | 'draw'>;
  n: number;
  seed: number;
  /** denoising steps (1..T) */
  steps: number;
  /** keep the denoising trajectory of the first molecule */
  chain: boolean;
}

/** The plan's options of a request, as `edm sample` plans them. */
function planOptions(req: GenerateRequest): PlanOptions {
  return { n: req.n, seed: req.seed, steps: req.steps, chain: req.chain ? 1 : 0, ...(req.elementFrom !== undefined ? { elements: { from: req.elementFrom } } : {}), ...(req.condition ? { condition: req.condition } : {}) };
}

/**
 * Molecules as `edm sample` makes them: the run planned here as in the CLI, its batches dealt by
 * the CLI's own pool (src/generate/dispatch.ts) to one Web Worker per core, each of which loaded
 * the model once; the results put back in run order.
 * @throws Error with a worker's one-line message (a bad checkpoint, an impossible option)
 */
async function runWorkers(req: GenerateRequest): Promise<Generated> {
  // checkpointFiles parsed this JSON already
  const config = JSON.parse(new TextDecoder().decode(req.files.config)) as unknown;
  const base = makeModel(validateConfig(config, `${req.checkpoint}/config.json`), {});
  // the plan checks the element model's time against its config; its weights stay in the workers
  const elements = req.files.elements && req.elementFrom !== undefined ? makeModel(validateConfig(JSON.parse(new TextDecoder().decode(req.files.elements.config)), `${req.checkpoint}elements/config.json`), {}) : undefined;
  const plan = planSampling(elements ? { ...base, elements } : base, planOptions(req));
  const single = new URLSearchParams(location.search).get('workers') === '1';
  const count = single ? 1 : Math.max(1, Math.min(navigator.hardwareConcurrency || 1, plan.batches.length));
  const total = plan.batches.reduce((k, b) => k + b.ids.length, 0) * (plan.steps ?? req.steps);
  const bar = $<HTMLProgressElement>('progress');
  bar.max = total;
  bar.value = 0;
  const t0 = performance.now();
  const model: ModelRequest = { checkpoint: req.checkpoint, files: req.files, elementFrom: req.elementFrom };
  const workers: PoolWorker[] = Array.from({ length: count }, (_, w) => {
    const worker = new Worker(new URL(`worker.js${single ? '' : '?threads=0'}`, document.baseURI), { type: 'module', name: `edm-generate-${w}` });
    worker.postMessage(model);
    return {
      post: (msg) => worker.postMessage(msg),
      onReply: (handler) => (worker.onmessage = (e: MessageEvent<WorkerReply>) => handler(e.data)),
      onCrash: (handler) => (worker.onerror = (e) => handler(new Error(e.message || 'the generator stopped'))),
      terminate: () => worker.terminate(),
    };
  });
  const onProgress = (_molecules: number, _steps: number, moleculeSteps: number): void => {
    bar.value = moleculeSteps;
    const seconds = (performance.now() - t0) / 1000;
    $('rate').textContent = `${moleculeSteps} of ${total} molecule-steps: ${(moleculeSteps / Math.max(seconds, 1e-3)).toFixed(0)} molecule-steps/s on ${count} worker${count === 1 ? '' : 's'}`;
  };
  const { result, engine } = await runPool(plan, workers, new Assembler(plan), { onProgress });
  return { molecules: result.molecules, chain: result.chains[0], seconds: (performance.now() - t0) / 1000, backend: engine.backend ?? 'wasm', workers: count, threads: engine.threads ?? 1, corrector: plan.corrector, dataset: base.config.dataset.name };
}

/** Score decoded molecules with EDM's protocol, adding the SDF's chemist fields as `edm sample` does. */
async function score(decoded: DecodedMolecule[], ref: TrainingReference | undefined, protocol: BondProtocol = QM9_PROTOCOL): Promise<EvaluationReport> {
  const rdkit = await loadRDKit();
  const outcomes: Parameters<typeof chemistFields>[2][] = [];
  const evaluator = await Evaluator.create({ trainSmiles: ref?.smiles, trainStats: ref?.stats, onOutcome: (o) => outcomes.push(o), protocol });
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
  const frame = $<HTMLIFrameElement>('report');
  // the report takes the page's scroll, not a scroller of its own: the frame grows to its content
  frame.onload = () => {
    const doc = frame.contentDocument?.documentElement;
    if (doc) frame.style.height = `${doc.scrollHeight + 20}px`;
  };
  frame.srcdoc = await htmlReport({ title, details, report: r, molecules: decoded, trainStats: ref?.stats, maxMolecules: 100, chain, anchors });
  frame.hidden = false;
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
    const s = source;
    const files = await checkpointFiles(s);
    const elementFrom = $<HTMLInputElement>('element-model').checked ? elementTime(files) : undefined;
    const asked = $<HTMLInputElement>('condition').value.trim();
    const condition = asked ? parseCondition(asked) : undefined;
    const out = await runWorkers({ checkpoint: s.url ?? s.label, files, n, seed, steps, chain: true, elementFrom, condition });
    // the checkpoint's own analysis: EDM's GEOM-Drugs one for a GEOM model, else QM9's
    const protocol = protocolOf(out.dataset);
    const decoded = withBondsAndStability(out.molecules, protocol);
    const r = await score(decoded, await ref, protocol);
    const where = `${out.seconds.toFixed(1)} s in this browser on ${out.backend}, ${out.workers} Web Worker${out.workers === 1 ? '' : 's'}`;
    const details = [`${n} molecules sampled with seed ${seed}, ${steps} denoising steps, ${samplerWords(out)}${elementFrom !== undefined ? `, atoms typed by the element model from t = ${elementFrom}` : ''}, ${where}`];
    await show(`edm in the browser: ${n} samples from ${s.label}`, details, decoded, r, await ref, { checkpoint: s.url ? 'checkpoints/qm9-default' : s.label, seed, steps, temperature: 1, corrector: out.corrector ?? null, samplingSeconds: out.seconds, backend: `browser ${out.backend}` }, out.chain);
    $('rate').textContent = `${n} molecules x ${steps} steps in ${out.seconds.toFixed(1)} s: ${((n * steps) / out.seconds).toFixed(0)} molecule-steps/s (${out.backend}, ${out.workers} Web Worker${out.workers === 1 ? '' : 's'})`;
    setState('done');
  } catch (e) {
    setState('error', (e as Error).message);
  }
}

/**
 * Where in the chain the element model types atoms: from the largest time it was trained for
 * (its whole range; the README's table measures the shipped one from 0.03, its tMax).
 * @throws Error when the checkpoint ships no element model
 */
function elementTime(files: CheckpointFiles): number {
  if (!files.elements) throw new Error(`${source.label} ships no element model (an elements/ folder): untick "element model"`);
  const c = JSON.parse(new TextDecoder().decode(files.elements.config)) as { elementModel?: { tMax?: number } };
  return c.elementModel?.tMax ?? 0;
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

/**
 * A checkpoint folder the visitor chose (config.json, the weights file it names, and
 * train-reference.json.gz if present), to generate with instead of the shipped one.
 * @throws Error naming the folder and the missing file
 */
async function chooseCheckpoint(files: File[]): Promise<void> {
  const folder = (files[0]?.webkitRelativePath || files[0]?.name || 'the chosen files').split('/')[0];
  const byName = new Map(files.map((f) => [f.name, f]));
  const config = byName.get('config.json');
  if (!config) throw new Error(`${folder}: not a checkpoint (no config.json)`);
  const configBytes = new Uint8Array(await config.arrayBuffer());
  let manifest: { weights?: { file?: string } };
  try {
    manifest = JSON.parse(new TextDecoder().decode(configBytes));
  } catch (e) {
    throw new Error(`${folder}/config.json: not valid JSON (${(e as Error).message})`);
  }
  const weights = manifest.weights?.file ? byName.get(manifest.weights.file) : undefined;
  if (!weights) throw new Error(`${folder}: ${manifest.weights?.file ?? 'the weights file'} (named in config.json) is missing`);
  const ref = byName.get('train-reference.json.gz');
  const elements = await chosenElements(files);
  source = {
    label: folder,
    files: { config: configBytes, weights: new Uint8Array(await weights.arrayBuffer()), ...(ref ? { reference: new Uint8Array(await ref.arrayBuffer()) } : {}), ...(elements ? { elements } : {}) },
  };
  $('checkpoint-label').textContent = `checkpoint: ${folder} (chosen here)`;
}

/** A chosen folder's element model (its elements/ sub-folder: config.json and the weights it names), if any. */
async function chosenElements(files: File[]): Promise<{ config: Uint8Array; weights: Uint8Array } | undefined> {
  const inside = new Map(files.filter((f) => f.webkitRelativePath.split('/')[1] === 'elements' && f.webkitRelativePath.split('/').length === 3).map((f) => [f.name, f]));
  const config = inside.get('config.json');
  if (!config) return undefined;
  const bytes = new Uint8Array(await config.arrayBuffer());
  const name = (JSON.parse(new TextDecoder().decode(bytes)) as { weights?: { file?: string } }).weights?.file;
  const weights = name ? inside.get(name) : undefined;
  if (!weights) throw new Error(`${files[0].webkitRelativePath.split('/')[0]}/elements: ${name ?? 'the weights file'} (named in its config.json) is missing`);
  return { config: bytes, weights: new Uint8Array(await weights.arrayBuffer()) };
}

function init(): void {
  setThreeDmolSource(threeDmol);
  const q = new URLSearchParams(location.search);
  for (const k of ['n', 'seed', 'steps']) if (q.has(k)) $<HTMLInputElement>(k).value = q.get(k)!;
  if (q.has('elements')) $<HTMLInputElement>('element-model').checked = q.get('elements') === '1';
  if (q.has('condition')) $<HTMLInputElement>('condition').value = q.get('condition')!;
  $('generate').addEventListener('click', () => void generate());
  $<HTMLInputElement>('checkpoint').addEventListener('change', (e) => {
    const files = [...((e.target as HTMLInputElement).files ?? [])];
    chooseCheckpoint(files).then(
      () => setState('idle'),
      (err: Error) => setState('error', err.message),
    );
  });
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
  const cores = navigator.hardwareConcurrency || 1;
  $('isolation').textContent = `The network runs in ${cores} Web Worker${cores === 1 ? '' : 's'} (one per core), each on one WebAssembly thread. ${crossOriginIsolated ? 'This page is cross-origin isolated, so ?workers=1 (one worker on WebAssembly threads) is available too.' : 'Not cross-origin isolated (no COOP/COEP headers): ?workers=1 runs on one thread; edm web sends the headers.'}`;
  setState('idle');
  if (q.get('autorun') === '1') void generate();
}

init();
