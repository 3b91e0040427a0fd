#!/usr/bin/env node
/**
 * `vmm-sample`: a thin shell around {@link Vmm}. Parses the command line, creates and runs the VMM,
 * and turns every expected failure into one `vmm-sample: …` line and the documented exit status.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { runVmmCli } from '../run-cli.js';

// A reader that went away (`vmm-sample --dry-run | head`) is not an error of ours: drop the output.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code !== 'EPIPE') throw e;
});
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
const code = await runVmmCli(process.argv.slice(2), { version: pkg.version });
process.exitCode = code;
// Worker threads and stdin are released by the VMM; do not wait for stray handles of a dead guest.
setTimeout(() => process.exit(code), 2000).unref();
