/**
 * Hostile and careless input at the command line (issue 41): each mistake is one line naming
 * what was typed, exit code 2, no stack trace, and no work started.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
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
});
