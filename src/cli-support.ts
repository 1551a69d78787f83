/**
 * What the command line needs beyond the library (src/index.ts): option checks, progress bars,
 * report files, the run folder's checks, the pocket tables and the web server. Its own entry, so
 * that the library's API is what a library user needs.
 */
export { integerOption, numberOption, optionalInteger, optionalNumber, shown, printable } from './options.js';
export { OutcomeSpool } from './report/outcome-spool.js';
export { startProgress, type Progress, type ProgressOptions, type ProgressPayload } from './report/progress.js';
export { checkRun, removeRun } from './train/setup.js';
export { parseShard } from './generate/shard.js';
export { writeReportFiles } from './report/files.js';
export { serveWebPage, ISOLATION_HEADERS, type WebServer } from './web/serve.js';
export { writeTrainingReport } from './train/report.js';
export { formatPocketReport, formatLigandTable, complexPdb, pocketTotals, pocketSummary, ligandTable, ligandNote, type PocketTotals, type TextTable } from './pocket/report.js';
export { importDatasetInfo } from './checkpoint/import-info.js';
