/**
 * Checks of numeric options, one place per concept, used by the library functions that take
 * them (and so by the CLI). A value can arrive as the text a user typed (the CLI passes
 * non-numeric text through unparsed), so every message echoes what was given.
 */
import { OptionError } from './errors.js';

/** How a given value is shown in an error: text in quotes, numbers as they are. */
export function shown(value: unknown): string {
  return typeof value === 'string' ? `"${printable(value)}"` : printable(String(value));
}

/**
 * Text with its control characters (C0, DEL, C1: terminal escape sequences among them) written
 * as escapes, so that a message quoting a user's file or option cannot drive the terminal.
 */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** A number from a value that may be the user's text; undefined stays undefined. */
function asNumber(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && value.trim() !== '') return Number(value);
  return NaN;
}

/**
 * An integer option in [min, max].
 * @param label the option's name as users write it (e.g. `--steps`)
 * @throws OptionError naming the option and echoing the value when it is not such an integer
 */
export function integerOption(label: string, value: unknown, min = 1, max = Number.POSITIVE_INFINITY): number {
  const v = asNumber(value);
  if (v === undefined || !Number.isInteger(v) || v < min || v > max) {
    const range =
      max !== Number.POSITIVE_INFINITY ? `an integer in ${min}..${max}` : min === 1 ? 'a positive integer' : min === 0 ? 'an integer >= 0' : `an integer >= ${min}`;
    throw new OptionError(`${label} must be ${range}, got ${shown(value)}`);
  }
  return v;
}

/** `integerOption` for an optional value: undefined passes through. */
export function optionalInteger(label: string, value: unknown, min = 1, max = Number.POSITIVE_INFINITY): number | undefined {
  return value === undefined ? undefined : integerOption(label, value, min, max);
}

/**
 * A finite number option within bounds.
 * @param bounds `above`: strictly greater than; `atLeast`: >=; `below`: strictly less than
 * @throws OptionError naming the option and echoing the value
 */
export function numberOption(label: string, value: unknown, bounds: { above?: number; atLeast?: number; below?: number; atMost?: number } = {}): number {
  const v = asNumber(value);
  const parts: string[] = [];
  if (bounds.above !== undefined) parts.push(`> ${bounds.above}`);
  if (bounds.atLeast !== undefined) parts.push(`>= ${bounds.atLeast}`);
  if (bounds.below !== undefined) parts.push(`< ${bounds.below}`);
  if (bounds.atMost !== undefined) parts.push(`<= ${bounds.atMost}`);
  const ok =
    v !== undefined &&
    Number.isFinite(v) &&
    (bounds.above === undefined || v > bounds.above) &&
    (bounds.atLeast === undefined || v >= bounds.atLeast) &&
    (bounds.below === undefined || v < bounds.below) &&
    (bounds.atMost === undefined || v <= bounds.atMost);
  if (!ok) throw new OptionError(`${label} must be a number${parts.length ? ` ${parts.join(' and ')}` : ''}, got ${shown(value)}`);
  return v;
}

/** `numberOption` for an optional value: undefined passes through. */
export function optionalNumber(label: string, value: unknown, bounds: { above?: number; atLeast?: number; below?: number; atMost?: number } = {}): number | undefined {
  return value === undefined ? undefined : numberOption(label, value, bounds);
}
