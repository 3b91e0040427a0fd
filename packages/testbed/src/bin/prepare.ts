#!/usr/bin/env node
// npm run prepare-testbed -w @gunyah-ts/testbed [-- --refresh] [--skip-addon]
import { parseArgs } from 'node:util';
import { TestbedError } from '../errors.js';
import { prepare, prepareQemuBundle } from '../prepare.js';

const USAGE = `usage: prepare [--refresh] [--skip-addon] [--qemu-bundle]
  Builds or reuses the arm64 testbed in packages/testbed/cache (see README.md).
  --refresh     re-read the Debian package lists and rebuild
  --skip-addon  do not cross-build the @gunyah-ts/sys addon
  --qemu-bundle also extract Debian's arm64 qemu-system-aarch64 and its libraries to
                cache/qemu-arm64 (for the virtio-blk benchmark; about 38 MB of packages)`;

try {
  const { values } = parseArgs({ options: { refresh: { type: 'boolean' }, 'skip-addon': { type: 'boolean' }, 'qemu-bundle': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help === true) {
    process.stdout.write(`${USAGE}\n`);
  } else {
    await prepare({ refresh: values.refresh === true, skipAddon: values['skip-addon'] === true });
    if (values['qemu-bundle'] === true) await prepareQemuBundle();
  }
} catch (err) {
  process.stderr.write(`testbed prepare failed: ${err instanceof TestbedError ? `[${err.code}] ${err.message}` : String(err)}\n`);
  process.exitCode = 1;
}
