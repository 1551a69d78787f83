/**
 * File access shared by readers and writers: text with transparent gzip, atomic writes.
 */
import { closeSync, fsyncSync, openSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { InputError } from '../errors.js';

/**
 * Read a text file, gunzipping `.gz` files.
 * @throws InputError if the file cannot be read, is not valid gzip, or holds (or decompresses
 *   to) more than MAX_TEXT_BYTES
 */
export function readText(path: string): string {
  let raw: Buffer;
  try {
    if (statSync(path).size > MAX_TEXT_BYTES) throw new InputError(`larger than ${MAX_TEXT_BYTES / 2 ** 20} MiB, the most a text file can be read as one (split it)`, path);
    raw = readFileSync(path);
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`cannot read file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, path);
  }
  if (path.endsWith('.gz') || (raw[0] === 0x1f && raw[1] === 0x8b)) {
    try {
      raw = gunzipSync(raw, { maxOutputLength: MAX_TEXT_BYTES });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw new InputError(`decompresses to more than ${MAX_TEXT_BYTES / 2 ** 20} MiB, the most a text file can be read as one (split it)`, path);
      throw new InputError(`not a valid gzip file (${(e as Error).message})`, path);
    }
  }
  return raw.toString('utf8');
}

/** Bytes of text read from one file at most (JavaScript strings end near 512 Mi characters). */
export const MAX_TEXT_BYTES = 480 * 2 ** 20;

/**
 * A file written piece by piece into a temporary file in the same folder, then fsynced and
 * renamed into place by `commit`: a reader never sees half a file, and `abort` (or a crash)
 * leaves the old file (or none) under the real name.
 */
export class AtomicFileWriter {
  private readonly tmp: string;
  private fd: number | undefined;

  /** @throws InputError naming the path if its folder cannot be written */
  constructor(readonly path: string) {
    removeStaleTemps(path);
    this.tmp = tempPathBeside(path);
    try {
      this.fd = openSync(this.tmp, 'w');
    } catch (e) {
      throw cannotWrite(path, e);
    }
  }

  /** Append text (UTF-8) or bytes. @throws InputError if the disk refuses them */
  write(data: string | Uint8Array): void {
    try {
      // strings go in as UTF-8 without an intermediate Buffer
      if (typeof data === 'string') writeSync(this.fd!, data);
      else writeSync(this.fd!, data);
    } catch (e) {
      this.abort();
      throw cannotWrite(this.path, e);
    }
  }

  /** Flush and rename into place. @throws InputError if that fails (the temporary file is removed) */
  commit(): void {
    try {
      fsyncSync(this.fd!);
      closeSync(this.fd!);
      this.fd = undefined;
      renameSync(this.tmp, this.path);
    } catch (e) {
      this.abort();
      throw cannotWrite(this.path, e);
    }
  }

  /** Drop the temporary file. */
  abort(): void {
    removeTemp(this.fd, this.tmp);
    this.fd = undefined;
  }
}

/** A hidden temporary file beside `path`, unique to this process: `.<name>.<pid><tag>.tmp`. */
export const tempPathBeside = (path: string, tag = ''): string => join(dirname(path), `.${basename(path)}.${process.pid}${tag}.tmp`);

/**
 * Remove the temporary files that killed runs left beside `path` (`tempPathBeside`'s names, any
 * tag, whose process is gone): a `kill -9` cannot clean up after itself, the next writer of the
 * same file does. Files of live processes (another run writing there now) are left alone.
 */
export function removeStaleTemps(path: string): void {
  const prefix = `.${basename(path)}.`;
  let names: string[];
  try {
    names = readdirSync(dirname(path));
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
    const pid = /^(\d+)(?:\.[\w-]+)?$/.exec(name.slice(prefix.length, -'.tmp'.length))?.[1];
    if (pid === undefined || Number(pid) === process.pid || processAlive(Number(pid))) continue;
    rmSync(join(dirname(path), name), { force: true });
  }
}

/** Whether a process with this id exists (signal 0 checks without sending anything). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Close `fd` (if open; errors ignored, it may be closed already) and delete the file `tmp`. */
export function removeTemp(fd: number | undefined, tmp: string): void {
  if (fd !== undefined) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
  }
  rmSync(tmp, { force: true });
}

/** The user-facing error for a file that cannot be written, with the system's reason. */
export const cannotWrite = (path: string, e: unknown): InputError => new InputError(`cannot write file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, path);

/**
 * Write a file atomically (see `AtomicFileWriter`).
 * @throws InputError naming the path if it cannot be written
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const w = new AtomicFileWriter(path);
  w.write(data);
  w.commit();
}
