#!/usr/bin/env node
/**
 * The `edm` command line: a thin yargs layer over the library API (src/index.ts).
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { UserError } from '../index.js';
import { evaluateCommand } from './evaluate.js';
import { importTorchCommand } from './import-torch.js';
import { mergeCommand } from './merge.js';
import { pocketCommand } from './pocket.js';
import { sampleCommand } from './sample.js';
import { trainCommand } from './train.js';

const cli = yargs(hideBin(process.argv))
  .scriptName('edm')
  .usage('$0 <command> [options]\n\nE(3) equivariant diffusion for 3D molecules (Hoogeboom et al., ICML 2022).')
  .strict()
  .demandCommand(1, 'give a command: sample, pocket, evaluate, train, merge, import-torch')
  .help()
  .alias('h', 'help')
  .wrap(Math.min(110, process.stdout.columns ?? 100))
  .fail((msg, err) => {
    // a user's mistake (yargs reports option errors, ours included, as YError): one line and a
    // pointer to the help, never the whole help or a stack trace
    if (err && !(err instanceof UserError) && err.name !== 'YError') throw err;
    process.stderr.write(`edm: error: ${err ? err.message : msg}\n(edm --help lists the commands; edm <command> --help their options)\n`);
    process.exit(2);
  });

sampleCommand(cli);
pocketCommand(cli);
evaluateCommand(cli);
trainCommand(cli);
importTorchCommand(cli);
mergeCommand(cli);
await cli.parseAsync();
