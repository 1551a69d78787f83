/**
 * What runs in the reader's browser: 3Dmol.js (inlined from the npm package, so the page works
 * offline) and a small script that draws in 3D the molecules of the cards nearest the middle of
 * the window, again after each scroll. Browsers keep only 16 WebGL contexts alive, so at most
 * MAX_VIEWERS viewers exist at once and the others are released.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

let cached: string | undefined;

/** 3Dmol.js, minified (BSD-3-Clause; its licence comment is kept in the file). */
export function threeDmolSource(): string {
  cached ??= readFileSync(createRequire(import.meta.url).resolve('3dmol/build/3Dmol-min.js'), 'utf8');
  return cached;
}

/** Give 3Dmol.js's source where there is no file system (the browser page bundles it as text). */
export function setThreeDmolSource(source: string): void {
  cached = source;
}

/** Live 3D viewers at most (with the trajectory's, below the browser's limit of 16 WebGL contexts). */
export const MAX_VIEWERS = 12;

/** What a molecule card's 3D box holds while its viewer is not drawn (far from the window's middle). */
export const VIEWER_PLACEHOLDER = '<div class="released">3D view when nearer the middle of the window</div>';

/**
 * The page script. Reads `#edm-molecules` (JSON: molblock and unstable atoms per card) and, if
 * present, `#edm-chain` (multi-frame XYZ of a denoising trajectory). Sets `data-ready` on each
 * drawn viewer and `document.body.dataset.viewers` to the number drawn so far (tests wait on it).
 */
export const PAGE_SCRIPT = `
(function () {
  var data = JSON.parse(document.getElementById('edm-molecules').textContent);
  var live = [];
  var drawn = 0;
  var STICK = { stick: { radius: 0.14 }, sphere: { scale: 0.22 } };
  var UNSTABLE = { stick: { radius: 0.14 }, sphere: { scale: 0.36, color: '#e600e6' } };
  function release(entry) {
    var canvas = entry.el.querySelector('canvas');
    var gl = canvas && (canvas.getContext('webgl2') || canvas.getContext('webgl'));
    var lose = gl && gl.getExtension('WEBGL_lose_context');
    if (lose) lose.loseContext();
    entry.el.innerHTML = '${VIEWER_PLACEHOLDER}';
    delete entry.el.dataset.ready;
  }
  function show(card) {
    var i = Number(card.dataset.index);
    for (var k = 0; k < live.length; k++) if (live[k].i === i) return;
    var el = card.querySelector('.viewer');
    el.innerHTML = '';
    var v = $3Dmol.createViewer(el, { backgroundColor: 'white' });
    v.addModel(data[i].molblock, 'sdf');
    v.setStyle({}, STICK);
    if (data[i].unstable.length) v.setStyle({ index: data[i].unstable }, UNSTABLE);
    v.zoomTo();
    v.render();
    el.dataset.ready = '1';
    live.push({ i: i, el: el, card: card });
    drawn++;
    document.body.dataset.viewers = String(drawn);
  }
  var cards = Array.prototype.slice.call(document.querySelectorAll('.card'));
  // the cards nearest the middle of the window get viewers; the others are released
  function update() {
    var vh = window.innerHeight;
    var near = [];
    cards.forEach(function (c) {
      var r = c.getBoundingClientRect();
      if (r.bottom > -200 && r.top < vh + 200) near.push({ c: c, d: Math.abs(r.top + r.height / 2 - vh / 2) });
    });
    near.sort(function (a, b) { return a.d - b.d; });
    var want = near.slice(0, ${MAX_VIEWERS}).map(function (n) { return n.c; });
    live = live.filter(function (e) {
      if (want.indexOf(e.card) >= 0) return true;
      release(e);
      return false;
    });
    want.forEach(show);
  }
  var pending = 0;
  function later() { clearTimeout(pending); pending = setTimeout(update, 80); }
  window.addEventListener('scroll', later, { passive: true });
  window.addEventListener('resize', later);
  update();
  var chain = document.getElementById('edm-chain');
  if (chain) {
    var cv = $3Dmol.createViewer(document.getElementById('chain-viewer'), { backgroundColor: 'white' });
    cv.addModelsAsFrames(chain.textContent, 'xyz');
    cv.setStyle({}, STICK);
    cv.zoomTo();
    cv.animate({ loop: 'forward', reps: 0, interval: 60 });
    cv.render();
    document.getElementById('chain-viewer').dataset.ready = '1';
  }
})();
`;

/**
 * Draws the pocket section: pocket atoms as lines, the reference ligand and the generated ligands
 * as sticks, zoomed on the ligands. Marks `#pocket-viewer` ready and counts it in
 * `document.body.dataset.viewers`.
 */
export const POCKET_SCRIPT = `
(function () {
  var el = document.getElementById('pocket-viewer');
  if (!el) return;
  var v = $3Dmol.createViewer(el, { backgroundColor: 'white' });
  var pocket = v.addModel(document.getElementById('edm-pocket-pdb').textContent, 'pdb');
  var ligands = [];
  var records = document.getElementById('edm-pocket-ligands').textContent.split('$$$$');
  for (var k = 0; k < records.length; k++) if (records[k].trim()) ligands.push(v.addModel(records[k].replace(/^\\r?\\n/, '') + '$$$$', 'sdf'));
  var ref = document.getElementById('edm-pocket-reference');
  var refModel = ref ? v.addModel(ref.textContent, 'sdf') : null;
  v.setStyle({ model: pocket }, { line: { colorscheme: 'grayCarbon' } });
  if (refModel) v.setStyle({ model: refModel }, { stick: { colorscheme: 'greenCarbon', radius: 0.22 } });
  for (var j = 0; j < ligands.length; j++) v.setStyle({ model: ligands[j] }, { stick: { colorscheme: 'cyanCarbon', radius: 0.12 } });
  v.zoomTo({ model: ligands.length ? ligands : [pocket] });
  v.zoom(0.6);
  v.render();
  el.dataset.ready = '1';
  document.body.dataset.viewers = String(Number(document.body.dataset.viewers || 0) + 1);
})();
`;
