/**
 * `npm run build:web`: the browser page (web/) bundled by esbuild into a static folder that any
 * static host serves, `web/dist/` by default: index.html, app.js (the page) and worker.js (the
 * generator), the WebAssembly of TensorFlow.js and RDKit.js, and the shipped checkpoint's
 * config.json, weights and training SMILES (for novelty).
 *
 *   node --import tsx scripts/build-web.ts [--out web/dist] [--checkpoint checkpoints/qm9-default]
 *
 * Node's built-in modules that the shared library code imports (file reading and writing, which
 * the page never calls) are replaced by empty modules; a call would fail with a TypeError.
 * Exits 2 with a one-line error when the checkpoint or a WebAssembly file is missing.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type Plugin, build } from 'esbuild';
import { PACKAGE_ROOT } from '../src/internal.js';

const fail = (msg: string): never => {
  process.stderr.write(`build-web: ${msg}\n`);
  process.exit(2);
};

const { values: a } = parseArgs({
  options: {
    out: { type: 'string', default: join(PACKAGE_ROOT, 'web', 'dist') },
    checkpoint: { type: 'string', default: join(PACKAGE_ROOT, 'checkpoints', 'qm9-default') },
  },
});
const out = resolve(a.out!);
const ckDir = resolve(a.checkpoint!);
if (!existsSync(join(ckDir, 'config.json'))) fail(`${ckDir}: not a checkpoint (no config.json)`);
const require = createRequire(import.meta.url);

/** Node built-ins (and the bare names emscripten's Node branch requires) as empty modules. */
const nodeShim: Plugin = {
  name: 'node-builtins-empty',
  setup(b) {
    b.onResolve({ filter: /^(node:.*|fs|path|crypto|url|module|os|worker_threads|zlib|child_process)$/ }, (args) => ({ path: args.path, namespace: 'node-shim' }));
    b.onLoad({ filter: /.*/, namespace: 'node-shim' }, () => ({ contents: 'module.exports = {};', loader: 'js' }));
  },
};

/** 3Dmol.js as text: the HTML report inlines it, as the CLI's does. */
const threeDmolText: Plugin = {
  name: '3dmol-text',
  setup(b) {
    b.onResolve({ filter: /3Dmol-min\.js$/ }, () => ({ path: require.resolve('3dmol/build/3Dmol-min.js'), namespace: 'text' }));
    b.onLoad({ filter: /.*/, namespace: 'text' }, (args) => ({ contents: readFileSync(args.path, 'utf8'), loader: 'text' }));
  },
};

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'checkpoint'), { recursive: true });
const t0 = performance.now();
await build({
  entryPoints: { app: join(PACKAGE_ROOT, 'web', 'main.ts'), worker: join(PACKAGE_ROOT, 'web', 'worker.ts') },
  outdir: out,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'warning',
  plugins: [nodeShim, threeDmolText],
  define: { 'process.env.NODE_ENV': '"production"' },
});

copyFileSync(join(PACKAGE_ROOT, 'web', 'index.html'), join(out, 'index.html'));
const wasmDir = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
for (const f of readdirSync(wasmDir).filter((x) => x.endsWith('.wasm'))) copyFileSync(join(wasmDir, f), join(out, f));
const rdkitWasm = join(dirname(require.resolve('@rdkit/rdkit')), 'RDKit_minimal.wasm');
if (!existsSync(rdkitWasm)) fail(`${rdkitWasm}: missing (is @rdkit/rdkit installed?)`);
copyFileSync(rdkitWasm, join(out, 'RDKit_minimal.wasm'));
// the checkpoint: config, its weights file, the training SMILES (no training state)
const config = JSON.parse(readFileSync(join(ckDir, 'config.json'), 'utf8')) as { weights: { file: string } };
for (const f of ['config.json', config.weights.file, 'train-reference.json.gz']) {
  if (existsSync(join(ckDir, f))) copyFileSync(join(ckDir, f), join(out, 'checkpoint', f));
  else if (f !== 'train-reference.json.gz') fail(`${join(ckDir, f)}: missing`);
}
// its element model (elements/: config and weights), for the page's "element model" box
const eDir = join(ckDir, 'elements');
if (existsSync(join(eDir, 'config.json'))) {
  const e = JSON.parse(readFileSync(join(eDir, 'config.json'), 'utf8')) as { weights: { file: string } };
  mkdirSync(join(out, 'checkpoint', 'elements'), { recursive: true });
  for (const f of ['config.json', e.weights.file]) {
    if (!existsSync(join(eDir, f))) fail(`${join(eDir, f)}: missing`);
    copyFileSync(join(eDir, f), join(out, 'checkpoint', 'elements', f));
  }
}

const size = (dir: string): number => readdirSync(dir).reduce((n, f) => n + (statSync(join(dir, f)).isDirectory() ? size(join(dir, f)) : statSync(join(dir, f)).size), 0);
process.stdout.write(`web page built in ${out} (${(size(out) / 2 ** 20).toFixed(1)} MiB, ${((performance.now() - t0) / 1000).toFixed(1)} s); serve it with: npx edm web\n`);
