#!/usr/bin/env node
/**
 * The `edm` command line: a thin yargs layer over the library API (src/index.ts).
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { UserError } from '../index.js';
import { printable } from '../cli-support.js';
import { evaluateCommand } from './evaluate.js';
import { importTorchCommand } from './import-torch.js';
import { mergeCommand } from './merge.js';
import { webCommand } from './web.js';
import { pocketCommand } from './pocket.js';
import { sampleCommand } from './sample.js';
import { trainCommand } from './train.js';

/**
 * yargs names an unknown option twice, as typed and camel-cased (`unknown-flag, unknownFlag`):
 * keep the spelling the user typed.
 */
function withoutCamelTwins(message: string): string {
  const m = /^(Unknown arguments?: )(.*)$/.exec(message);
  if (!m) return message;
  const names = m[2].split(', ');
  const camel = (s: string): string => s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  // drop a camel-cased name whose hyphenated twin is also listed
  const kept = names.filter((n) => !names.some((o) => o !== n && camel(o) === n));
  return `${kept.length === 1 ? 'Unknown argument: ' : m[1]}${kept.join(', ')}`;
}

const cli = yargs(hideBin(process.argv))
  .scriptName('edm')
  .usage('$0 <command> [options]\n\nE(3) equivariant diffusion for 3D molecules (Hoogeboom et al., ICML 2022).')
  .strict()
  .recommendCommands()
  .demandCommand(1, 'give a command: sample, pocket, evaluate, train, merge, import-torch, web')
  .help()
  .alias('h', 'help')
  .wrap(Math.min(110, process.stdout.columns ?? 100))
  .fail((msg, err) => {
    // a user's mistake (yargs reports option errors, ours included, as YError): one line and a
    // pointer to the help, never the whole help or a stack trace
    if (err && !(err instanceof UserError) && err.name !== 'YError') throw err;
    process.stderr.write(`edm: error: ${printable(withoutCamelTwins(err ? err.message : msg))}\n(edm --help lists the commands; edm <command> --help their options)\n`);
    process.exit(2);
  });

sampleCommand(cli);
pocketCommand(cli);
evaluateCommand(cli);
trainCommand(cli);
importTorchCommand(cli);
mergeCommand(cli);
webCommand(cli);
await cli.parseAsync();
