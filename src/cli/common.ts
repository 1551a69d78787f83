/**
 * What every command shares: reading numbers as typed, paths, the error exit.
 */
import { DEFAULT_CORRECTOR, DEFAULT_TRAIN_FILE, InputError, type CorrectorOptions, type ElementSampling, UserError, chooseReference, startRuntime, type Runtime, type BackendName, type TrainingReference } from '../index.js';
import { printable, shown, startProgress, type Progress } from '../cli-support.js';
import { accessSync, constants, existsSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { ArgumentsCamelCase, Argv } from 'yargs';

/** Resolve a path given on the command line against the working directory. */
export const userPath = (p: string): string => resolve(process.cwd(), p);

/** A path as the file system knows it (links resolved), for comparing paths that may not exist yet. */
function canonical(p: string): string {
  const abs = resolve(p);
  if (existsSync(abs)) return realpathSync(abs);
  const dir = dirname(abs);
  return existsSync(dir) ? resolve(realpathSync(dir), abs.slice(dir.length + 1)) : abs;
}

/**
 * Check a command's output files before any work: each can be written (its folder exists and is
 * writable; it is not a folder), none is one of the command's inputs, and no two are the same
 * file, so a mistyped path never destroys the molecules or structures it reads.
 * @param outputs option label -> path as typed (absent ones skipped)
 * @param inputs paths the command reads (relative ones against the working directory)
 * @throws InputError naming the path and the clash
 */
export function checkOutputs(outputs: Record<string, string | undefined>, inputs: (string | undefined)[]): void {
  const read = new Set(inputs.filter((p): p is string => p !== undefined).map((p) => canonical(userPath(p))));
  const seen = new Map<string, string>();
  for (const [label, typed] of Object.entries(outputs)) {
    if (!typed) continue;
    const path = userPath(typed);
    const c = canonical(path);
    if (read.has(c)) throw new InputError(`${label} would overwrite one of the command's inputs: choose another output path`, path);
    if (seen.has(c)) throw new InputError(`${label} and ${seen.get(c)} are the same file: choose two paths`, path);
    seen.set(c, label);
    assertWritable(path);
  }
}

/**
 * Ctrl-C / SIGTERM for a command that stops cleanly: the first signal aborts the returned
 * controller (its reason is the signal's name); a second one runs `cleanup` (temporary files)
 * and exits at once with 130 / 143.
 */
export function stopOnSignals(cleanup: () => void = () => {}): AbortController {
  const interrupt = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupt.signal.aborted) {
      cleanup();
      process.exit(signal === 'SIGTERM' ? 143 : 130);
    }
    interrupt.abort(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return interrupt;
}

/** The exit code of a run stopped by `stopOnSignals`' controller: 143 for SIGTERM, else 130. */
export const interruptedExitCode = (c: AbortController): number => (String(c.signal.reason) === 'SIGTERM' ? 143 : 130);

/** The files of a checkpoint folder (inputs no output may replace); none when it does not exist. */
export function checkpointFiles(dir: string): string[] {
  return existsSync(dir) && statSync(dir).isDirectory() ? readdirSync(dir).map((f) => resolve(dir, f)) : [];
}

/** Fail before any work if `path` cannot be written. @throws InputError naming the path */
function assertWritable(path: string): void {
  const dir = dirname(path);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new InputError('cannot write: the folder does not exist', path);
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    throw new InputError('cannot write: the folder is not writable', path);
  }
  if (existsSync(path) && statSync(path).isDirectory()) throw new InputError('cannot write: it is a folder', path);
}

/** Backends `--backend` accepts. */
export const BACKEND_CHOICES = ['auto', 'tensorflow-gpu', 'tensorflow', 'onnx', 'wasm', 'cpu'];

/** The `--backend` option. */
export const backendOption = {
  type: 'string',
  choices: BACKEND_CHOICES,
  default: 'auto',
  describe: 'compute backend: auto picks tfjs-node(-gpu) when installed, else ONNX Runtime for the network (onnxruntime-node), else WebAssembly',
} as const;

/**
 * The run's `Runtime` from `--backend` and `--threads` (checked there, once).
 * @throws OptionError for a backend that is not installed or an impossible --threads
 */
export async function startBackend(name: string | undefined, threads?: number): Promise<Runtime> {
  const runtime = await startRuntime({ backend: (name ?? 'auto') as BackendName, threads });
  // the fast engine can vanish silently at install (npm drops an optional dependency whose install
  // script failed): say so once, with the fix, when `auto` had to fall back to WebAssembly
  if ((name ?? 'auto') === 'auto' && runtime.engine !== 'onnx' && runtime.name !== 'tensorflow') process.stderr.write(ONNX_MISSING);
  return runtime;
}

