/**
 * The `i/k` form of a shard, as users write it (`--shard 0/4` ... `--shard 3/4`).
 */
import { OptionError } from '../errors.js';
import { shown } from '../options.js';

/**
 * Read `i/k` (0-based i, 0 <= i < k).
 * @throws OptionError echoing the text when it is not of that form
 */
export function parseShard(text: string): { index: number; count: number } {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index >= count) throw new OptionError(`--shard must be i/k with 0 <= i < k (e.g. 0/4 to 3/4), got ${shown(text)}`);
  return { index, count };
}
