/**
 * The README's library snippet runs as a user would run it: as an ES module importing `edm-ts`
 * (resolved through the package's `exports`), writing its SDF and printing its report.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './helpers.js';

describe('README', () => {
  it('the library snippet runs as written, importing edm-ts', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Library API'));
    const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
    expect(code, 'a ts block under "## Library API"').toBeDefined();
    const dir = mkdtempSync(join(tmpdir(), 'edm-readme-'));
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(ROOT, join(dir, 'node_modules', 'edm-ts'), 'dir');
    // the snippet names the shipped checkpoint by its path in the clone
    writeFileSync(join(dir, 'snippet.mjs'), code!.replaceAll("'checkpoints/qm9-default'", JSON.stringify(join(ROOT, 'checkpoints', 'qm9-default'))));
    const r = spawnSync(process.execPath, ['snippet.mjs'], { cwd: dir, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/atom stab\./);
    expect(existsSync(join(dir, 'out.sdf'))).toBe(true);
    expect(readFileSync(join(dir, 'out.sdf'), 'utf8').split('$$$$').length - 1).toBe(10);
  });

  it('`npx edm --help` in the clone prints the help and no npm warning', () => {
    // npm reads the clone's .npmrc on every npx call and warns about keys it does not know
    const r = spawnSync('npx', ['--no-install', 'edm', '--help'], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^edm <command>/);
    expect(r.stderr).not.toMatch(/npm warn/i);
  });
});
