/**
 * Typed errors. The CLI turns these into a one-line message and a non-zero exit;
 * anything else is a bug and keeps its stack trace.
 */

/** Base class for errors caused by what a user gave us (files, options), not by a bug. */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Bad input data: a malformed file, an unknown element, NaN coordinates. Names file and line. */
export class InputError extends UserError {
  /**
   * @param message what is wrong, in words a user understands
   * @param file the file being read, if any
   * @param line 1-based line number in `file`, if known
   */
  constructor(message: string, readonly file?: string, readonly line?: number) {
    super(file ? `${file}${line !== undefined ? `:${line}` : ''}: ${message}` : message);
  }
}

/** A missing, corrupt or incompatible checkpoint (unknown tensor, wrong shape, bad config). */
export class CheckpointError extends UserError {}

/** A run stopped by its caller (Ctrl-C, SIGTERM, an AbortSignal): not a failure of the input. */
export class InterruptedError extends UserError {}

/** An impossible option value (e.g. `-n 0`, `--steps 0`). */
export class OptionError extends UserError {}
