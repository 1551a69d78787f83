#!/usr/bin/env node
/**
 * The `edm` command line: a thin yargs layer over the library API.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { evaluateCommand } from './evaluate.js';
import { importTorchCommand } from './import-torch.js';
import { sampleCommand } from './sample.js';
import { trainCommand } from './train.js';

const cli = yargs(hideBin(process.argv))
  .scriptName('edm')
  .usage('$0 <command> [options]\n\nE(3) equivariant diffusion for 3D molecules (Hoogeboom et al., ICML 2022).')
  .strict()
  .demandCommand(1, 'give a command: sample, evaluate, train, import-torch')
  .help()
  .alias('h', 'help')
  .wrap(Math.min(110, process.stdout.columns ?? 100))
  .fail((msg, err, y) => {
    if (err) throw err;
    process.stderr.write(`${y.help()}\n\nedm: error: ${msg}\n`);
    process.exit(2);
  });

sampleCommand(cli);
evaluateCommand(cli);
trainCommand(cli);
importTorchCommand(cli);
await cli.parseAsync();
