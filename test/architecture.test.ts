/**
 * Architecture rules, read from the source text: the CLI is a thin layer over the library
 * (`src/cli/*.ts` import only `src/index.ts`, node and yargs; commands never import each
 * other), scripts/ and web/ go through named entries, `src/` has no import cycle, and no
 * function in `src/` is over 100 lines.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers.js';

const SRC = join(ROOT, 'src');

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? tsFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Module specifiers of a file's static imports and re-exports. */
function importsOf(path: string): string[] {
  const text = readFileSync(path, 'utf8');
  return [...text.matchAll(/^\s*(?:import|export)\b[^'";]*?from\s+['"]([^'"]+)['"]/gm), ...text.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]);
}

/**
 * The text with comments, strings and template text blanked out (line breaks kept), so that
 * braces can be matched. `${…}` inside templates is kept as code.
 */
function codeOnly(text: string): string {
  let out = '';
  const templateDepth: number[] = []; // brace depth at which each open `${` started
  let depth = 0;
  let i = 0;
  const blank = (s: string): string => s.replace(/[^\n]/g, ' ');
  const stack: ('code' | 'template')[] = ['code'];
  while (i < text.length) {
    const mode = stack[stack.length - 1];
    const c = text[i];
    if (mode === 'template') {
      if (c === '\\') {
        out += '  ';
        i += 2;
      } else if (c === '`') {
        out += '`';
        stack.pop();
        i++;
      } else if (c === '$' && text[i + 1] === '{') {
        out += '${';
        stack.push('code');
        templateDepth.push(depth);
        depth++;
        i += 2;
      } else {
        out += c === '\n' ? '\n' : ' ';
        i++;
      }
      continue;
    }
    if (c === '/' && text[i + 1] === '/') {
      const end = text.indexOf('\n', i);
      const stop = end < 0 ? text.length : end;
      out += blank(text.slice(i, stop));
      i = stop;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2) + 2;
      out += blank(text.slice(i, end));
      i = end;
    } else if (c === "'" || c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== c && text[j] !== '\n') j += text[j] === '\\' ? 2 : 1;
      out += c + ' '.repeat(Math.max(0, j - i - 1)) + c;
      i = j + 1;
    } else if (c === '`') {
      out += '`';
      stack.push('template');
      i++;
    } else if (c === '{') {
      depth++;
      out += c;
      i++;
    } else if (c === '}') {
      depth--;
      out += c;
      i++;
      if (templateDepth.length && templateDepth[templateDepth.length - 1] === depth && stack.length > 1) {
        templateDepth.pop();
        stack.pop();
      }
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** Functions (declarations, methods, arrow bodies) of a file with their length in lines. */
function functionLengths(path: string): { name: string; line: number; lines: number }[] {
  const code = codeOnly(readFileSync(path, 'utf8'));
  const lines = code.split('\n');
  const found: { name: string; line: number; lines: number }[] = [];
  const open: { line: number; isFunction: boolean; name: string }[] = [];
  lines.forEach((text, ln) => {
    for (let col = 0; col < text.length; col++) {
      if (text[col] === '{') {
        const before = text.slice(0, col).trimEnd();
        const head = before.trim();
        // a `{` inside an unfinished `(…)` or `<…>` opens a type or an argument, not a body
        const bare = head.replace(/=>/g, '');
        const balanced = [...bare].filter((ch) => ch === '(').length === [...bare].filter((ch) => ch === ')').length && [...bare].filter((ch) => ch === '<').length === [...bare].filter((ch) => ch === '>').length;
        const isFunction =
          /=>$/.test(before) ||
          (/\bfunction\b/.test(head) && balanced) ||
          (/^(?:(?:public|private|protected|static|async|get|set|readonly)\s+)*[\w$]+\s*(?:<[^>]*>)?\s*\(.*\)\s*(?::\s*.+)?$/.test(head) && !/^(?:if|for|while|switch|catch|with)\b/.test(head)) ||
          (/^\)\s*(?::\s*.+)?$/.test(head) && ln > 0);
        open.push({ line: ln, isFunction, name: head.slice(0, 60) });
      } else if (text[col] === '}') {
        const o = open.pop();
        if (o?.isFunction) found.push({ name: o.name, line: o.line + 1, lines: ln - o.line + 1 });
      }
    }
  });
  return found;
}

describe('architecture', () => {
  it('src/cli imports only the library entry point (src/index.ts), its support module (src/cli-support.ts), node and yargs; commands do not import each other', () => {
    const bad: string[] = [];
    for (const file of readdirSync(join(SRC, 'cli')).filter((f) => f.endsWith('.ts'))) {
      for (const spec of importsOf(join(SRC, 'cli', file))) {
        const ok =
          spec.startsWith('node:') ||
          spec === 'yargs' ||
          spec === 'yargs/helpers' ||
          spec === '../index.js' ||
          spec === '../cli-support.js' ||
          spec === './common.js' ||
          (file === 'main.ts' && /^\.\/[\w-]+\.js$/.test(spec));
        if (!ok) bad.push(`src/cli/${file} imports ${spec}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('every import in src goes to its own layer or a lower one, in the order docs/architecture.md gives', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'architecture.md'), 'utf8');
    const line = doc.slice(doc.indexOf('<!-- layers -->')).split('\n')[1];
    const layers = line.replace(/`/g, '').split(',').map((s) => s.trim());
    expect(layers.length).toBeGreaterThan(10);
    const layerOf = (file: string): string => relative(SRC, file).split('/')[0].replace(/\.ts$/, '');
    // every part of src has a place in the order
    const parts = [...new Set(tsFiles(SRC).map(layerOf))];
    expect(parts.filter((p) => !layers.includes(p))).toEqual([]);
    const upward: string[] = [];
    for (const f of tsFiles(SRC)) {
      const from = layerOf(f);
      for (const spec of importsOf(f).filter((s) => s.startsWith('.'))) {
        const to = layerOf(resolve(dirname(f), spec.replace(/\.js$/, '.ts')));
        if (layers.indexOf(to) > layers.indexOf(from)) upward.push(`${relative(SRC, f)} (${from}) imports ${spec} (${to})`);
      }
    }
    expect(upward).toEqual([]);
  });

  it('scripts/ use the library through src/index.ts or src/internal.ts, and web/ through src/browser.ts (named entries)', () => {
    const bad: string[] = [];
    for (const [dir, allowed] of [['scripts', ['../src/index.js', '../src/internal.js']], ['web', ['../src/browser.js']]] as const) {
      const files = readdirSync(join(ROOT, dir)).filter((f) => f.endsWith('.ts'));
      expect(files.length, dir).toBeGreaterThan(1);
      for (const f of files) for (const spec of importsOf(join(ROOT, dir, f))) if (spec.startsWith('../') && !(allowed as readonly string[]).includes(spec)) bad.push(`${dir}/${f} imports ${spec}`);
    }
    expect(bad).toEqual([]);
  });

  it('src has no import cycle', () => {
    const graph = new Map<string, string[]>();
    for (const f of tsFiles(SRC)) {
      const deps = importsOf(f)
        .filter((s) => s.startsWith('.'))
        .map((s) => resolve(dirname(f), s.replace(/\.js$/, '.ts')));
      graph.set(f, deps);
    }
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (f: string, path: string[]): void => {
      if (state.get(f) === 'done') return;
      if (state.get(f) === 'open') {
        cycles.push([...path.slice(path.indexOf(f)), f].map((p) => relative(SRC, p)).join(' -> '));
        return;
      }
      state.set(f, 'open');
      for (const d of graph.get(f) ?? []) visit(d, [...path, f]);
      state.set(f, 'done');
    };
    for (const f of graph.keys()) visit(f, []);
    expect(cycles).toEqual([]);
  });

  it('no function in src is over 100 lines', () => {
    const long = tsFiles(SRC).flatMap((f) =>
      functionLengths(f)
        .filter((fn) => fn.lines > 100)
        .map((fn) => `${relative(ROOT, f)}:${fn.line} ${fn.name} (${fn.lines} lines)`),
    );
    expect(long).toEqual([]);
  });

  it('the function-length rule sees functions (it is not vacuous)', () => {
    const fns = functionLengths(join(SRC, 'train', 'trainer.ts'));
    expect(fns.find((f) => f.name.startsWith('export async function train('))?.lines).toBeGreaterThan(15);
    expect(fns.find((f) => f.name.startsWith('async advance('))?.lines).toBeGreaterThan(15);
    const longest = Math.max(...tsFiles(SRC).flatMap((f) => functionLengths(f).map((fn) => fn.lines)));
    expect(longest).toBeGreaterThan(40);
  });
});