/** The warning of a run that fell back to WebAssembly because onnxruntime-node is missing. */
export const ONNX_MISSING =
  'edm: warning: onnxruntime-node is not installed, so the network runs on WebAssembly, about 3-4 times slower.\n' +
  '     Reinstall it: with npm 11.16 or later `npm ci` keeps it (package.json allowScripts);\n' +
  '     with older npm, run `ONNXRUNTIME_NODE_INSTALL=skip npm ci`. --backend wasm silences this.\n';

/**
 * A yargs `coerce` for numeric options declared without a type (so that yargs passes text it
 * cannot read as a number through unchanged): text that is not a number is refused here,
 * echoed as typed; ranges are checked by the library function that takes the option.
 */
export function numberArg(label: string): (v: unknown) => number | undefined {
  return (v) => {
    if (v === undefined || typeof v === 'number') return v;
    if (Array.isArray(v)) throw new UserError(`${label} is given more than once (${shown(v.join(', '))}): give it once`);
    if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
    throw new UserError(`${label} must be a number, got ${shown(Array.isArray(v) ? v.join(' ') : v)}`);
  };
}

/** A text option (a path, a list): `describe`, and a default described in words if any. */
export function textFlag(describe: string, defaultDescription?: string): { type: 'string'; describe: string; requiresArg: true; defaultDescription?: string } {
  return { type: 'string', describe, requiresArg: true, ...(defaultDescription ? { defaultDescription } : {}) };
}

/** A numeric option: `describe` and `default` as given, text echoed in errors. */
export function numberFlag(label: string, describe: string, defaultValue?: number): { describe: string; default?: number; coerce: (v: unknown) => number | undefined; requiresArg: true } {
  return { describe, ...(defaultValue !== undefined ? { default: defaultValue } : {}), coerce: numberArg(label), requiresArg: true };
}

/** `--threads`: ONNX Runtime's intra-op threads for sampling (`edm sample`, `edm pocket`). */
export const threadsFlag = { ...numberFlag('--threads', 'ONNX Runtime threads of the network (onnx backend); output is reproducible for a thread count'), defaultDescription: 'one per core' };

/**
 * Molecule-steps done, from a sampler's progress calls (`done` molecules finished, `step` of
 * `steps` in the current batch, which holds at most the molecules not yet done; a finished batch
 * reports `steps` 0): the total is known from the first step, and the last call reaches it.
 */
export function moleculeSteps(n: number): (done: number, step: number, steps: number) => { value: number; total: number } | undefined {
  let perMolecule = 0;
  return (done, step, steps) => {
    if (steps > 0) perMolecule = steps;
    if (perMolecule === 0) return undefined;
    const total = n * perMolecule;
    return { total, value: Math.min(total, done * perMolecule + (steps > 0 ? step * (n - done) : 0)) };
  };
}

/** The sampler's options, shared by `edm sample` and `edm pocket`. */
export const samplerFlags = {
  temperature: numberFlag('--temperature', "scale of the reverse steps' noise (1 as in EDM); lower values give more stable, less diverse molecules (README: sampler table)", 1),
  'corrector-steps': numberFlag('--corrector-steps', "Langevin corrector steps after each denoising step of the last --corrector-fraction of the chain (Song et al. 2021); 0 is EDM's sampler (README: sampler table)", DEFAULT_CORRECTOR.steps),
  'corrector-snr': numberFlag('--corrector-snr', "signal-to-noise ratio setting the corrector's step size", DEFAULT_CORRECTOR.snr),
  'corrector-fraction': numberFlag('--corrector-fraction', 'last part of the chain (0-1] that gets corrector steps', DEFAULT_CORRECTOR.fraction),
  'element-model': { type: 'boolean', describe: "type atoms with the checkpoint's element model p(h | x) (its elements/ folder), from --element-from on", default: false },
  'element-from': numberFlag('--element-from', 'diffusion time (0-1, a fraction of the chain) from which the element model types the atoms; 0: at the end only', 0),
} as const;

/**
 * `temperature` and `corrector` of the sampler from the shared flags (`--corrector-steps 0`:
 * none, EDM's sampler). The values are checked by the library.
 */
export function samplerArgs(argv: { temperature?: number; 'corrector-steps'?: number; 'corrector-snr'?: number; 'corrector-fraction'?: number; 'element-model'?: boolean; 'element-from'?: number }): { temperature?: number; corrector: CorrectorOptions | false; elements?: ElementSampling } {
  const steps = argv['corrector-steps'] ?? DEFAULT_CORRECTOR.steps;
  if (argv['element-from'] !== undefined && argv['element-from'] !== 0 && !argv['element-model']) throw new UserError('--element-from belongs to --element-model');
  const elements = argv['element-model'] ? { elements: { from: argv['element-from'] ?? 0 } } : {};
  if (steps === 0) return { temperature: argv.temperature, corrector: false, ...elements };
  return { temperature: argv.temperature, corrector: { steps, snr: argv['corrector-snr'] ?? DEFAULT_CORRECTOR.snr, fraction: argv['corrector-fraction'] ?? DEFAULT_CORRECTOR.fraction }, ...elements };
}

