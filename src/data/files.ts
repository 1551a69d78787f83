/**
 * File access shared by readers and writers: text with transparent gzip, atomic writes.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { InputError } from '../errors.js';

/**
 * Read a text file, gunzipping `.gz` files.
 * @throws InputError if the file cannot be read or is not valid gzip
 */
export function readText(path: string): string {
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch (e) {
    throw new InputError(`cannot read file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, path);
  }
  if (path.endsWith('.gz') || (raw[0] === 0x1f && raw[1] === 0x8b)) {
    try {
      raw = gunzipSync(raw);
    } catch (e) {
      throw new InputError(`not a valid gzip file (${(e as Error).message})`, path);
    }
  }
  return raw.toString('utf8');
}

/**
 * Write a file atomically: a temporary file in the same folder, fsync, then rename, so a
 * reader never sees half a file and a crash leaves the old file (or none) in place.
 * @throws InputError naming the path if it cannot be written
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new InputError(`cannot write file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, path);
  }
}
