#!/usr/bin/env node
// npm run run -w @gunyah-ts/testbed -- [options] -- <command...>
import { relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { TestbedError } from '../errors.js';
import { repoRoot } from '../paths.js';
import { prepare } from '../prepare.js';
import { RUN_TIMEOUTS, runInHost } from '../qemu.js';

const USAGE = `usage: run [options] -- <command> [args...]
       run [options] --sh '<shell command line>'
       run --shell
  Boots the arm64 testbed host, runs the command in the repository (shared at the same path),
  streams its output and exits with its exit code (124 on a timeout, 1 on a testbed failure).
  --cwd <dir>            working directory inside the host (default: where npm/you started,
                         if inside the repository, else the repository root)
  --timeout <s>          command time limit (default ${RUN_TIMEOUTS.command / 1000})
  --boot-timeout <s>     boot time limit (default ${RUN_TIMEOUTS.boot / 1000})
  --shell                interactive shell on the serial console (exit to power off)
  --sh <text>            run a shell command line instead of an argv`;

function seconds(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || n > 86_400) throw new TestbedError('BAD_ARGS', `--${name} needs a number of seconds (1..86400)`);
  return n * 1000;
}

/** --cwd, else the directory npm was started from (INIT_CWD), else ours, when inside the repository. */
function defaultCwd(flag: string | undefined): string {
  if (flag !== undefined) {
    const dir = resolve(flag);
    if (relative(repoRoot, dir).startsWith('..')) throw new TestbedError('BAD_ARGS', `--cwd ${dir} is outside the shared repository ${repoRoot}`);
    return dir;
  }
  for (const c of [process.env['INIT_CWD'], process.cwd()]) {
    if (c !== undefined && c !== '' && !relative(repoRoot, resolve(c)).startsWith('..')) return resolve(c);
  }
  return repoRoot;
}

try {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      cwd: { type: 'string' }, timeout: { type: 'string' }, 'boot-timeout': { type: 'string' },
      shell: { type: 'boolean' }, sh: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    process.stdout.write(`${USAGE}\n`);
  } else {
    const command = values.shell === true ? 'interactive' as const : values.sh !== undefined ? { shell: values.sh } : positionals;
    if (Array.isArray(command) && command.length === 0) throw new TestbedError('BAD_ARGS', `no command given\n${USAGE}`);
    // prepare is idempotent and fast when the cache is current; it also picks up addon changes
    const manifest = await prepare();
    const commandTimeoutMs = seconds(values.timeout, 'timeout');
    const bootTimeoutMs = seconds(values['boot-timeout'], 'boot-timeout');
    const r = await runInHost(manifest, {
      command,
      cwd: defaultCwd(values.cwd),
      ...(commandTimeoutMs !== undefined ? { commandTimeoutMs } : {}),
      ...(bootTimeoutMs !== undefined ? { bootTimeoutMs } : {}),
    });
    process.stderr.write(`testbed: exit ${r.exitCode} (boot ${(r.bootMs / 1000).toFixed(1)} s, command ${(r.commandMs / 1000).toFixed(1)} s, total ${(r.totalMs / 1000).toFixed(1)} s; serial log ${r.serialLog})\n`);
    process.exitCode = r.exitCode;
  }
} catch (err) {
  process.stderr.write(`testbed run failed: ${err instanceof TestbedError ? `[${err.code}] ${err.message}` : String(err)}\n`);
  process.exitCode = err instanceof TestbedError && err.code === 'TIMEOUT' ? 124 : 1;
}
