#!/usr/bin/env node
// The gunyah-fdt command: look at, check, rewrite and overlay DTBs without dtc.
import { runCli } from '../cli.js';

process.exitCode = runCli(process.argv.slice(2));
