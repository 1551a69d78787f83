/**
 * Pocket-conditioned generation: PDB reading, pocket selection, guidance energy, QED, the
 * `edm pocket` command (reproducible output, bad inputs) and, when installed, Vina.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePdb, readPdb } from '../src/pocket/pdb.js';
import { pocketFromCentre, pocketFromLigand } from '../src/pocket/site.js';
import { guidanceGradient, pocketFit } from '../src/pocket/energy.js';
import { dockingTools, VinaScorer } from '../src/pocket/vina.js';
import { qed } from '../src/metrics/qed.js';
import { loadRDKit } from '../src/metrics/rdkit.js';
import { readMolecules } from '../src/data/read.js';
import { ROOT, SHARED, when } from './helpers.js';

const POCKETS = join(SHARED, 'data', 'pockets');
const HAS_POCKETS = existsSync(POCKETS);
const EDM = join(ROOT, 'bin', 'edm.js');

const atom = (serial: number, name: string, res: string, seq: number, x: number, el: string, alt = ' ', rec = 'ATOM  '): string =>
  `${rec}${String(serial).padStart(5)} ${name.padEnd(4)}${alt}${res.padStart(3)} A${String(seq).padStart(4)}    ${x.toFixed(3).padStart(8)}${(0).toFixed(3).padStart(8)}${(0).toFixed(3).padStart(8)}  1.00  0.00          ${el.padStart(2)}`;

describe('PDB reader', () => {
  it('keeps the first model and altloc, drops waters and ions, falls back to the atom name for the element', () => {
    const text = [
      'HEADER    TEST',
      'MODEL        1',
      atom(1, ' CA ', 'ALA', 1, 1, 'C'),
      atom(2, ' CB ', 'ALA', 1, 2, 'C', 'A'),
      atom(3, ' CB ', 'ALA', 1, 2.5, 'C', 'B'),
      atom(4, ' O  ', 'HOH', 2, 9, 'O', ' ', 'HETATM'),
      atom(5, 'ZN  ', 'ZN', 3, 9, 'ZN', ' ', 'HETATM'),
      atom(6, 'FE  ', 'HEM', 4, 5, '').slice(0, 76),
      'ENDMDL',
      'MODEL        2',
      atom(7, ' CA ', 'GLY', 9, 7, 'C'),
      'ENDMDL',
    ].join('\n');
    const p = parsePdb(text, 't.pdb');
    expect(p.atoms.map((a) => `${a.resName}:${a.name}:${a.element}:${a.x}`)).toEqual(['ALA:CA:C:1', 'ALA:CB:C:2', 'HEM:FE:Fe:5']);
  });

  it('rejects empty, header-only, malformed and unknown-element files naming file and line', () => {
    expect(() => parsePdb('', 'e.pdb')).toThrow(/e\.pdb: no ATOM or HETATM records/);
    expect(() => parsePdb('HEADER    X\nEND\n', 'h.pdb')).toThrow(/h\.pdb: no ATOM or HETATM records/);
    const bad = atom(1, ' CA ', 'ALA', 1, 1, 'C').replace('   1.000', '   1.0x0');
    expect(() => parsePdb(`HEADER\n${bad}`, 'm.pdb')).toThrow(/m\.pdb:2: malformed x coordinate "1\.0x0"/);
    expect(() => parsePdb(atom(1, ' QQ ', 'ALA', 1, 1, 'QQ'), 'u.pdb')).toThrow(/u\.pdb:1: unknown element "QQ"/);
    expect(() => parsePdb('ATOM      1  CA  ALA A   1', 's.pdb')).toThrow(/s\.pdb:1: ATOM record is too short/);
  });
});

describe('pocket site and guidance', () => {
  it('selects whole residues near a point and errors for an empty pocket', () => {
    const p = parsePdb([atom(1, ' N  ', 'ALA', 1, 0, 'N'), atom(2, ' CA ', 'ALA', 1, 20, 'C'), atom(3, ' CA ', 'GLY', 2, 40, 'C')].join('\n'), 'p.pdb');
    const site = pocketFromCentre(p, [0, 0, 0], 5);
    expect(site.atoms.map((a) => a.resName)).toEqual(['ALA', 'ALA']);
    expect(() => pocketFromCentre(p, [100, 0, 0], 5)).toThrow(/no protein atom within 5 Å/);
    const far = { elements: ['C'], positions: Float32Array.from([500, 0, 0]) };
    expect(() => pocketFromLigand(p, far, 10, 'far.sdf')).toThrow(/far\.sdf: reference ligand is 460\.0 Å from the nearest protein atom/);
  });

  it('the guidance gradient matches finite differences of the energy', () => {
    const protein = Float64Array.from([0, 0, 0, 2.5, 1, 0]);
    const centre = [1, 1, 1];
    const R = 1.5;
    const energy = (x: number[]): number => {
      let e = 0;
      for (let i = 0; i < x.length / 3; i++) {
        for (let k = 0; k < protein.length; k += 3) {
          const d = Math.hypot(x[i * 3] - protein[k], x[i * 3 + 1] - protein[k + 1], x[i * 3 + 2] - protein[k + 2]);
          e += Math.max(0, 3 - d) ** 2;
        }
        e += Math.max(0, Math.hypot(x[i * 3] - 1, x[i * 3 + 1] - 1, x[i * 3 + 2] - 1) - R) ** 2;
      }
      return e;
    };
    const x = [1.2, 0.4, -0.3, 3.1, 2.2, 1.9];
    const g = guidanceGradient(x, 2, protein, centre, R);
    for (let k = 0; k < x.length; k++) {
      const h = 1e-5;
      const up = x.slice();
      const down = x.slice();
      up[k] += h;
      down[k] -= h;
      expect(g[k]).toBeCloseTo((energy(up) - energy(down)) / (2 * h), 4);
    }
  });

  it('pocketFit counts heavy-atom clashes below 2 Å and atoms in the region', () => {
    const p = parsePdb(atom(1, ' CA ', 'ALA', 1, 0, 'C'), 'p.pdb');
    const site = pocketFromCentre(p, [0, 0, 0], 5, 3);
    const fit = pocketFit(['C', 'H', 'C'], Float32Array.from([1.5, 0, 0, 0.5, 0, 0, 3.5, 0, 0]), site);
    expect(fit).toEqual({ minDistance: 1.5, clashes: 1, inside: 2 / 3 });
  });
});

describe('QED', () => {
  it("matches RDKit's QED for molecules without structural alerts", async () => {
    const rdkit = await loadRDKit();
    // RDKit 2022.09 rdkit.Chem.QED.qed: caffeine 0.5385, benzene 0.4426
    expect(qed(rdkit, 'Cn1cnc2c1c(=O)n(C)c(=O)n2C')).toBeCloseTo(0.5385, 3);
    expect(qed(rdkit, 'c1ccccc1')).toBeCloseTo(0.4426, 3);
    expect(qed(rdkit, 'not a smiles')).toBeNull();
  });
});

describe('edm pocket', () => {
  let dir: string;
  const edm = (args: string[]): ReturnType<typeof spawnSync> => spawnSync(process.execPath, [EDM, ...args], { cwd: dir, encoding: 'utf8' });
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'edm-pocket-'));
  });

  it('gives a one-line error, exit code 2 and no output for bad inputs', () => {
    writeFileSync(join(dir, 'lig.xyz'), '3\nreference\nC 0 0 0\nO 1.2 0 0\nN -1.3 0 0\n');
    const lig = 'lig.xyz';
    writeFileSync(join(dir, 'empty.pdb'), '');
    writeFileSync(join(dir, 'header.pdb'), 'HEADER    NOTHING\nEND\n');
    writeFileSync(join(dir, 'coords.pdb'), `HEADER\n${atom(1, ' CA ', 'ALA', 1, 1, 'C').replace('   1.000', '     nan')}\n`);
    writeFileSync(join(dir, 'elem.pdb'), `${atom(1, ' XX ', 'ALA', 1, 1, 'Xx')}\n`);
    writeFileSync(join(dir, 'far.pdb'), `${atom(1, ' CA ', 'ALA', 1, 900, 'C')}\n`);
    const cases: [string, RegExp][] = [
      ['empty.pdb', /empty\.pdb: no ATOM or HETATM records/],
      ['header.pdb', /header\.pdb: no ATOM or HETATM records/],
      ['coords.pdb', /coords\.pdb:2: malformed x coordinate/],
      ['elem.pdb', /elem\.pdb:1: unknown element "Xx"/],
      ['far.pdb', /lig\.xyz: reference ligand is .* Å from the nearest protein atom/],
    ];
    for (const [file, message] of cases) {
      const r = edm(['pocket', '--pdb', file, '--ligand', lig, '-n', '2', '--steps', '2', '--out', `${file}.sdf`]);
      expect(r.status, String(r.stderr)).toBe(2);
      expect(String(r.stderr).trim().split('\n')).toHaveLength(1);
      expect(String(r.stderr)).toMatch(message);
      expect(existsSync(join(dir, `${file}.sdf`))).toBe(false);
    }
  });

  it('places ligands in the site, reproducibly for a seed', (ctx) => {
    const comDistance = (m: { elements: string[]; positions: Float32Array }): number => {
      const n = m.elements.length;
      const com = [0, 1, 2].map((d) => m.positions.filter((_, i) => i % 3 === d).reduce((s, v) => s + v, 0) / n);
      return Math.hypot(com[0] - 7.76, com[1] + 33.41, com[2] + 32.85);
    };
    ctx.skip(!HAS_POCKETS, `${POCKETS} absent: needs a development complex`);
    const args = ['pocket', '--pdb', join(POCKETS, '3rfm.pdb'), '--ligand', join(POCKETS, '3rfm_B_CFF.sdf'), '-n', '4', '--steps', '20', '--no-dock', '--seed', '3'];
    const a = edm([...args, '--out', 'a.sdf', '--complex', 'a.pdb', '--html', 'a.html']);
    expect(a.status, String(a.stderr)).toBe(0);
    const b = edm([...args, '--out', 'b.sdf']);
    expect(b.status).toBe(0);
    expect(readFileSync(join(dir, 'a.sdf'), 'utf8')).toBe(readFileSync(join(dir, 'b.sdf'), 'utf8'));
    const ligands = readMolecules(join(dir, 'a.sdf'));
    expect(ligands).toHaveLength(4);
    for (const m of ligands) {
      const n = m.elements.length;
      expect(n).toBeGreaterThanOrEqual(22);
      expect(n).toBeLessThanOrEqual(26);
      // centre of mass starts at the caffeine's heavy-atom centroid (7.76, -33.41, -32.85) and
      // guidance moves it by rigid translations that keep it well inside the 5.5 Å region
      expect(comDistance(m)).toBeLessThan(2);
    }
    // without guidance it stays exactly there
    const c = edm([...args.map((v) => (v === '4' ? '2' : v)), '--guidance', '0', '--out', 'c.sdf']);
    expect(c.status, String(c.stderr)).toBe(0);
    for (const m of readMolecules(join(dir, 'c.sdf'))) expect(comDistance(m)).toBeLessThan(0.02);
    const complex = readFileSync(join(dir, 'a.pdb'), 'utf8');
    expect(complex.split('\n').filter((l) => l.startsWith('HETATM') && l.slice(17, 20) === 'LIG').length).toBe(ligands.reduce((s, m) => s + m.elements.length, 0));
    expect(readPdb(join(dir, 'a.pdb')).atoms.length).toBeGreaterThan(500);
    const page = readFileSync(join(dir, 'a.html'), 'utf8');
    expect(page).toContain('id="pocket-viewer"');
    // SMILES in the form edm sample writes everywhere: canonical, implicit hydrogens, no stereo
    // read from the 3D pose (SDF field and HTML card alike)
    const shown = [...ligands.map((m) => m.properties?.smiles).filter((v) => v !== undefined).map(String), ...[...page.matchAll(/<div class="smiles">([^<]*)<\/div>/g)].map((x) => x[1])].filter((v) => v !== '&nbsp;');
    expect(shown.length).toBeGreaterThan(0);
    for (const smi of shown) expect(smi).not.toMatch(/\[H\]|@/);
    expect(page.match(/edm-pocket-(pdb|ligands|reference)/g)?.length).toBeGreaterThanOrEqual(3);
    // drawn in headless Chromium when it is installed (.ci/run installs it)
    if (existsSync(process.env.CHROMIUM ?? '/usr/bin/chromium')) {
      const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'check-html.ts'), join(dir, 'a.html'), '--cards', '4', '--pocket'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
      expect(r.status, r.stdout + r.stderr).toBe(0);
      expect(JSON.parse(r.stdout.trim().split('\n').pop()!).problems).toEqual([]);
    }
  });

  it('grows ligands from a fixed fragment (RePaint inpainting) that stays where it was given', (ctx) => {
    ctx.skip(!HAS_POCKETS, `${POCKETS} absent: needs a development complex`);
    const cff = readMolecules(join(POCKETS, '3rfm_B_CFF.sdf'))[0];
    const frag = cff.elements.slice(0, 6).map((e, i) => `${e} ${[0, 1, 2].map((d) => cff.positions[i * 3 + d]).join(' ')}`);
    writeFileSync(join(dir, 'frag.xyz'), `6\nfragment\n${frag.join('\n')}\n`);
    const base = ['pocket', '--pdb', join(POCKETS, '3rfm.pdb'), '--ligand', join(POCKETS, '3rfm_B_CFF.sdf'), '--fix-fragment', 'frag.xyz', '-n', '2', '--steps', '10', '--jumps', '2', '--no-dock'];
    const r = edm([...base, '--out', 'grown.sdf']);
    expect(r.status, String(r.stderr)).toBe(0);
    for (const m of readMolecules(join(dir, 'grown.sdf'))) {
      expect(m.elements.slice(0, 6)).toEqual(cff.elements.slice(0, 6));
      for (let k = 0; k < 18; k++) expect(Math.abs(m.positions[k] - cff.positions[k])).toBeLessThan(0.1);
    }
    const bad = edm([...base, '--guidance', '1', '--out', 'bad.sdf']);
    expect(bad.status).toBe(2);
    expect(String(bad.stderr)).toMatch(/--fix-fragment places the ligand by its fragment/);
    expect(existsSync(join(dir, 'bad.sdf'))).toBe(false);
  });

  it('scores the reference ligand with Vina (score only, local optimisation, after MMFF94 in the fixed pocket)', async (ctx) => {
    ctx.skip(!HAS_POCKETS, `${POCKETS} absent: needs a development complex`);
    const tools = dockingTools();
    ctx.skip(tools.missing !== undefined, `${tools.missing}`);
    const site = pocketFromLigand(readPdb(join(POCKETS, '3rfm.pdb')), readMolecules(join(POCKETS, '3rfm_B_CFF.sdf'))[0], 10, 'cff');
    ctx.skip(!tools.python, 'no python3 with Open Babel bindings (python3-openbabel) for the MMFF94 step');
    const vina = new VinaScorer(site, tools.python);
    try {
      const caffeine = readMolecules(join(POCKETS, '3rfm_B_CFF.sdf'))[0];
      const s = await vina.score(caffeine);
      expect(s.error).toBeUndefined();
      // caffeine in the A2A receptor: about -3.8 kcal/mol as deposited, lower after local optimisation
      expect(s.vinaScore!).toBeLessThan(-3);
      expect(s.vinaLocalOpt!).toBeLessThanOrEqual(s.vinaScore! + 1e-6);
      expect(Number.isFinite(s.vinaAfterMmff!)).toBe(true);
      // a crystal pose relaxes a little: the energy falls, the pose stays (Å), no pocket atom moves
      expect(s.mmffEnergyChange!).toBeLessThan(0);
      expect(s.mmffRmsd!).toBeGreaterThan(0);
      expect(s.mmffRmsd!).toBeLessThan(1);
      // a ligand pushed into the protein is pushed back out, the pocket staying fixed
      const shifted = { ...caffeine, positions: caffeine.positions.map((v, k) => v + (k % 3 === 0 ? 1.2 : 0)) };
      const before = pocketFit(shifted.elements, shifted.positions, site);
      const r = await vina.score(shifted);
      const after = pocketFit(shifted.elements, r.relaxedPositions!, site);
      expect(r.mmffEnergyChange!).toBeLessThan(s.mmffEnergyChange!);
      expect(after.minDistance).toBeGreaterThan(before.minDistance);
    } finally {
      vina.close();
    }
  });

  it('protonates the pocket the same way every run (Open Babel clock-seeds its rotors; they are fixed), so MMFF94 columns are reproducible', (ctx) => {
    ctx.skip(!HAS_POCKETS, `${POCKETS} absent: needs a development complex`);
    const python = dockingTools().python;
    ctx.skip(!python, 'no python3 with Open Babel bindings (python3-openbabel) for the MMFF94 step');
    // 5ndu carries its own hydrogens; the pH model re-adds some on free rotors (NH3+, CH3, OH,
    // a nitrate N): before the fix two processes placed about 300 of them differently
    const code = [
      'import sys',
      `sys.path.insert(0, ${JSON.stringify(join(ROOT, 'src', 'pocket'))})`,
      'from mmff_in_pocket import protonated_pocket',
      'from openbabel import openbabel as ob',
      'ob.obErrorLog.SetOutputLevel(0)',
      'm = protonated_pocket(sys.argv[1])',
      'print(m.NumAtoms(), sum(1 for a in ob.OBMolAtomIter(m) if a.GetAtomicNum() == 1))',
      'print("\\n".join("%.4f %.4f %.4f" % (a.GetX(), a.GetY(), a.GetZ()) for a in ob.OBMolAtomIter(m)))',
    ].join('\n');
    const run = (): string => {
      const r = spawnSync(python!, ['-c', code, join(POCKETS, '5ndu.pdb')], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      return r.stdout;
    };
    const first = run();
    const [atoms, hydrogens] = first.split('\n')[0].split(' ').map(Number);
    expect(hydrogens).toBeGreaterThan(952); // the file's 952 and those the pH model adds
    expect(first.split('\n').length).toBe(atoms + 2);
    for (let k = 0; k < 2; k++) expect(run()).toBe(first);
  });

  it('the pocket page has real tables, a card with scores and a 3D view per ligand (Chromium), and --complex one MODEL per ligand with CONECT records', (ctx) => {
    ctx.skip(!HAS_POCKETS, `${POCKETS} absent: needs a development complex`);
    const r = edm(['pocket', '--pdb', join(POCKETS, '3rfm.pdb'), '--ligand', join(POCKETS, '3rfm_B_CFF.sdf'), '-n', '3', '--steps', '20', '--no-dock', '--out', 'page.sdf', '--html', 'page.html', '--complex', 'page.pdb']);
    expect(r.status, String(r.stderr)).toBe(0);
    expect(String(r.stdout)).toMatch(/also written: --complex .*page\.pdb, --html .*page\.html/);
    const pdb = readFileSync(join(dir, 'page.pdb'), 'utf8');
    expect(pdb.match(/^MODEL /gm)).toHaveLength(3);
    expect(pdb.match(/^ENDMDL/gm)).toHaveLength(3);
    expect(pdb).toMatch(/^CONECT/m);
    const html = readFileSync(join(dir, 'page.html'), 'utf8');
    expect(html.match(/<table class="pocket-table">/g)).toHaveLength(2);
    expect(html).not.toMatch(/pocket-summary|\| --- \|/);
    expect(html.match(/<div class="scores">/g)).toHaveLength(3);
    const chromium = process.env.CHROMIUM ?? '/usr/bin/chromium';
    ctx.skip(!existsSync(chromium), `needs Chromium at ${chromium} (apt-get install chromium; .ci/run installs it)`);
    const c = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'check-html.ts'), join(dir, 'page.html'), '--cards', '3', '--pocket'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    expect(c.status, c.stderr + c.stdout).toBe(0);
    expect(JSON.parse(c.stdout.trim().split('\n').pop()!)).toMatchObject({ cards: 3, pocketTables: 2, cardScores: 3, problems: [] });
  });

  it('Ctrl-C while edm pocket samples (in its own thread) stops within a second, writes nothing and exits 130', async (ctx) => {
    ctx.skip(!HAS_POCKETS, `${POCKETS} absent: needs a development complex`);
    const work = mkdtempSync(join(tmpdir(), 'edm-pocket-sampling-'));
    const child = spawn(process.execPath, [EDM, 'pocket', '--pdb', join(POCKETS, '3rfm.pdb'), '--ligand', join(POCKETS, '3rfm_B_CFF.sdf'), '-n', '6', '--steps', '1000', '--no-dock', '--out', 'l.sdf'], { cwd: work, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += String(d)));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    await when(() => /pocket: \d+\/6000 ligand-steps/.test(stderr), { stream: child.stderr }, 'the first sampling progress line');
    const t0 = performance.now();
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(stderr).toMatch(/edm: interrupted \(SIGINT\): nothing was written to l\.sdf/);
    expect(readdirSync(work)).toEqual([]);
  });

  it('edm pocket reports docking ligand by ligand, and Ctrl-C there kills the tools, leaves no file, says so and exits 130', async (ctx) => {
    ctx.skip(!HAS_POCKETS, `${POCKETS} absent: needs a development complex`);
    const tools = dockingTools();
    ctx.skip(tools.missing !== undefined, `${tools.missing}`);
    const work = mkdtempSync(join(tmpdir(), 'edm-pocket-int-'));
    const tmp = join(work, 'tmp');
    mkdirSync(tmp);
    const child = spawn(process.execPath, [EDM, 'pocket', '--pdb', join(POCKETS, '3rfm.pdb'), '--ligand', join(POCKETS, '3rfm_B_CFF.sdf'), '-n', '6', '--steps', '20', '--out', 'l.sdf'], { cwd: work, env: { ...process.env, TMPDIR: tmp }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += String(d)));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    // the first ligand scored prints a docking line; the others are still docking
    await when(() => /dock: \d+\/6 ligands scored/.test(stderr), { stream: child.stderr }, 'the first docking line');
    expect(stderr).toMatch(/dock: \d+\/6 ligands scored/);
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(stderr).toMatch(/edm: interrupted \(SIGINT\): nothing was written to l\.sdf/);
    expect(readdirSync(work)).toEqual(['tmp']);
    // our working folder is gone (Open Babel and Vina leave droppings of their own, e.g. mat-debug-*.log)
    expect(readdirSync(tmp).filter((f) => f.startsWith('edm-'))).toEqual([]);
  });
});
