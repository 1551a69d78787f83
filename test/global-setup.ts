/**
 * The whole test run writes its temporary files (tests' mkdtemp folders, the CLI's children's)
 * under one folder of its own, removed when the run ends, so `npm test` leaves nothing in the
 * system's temporary folder. Test workers and the processes they spawn inherit TMPDIR.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const previous = process.env.TMPDIR;
  const root = mkdtempSync(join(tmpdir(), 'edm-test-run-'));
  process.env.TMPDIR = root;
  return () => {
    rmSync(root, { recursive: true, force: true });
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
  };
}
