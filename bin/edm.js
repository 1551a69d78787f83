#!/usr/bin/env node
// The `edm` command: the compiled CLI (npm's prepare step builds dist/ with tsc).
import '../dist/cli/main.js';
