/**
 * Worker threads for the pools that spread sampling and training over the cores. A worker runs
 * the compiled module beside its pool; when the library runs from its TypeScript sources (tests
 * and scripts under tsx), the worker first registers tsx's loader, which worker threads do not
 * inherit from the main thread in Node.js 20.
 */
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';

/**
 * Start the worker module `name` (without extension) that sits beside `beside`.
 * @param beside `import.meta.url` of the pool starting it
 * @param workerData what the worker reads from `workerData`
 */
export function startWorker(beside: string, name: string, workerData: unknown): Worker {
  const ext = fileURLToPath(beside).endsWith('.ts') ? 'ts' : 'js';
  const url = new URL(`./${name}.${ext}`, beside);
  if (ext === 'js') return new Worker(url, { workerData });
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import { register } from ${JSON.stringify(tsx)}; register(); await import(${JSON.stringify(url.href)});`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(boot)}`), { workerData });
}
