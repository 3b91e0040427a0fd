#!/usr/bin/env node
/**
 * `gunyah-rm-decode`: decodes RM RPC fragments given as hex lines. See `--help`.
 *
 * @internal
 * @module
 */
import { main } from '../cli/decode.js';

process.exitCode = await main(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
