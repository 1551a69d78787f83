/**
 * `edm web [--port 8080]`: serve the built browser page (npm run build:web) on this machine,
 * cross-origin isolated so its WebAssembly runs on several threads.
 */
import { join } from 'node:path';
import type { Argv } from 'yargs';
import { PACKAGE_ROOT } from '../index.js';
import { integerOption, serveWebPage } from '../cli-support.js';
import { defineCommand, numberFlag, textFlag, userPath } from './common.js';

/** Register the command. */
export const webCommand = (y: Argv): Argv =>
  defineCommand(y, 'web', 'serve the browser page (generate, show and score molecules on the visitor\'s machine); build it first with npm run build:web', (a) =>
      a.options({
        port: numberFlag('--port', 'TCP port on localhost (0: any free port)', 8080),
        dir: textFlag('the built page', 'web/dist in the package'),
      }),
    async (argv) => {
      const port = integerOption('--port', argv.port!, 0, 65535);
      const dir = argv.dir ? userPath(argv.dir) : join(PACKAGE_ROOT, 'web', 'dist');
      const server = await serveWebPage(dir, port);
      process.stdout.write(`edm web: serving ${dir} at ${server.url} (cross-origin isolated: multi-threaded WebAssembly); Ctrl-C stops\n`);
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.stdout.write('edm web: stopped\n');
          void server.close().then(resolve);
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    },
  );
