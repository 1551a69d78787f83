/**
 * Hostile and careless input at the command line (issue 41): each mistake is one line naming
 * what was typed, exit code 2, no stack trace, and no work started.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { parseSdf } from '../src/data/sdf.js';
import { AROMATIC, stability } from '../src/decode/bonds.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './helpers.js';

const BIN = join(ROOT, 'bin', 'edm.js');

function edm(args: string[], cwd: string): { code: number; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status ?? -1, stderr: r.stderr };
}

describe('hostile input', () => {
  it('an option given twice is refused by name in every command, before any work', () => {
    const dir = mkdtempSync(join(tmpdir(), 'edm-twice-'));
    const cases: [string[], string][] = [
      [['sample', '-n', '1', '--out', 'a.sdf', '--out', 'b.sdf'], '--out'],
      [['sample', '-n', '2', '-n', '3'], '-n'],
      [['sample', '-n', '1', '--steps', '5', '--steps', '6'], '--steps'],
      [['evaluate', 'x.sdf', '--json', 'a.json', '--json', 'b.json'], '--json'],
      [['train', '--out', 'r1', '--out', 'r2', '--steps', '1'], '--out'],
      [['web', '--dir', 'a', '--dir', 'b'], '--dir'],
      [['pocket', '--pdb', 'a.pdb', '--pdb', 'b.pdb'], '--pdb'],
    ];
    for (const [args, name] of cases) {
      const r = edm(args, dir);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toContain(`${name} is given more than once`);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    for (const f of ['a.sdf', 'b.sdf', 'samples.sdf', 'r1', 'r2']) expect(existsSync(join(dir, f)), f).toBe(false);
  });

  it('extreme sampler options are refused before any work, with the range (NaN and infinities too)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'edm-extreme-'));
    const cases: [string[], RegExp][] = [
      [['-n', '1000000000'], /-n must be an integer in 1\.\.10000000/],
      [['--temperature', '1e9'], /--temperature must be a number >= 0 and <= 10/],
      [['--temperature', 'NaN'], /--temperature must be a number/],
      [['--corrector-snr', '1e12'], /--corrector-snr must be a number > 0 and <= 1/],
      [['--corrector-snr', 'Infinity'], /--corrector-snr must be a number/],
      [['--corrector-steps', '1e9'], /--corrector-steps must be an integer in 1\.\.100/],
      [['--steps=-Infinity'], /--steps must be a/],
    ];
    for (const [extra, message] of cases) {
      const r = edm(['sample', ...(extra[0] === '-n' ? [] : ['-n', '2']), ...extra], dir);
      expect(r.code, `${extra.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a text option without its value and a switch given a word are refused, naming them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'edm-values-'));
    const cases: [string[], string][] = [
      [['sample', '-n', '2', '--out'], '--out needs a value'],
      [['sample', '--out', '--steps', '2'], '--out needs a value'],
      [['sample', '-n', '2', '--keep'], 'Not enough arguments following: keep'],
      [['train', '--out', 'r', '--steps', '1', '--bonds=yes'], '--bonds is a switch'],
      [['train', '--out', 'r', '--steps', '1', '--bonds=1'], '--bonds is a switch'],
      [['evaluate', 'x.sdf', '--own-bonds=on'], '--own-bonds is a switch'],
    ];
    for (const [args, message] of cases) {
      const r = edm(args, dir);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toContain(message);
    }
    expect(readdirSync(dir)).toEqual([]);
  });

  it('--train naming a missing file stops edm sample before it samples or overwrites anything', () => {
    const dir = mkdtempSync(join(tmpdir(), 'edm-train-missing-'));
    writeFileSync(join(dir, 'samples.sdf'), 'keep me');
    const r = edm(['sample', '-n', '2', '--steps', '2', '--train', 'missing.xyz'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--train');
    expect(r.stderr).toContain('missing.xyz: no readable file there');
    expect(readFileSync(join(dir, 'samples.sdf'), 'utf8')).toBe('keep me');
    expect(readdirSync(dir)).toEqual(['samples.sdf']);
  });

  it('an SDF counts line with a negative bond count is refused; an aromatic bond (type 4) counts 1.5', () => {
    const atoms = ['    0.0000    1.3970    0.0000 C   0  0', '    1.2098    0.6985    0.0000 C   0  0', '    1.2098   -0.6985    0.0000 C   0  0', '    0.0000   -1.3970    0.0000 C   0  0', '   -1.2098   -0.6985    0.0000 C   0  0', '   -1.2098    0.6985    0.0000 C   0  0'];
    const hs = ['    0.0000    2.4810    0.0000 H   0  0', '    2.1486    1.2405    0.0000 H   0  0', '    2.1486   -1.2405    0.0000 H   0  0', '    0.0000   -2.4810    0.0000 H   0  0', '   -2.1486   -1.2405    0.0000 H   0  0', '   -2.1486    1.2405    0.0000 H   0  0'];
    const ring = Array.from({ length: 6 }, (_, i) => `${String(i + 1).padStart(3)}${String(((i + 1) % 6) + 1).padStart(3)}  4`);
    const ch = Array.from({ length: 6 }, (_, i) => `${String(i + 1).padStart(3)}${String(i + 7).padStart(3)}  1`);
    const benzene = ['benzene', '  test', '', ' 12 12  0  0  0  0  0  0  0  0999 V2000', ...atoms, ...hs, ...ring, ...ch, 'M  END', '$$$$', ''].join('\n');
    const [m] = parseSdf(benzene, 'benzene.sdf');
    expect(m.bonds!.filter((b) => b.order === AROMATIC)).toHaveLength(6);
    const s = stability(m, m.bonds!);
    expect(s.moleculeStable).toBe(true);
    expect(s.valences.slice(0, 6)).toEqual([4, 4, 4, 4, 4, 4]);
    const negative = benzene.replace(' 12 12  0', ' 12 -1  0');
    expect(() => parseSdf(negative, 'neg.sdf')).toThrow(/neg\.sdf:4: bad counts line/);
  });

  it("messages quote a file's or an option's control characters as escapes, never raw (OSC 52, clear screen)", () => {
    const dir = mkdtempSync(join(tmpdir(), 'edm-escapes-'));
    const esc = '\x1b]52;c;ZXZpbA==\x07\x1b[2J';
    writeFileSync(join(dir, 'evil.sdf'), `evil\n  x\n\n  1  0  0  0  0  0  0  0  0  0999 V2000\n    0.0000    0.0000    0.0000 ${esc}  0  0\nM  END\n$$$$\n`);
    writeFileSync(join(dir, 'evil.xyz'), `1\n\n${esc} 0 0 0\n`);
    for (const args of [['evaluate', 'evil.sdf'], ['evaluate', 'evil.xyz'], ['sample', `--out${esc}`, 'x'], ['sample', '--seed', esc]]) {
      const r = edm(args, dir);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
      expect(r.stderr).toContain('\\x1b');
    }
  });

  it('a gzip bomb is refused with the limit it hit, quickly and without a stack trace', () => {
    const dir = mkdtempSync(join(tmpdir(), 'edm-bomb-'));
    // 500 MiB of zeros in about 2 MB
    writeFileSync(join(dir, 'bomb.sdf.gz'), gzipSync(Buffer.alloc(500 * 2 ** 20), { level: 1 }));
    const r = edm(['evaluate', 'bomb.sdf.gz'], dir);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('bomb.sdf.gz: decompresses to more than 480 MiB');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('--own-bonds on a file without bonds, and edm merge of a non-SDF file, are errors that say why', () => {
    const dir = mkdtempSync(join(tmpdir(), 'edm-ownbonds-'));
    writeFileSync(join(dir, 'x.xyz'), '3\nwater\nO 0 0 0\nH 0.96 0 0\nH -0.24 0.93 0\n');
    const own = edm(['evaluate', 'x.xyz', '--own-bonds'], dir);
    expect(own.code).toBe(2);
    expect(own.stderr).toContain('--own-bonds: x.xyz holds no bonds of its own');
    const merge = edm(['merge', 'x.xyz', '--out', 'm.sdf'], dir);
    expect(merge.code).toBe(2);
    expect(merge.stderr).toContain('x.xyz: edm merge joins the SDF files of a sharded edm sample run');
    expect(existsSync(join(dir, 'm.sdf'))).toBe(false);
  });

  it("a run removes the temporary files that killed runs left beside its outputs, not a live process's", () => {
    const dir = mkdtempSync(join(tmpdir(), 'edm-stale-'));
    let dead = 4_000_000;
    for (;;) {
      try {
        process.kill(dead, 0);
        dead++;
      } catch {
        break;
      }
    }
    const stale = [`.samples.sdf.${dead}.tmp`, `.samples.metrics.json.${dead}.outcomes.tmp`];
    const live = `.samples.sdf.${process.pid}.tmp`;
    for (const f of [...stale, live]) writeFileSync(join(dir, f), 'half-written');
    const r = edm(['sample', '-n', '2', '--steps', '1', '--backend', 'wasm'], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(dir).sort()).toEqual([live, 'samples.metrics.json', 'samples.sdf'].sort());
  });

  it('an atom count past the training data and a pocket taken whole are said, not silent', () => {
    const dir = mkdtempSync(join(tmpdir(), 'edm-notes-'));
    const big = edm(['sample', '-n', '1', '--steps', '1', '--n-atoms', '40', '--no-eval', '--backend', 'wasm'], dir);
    expect(big.code, big.stderr).toBe(0);
    expect(big.stderr).toContain('--n-atoms 40: the checkpoint was trained on molecules of at most 29 atoms');
    const pdb = ['ATOM      1  N   ALA A   1       0.000   0.000   0.000  1.00  0.00           N', 'ATOM      2  CA  ALA A   1       1.458   0.000   0.000  1.00  0.00           C', 'END', ''].join('\n');
    writeFileSync(join(dir, 'p.pdb'), pdb);
    const whole = edm(['pocket', '--pdb', 'p.pdb', '-n', '1', '--steps', '1', '--no-dock', '--backend', 'wasm'], dir);
    expect(whole.stderr).toContain('no --ligand or --center: all 2 atoms of p.pdb are the pocket');
  });
});

describe('progress of a pocket run', () => {
  it('ends at its total, not at 0 (a finished batch reports steps 0)', async () => {
    const { moleculeSteps } = await import('../src/cli/common.js');
    const count = moleculeSteps(20);
    expect(count(0, 0, 0)).toBeUndefined();
    expect(count(0, 50, 100)).toEqual({ value: 1000, total: 2000 });
    expect(count(20, 0, 0)).toEqual({ value: 2000, total: 2000 });
  });
});