/**
 * Run a command body; user mistakes become one line on stderr and exit code 2, bugs keep
 * their stack trace and exit code 1.
 */
export async function runCommand(body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (e) {
    if (e instanceof UserError) {
      process.stderr.write(`edm: error: ${printable(e.message)}\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`edm: internal error: ${(e as Error).stack ?? String(e)}\n`);
      process.exitCode = 1;
    }
  }
}

/**
 * Register a command whose body runs under `runCommand` (one-line errors, exit code 2).
 * @param builder declares the command's options
 */
export function defineCommand<T>(y: Argv, name: string, describe: string, builder: (a: Argv) => Argv<T>, body: (argv: ArgumentsCamelCase<T>) => Promise<void>): Argv {
  return y.command(
    name,
    describe,
    (a) => {
      const built = builder(a);
      return built.check((argv) => {
        const declared = (built as unknown as { getOptions(): { array: string[]; string: string[]; boolean: string[] } }).getOptions();
        rejectRepeated(argv, new Set(declared.array));
        rejectEmpty(argv, declared.string, process.argv.slice(2));
        rejectBooleanWords(process.argv.slice(2), declared.boolean);
        return true;
      });
    },
    (argv) => runCommand(() => body(argv as ArgumentsCamelCase<T>)),
  );
}

/**
 * A text option given without its value (`--out` last, or `--out=`) would silently mean the
 * default or an empty path.
 * @throws UserError naming the option
 */
function rejectEmpty(argv: Record<string, unknown>, strings: string[], raw: string[]): void {
  for (const k of strings) if (argv[k] === '') throw new UserError(`--${k} needs a value`);
  // `--out` as the last word, or before another option, leaves yargs's default in place
  raw.forEach((w, i) => {
    const k = w.startsWith('--') ? w.slice(2) : undefined;
    if (k && strings.includes(k) && (i === raw.length - 1 || raw[i + 1].startsWith('--'))) throw new UserError(`--${k} needs a value`);
  });
}

/**
 * yargs reads `--flag=yes` as false: a switch takes only true or false (or no value).
 * @param raw the command line's words
 * @throws UserError quoting the word
 */
function rejectBooleanWords(raw: string[], booleans: string[]): void {
  const names = new Set(booleans);
  for (const word of raw) {
    const m = /^--(?:no-)?([\w-]+)=(.*)$/s.exec(word);
    if (m && names.has(m[1]) && m[2] !== 'true' && m[2] !== 'false') throw new UserError(`${shown(word)}: --${m[1]} is a switch; give --${m[1]}, --no-${m[1]}, or =true / =false`);
  }
}

/**
 * yargs gathers an option given twice into an array, which a command would misread: refuse it,
 * naming the option as typed.
 * @param arrays options declared as lists (their repeats are meant)
 * @throws UserError naming the first repeated option
 */
function rejectRepeated(argv: Record<string, unknown>, arrays: Set<string>): void {
  for (const [k, v] of Object.entries(argv)) {
    // camel-cased keys are yargs's twins of hyphenated names, reported under those
    if (k === '_' || k === '$0' || arrays.has(k) || /[A-Z]/.test(k) || !Array.isArray(v)) continue;
    throw new UserError(`${k.length === 1 ? '-' : '--'}${k} is given more than once (${shown(v.map(String).join(', '))}): give it once`);
  }
}

/** Progress of scoring molecules (a bar on a terminal, else a line every few seconds). */
export function scoringProgress(): { onProgress: (done: number, total: number) => void; stop: () => void } {
  let progress: Progress | undefined;
  return {
    onProgress: (done, total) => {
      progress ??= startProgress({ total, barFormat: 'score |{bar}| {value}/{total} molecules', line: (v, t) => `score: ${v}/${t} molecules` });
      progress.update(done);
    },
    stop: () => progress?.stop(),
  };
}

/**
 * The novelty reference for `--train FILE | --no-train` (yargs turns `--no-train` into false),
 * else the training SMILES stored in `checkpointDir`, else QM9's train split when present.
 */
export function referenceFromArgs(train: unknown, checkpointDir: string | undefined): Promise<TrainingReference | undefined> {
  return chooseReference({
    train: train === false ? false : typeof train === 'string' && train !== '' ? userPath(train) : undefined,
    checkpointDir,
    fallbackFile: DEFAULT_TRAIN_FILE,
    onNote: (m) => process.stderr.write(`edm: ${m}\n`),
  });
}
