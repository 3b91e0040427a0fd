import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { TestbedError } from './errors.js';
import { tail } from './exec.js';
import { runScript } from './init-scripts.js';
import type { Manifest } from './manifest.js';
import { SerialScanner } from './marker.js';
import { cacheDir, repoRoot } from './paths.js';

/** QEMU program used for the host and for the guest payload check. */
export const QEMU = 'qemu-system-aarch64';

/** Default time limits of a run, in milliseconds. */
export const RUN_TIMEOUTS = {
  /** From QEMU start until /init reports the shares mounted. */
  boot: 120_000,
  /** From ready until the command's exit marker. */
  command: 600_000,
  /** From the exit marker until QEMU has exited (then it is killed). */
  shutdown: 20_000,
  /** Interactive shell session. */
  shell: 3_600_000,
} as const;

/**
 * The host's `-cpu` model: Neoverse N1 (Armv8.2: VHE, so KVM runs at EL2 in VHE mode; no pointer
 * auth to emulate). Not `max`: under Debian's QEMU 7.2 TCG, a `max` host running nested guests on
 * both vCPUs intermittently executed stale JIT code in its Node process after V8 reused code memory
 * (SIGSEGV at non-memory instructions, V8 fatal `CodeKindCanDeoptimize`; 8 of 12 runs of
 * vmm-sample `--abi B --cpus 2`, 0 of 6 on neoverse-n1 and 0 of 5 on cortex-a72). See the README.
 */
export const HOST_CPU = 'neoverse-n1';

/**
 * QEMU arguments of the arm64 host machine: virt with EL2 (so the Debian kernel provides KVM),
 * GICv3, `-cpu` {@link HOST_CPU}, 2 vCPUs, 2 GiB, no network, no reboot (a panic or poweroff ends
 * QEMU).
 */
export function hostQemuArgs(o: {
  readonly kernel: string;
  readonly initrd: string;
  readonly append: string;
  readonly shares: readonly { readonly tag: string; readonly path: string }[];
  readonly interactive: boolean;
  readonly smp?: number;
  readonly memMiB?: number;
  /** `-cpu` model (default {@link HOST_CPU}; env `GUNYAH_TESTBED_QEMU_CPU` overrides it in runs). */
  readonly cpu?: string;
}): string[] {
  const args = [
    '-machine', 'virt,virtualization=on,gic-version=3',
    '-cpu', o.cpu ?? HOST_CPU,
    '-smp', String(o.smp ?? 2),
    '-m', String(o.memMiB ?? 2048),
    ...(o.interactive ? ['-nographic'] : ['-display', 'none', '-monitor', 'none', '-serial', 'stdio']),
    '-nic', 'none',
    '-no-reboot',
    '-kernel', o.kernel,
    '-initrd', o.initrd,
    '-append', o.append,
  ];
  for (const s of o.shares) {
    args.push('-virtfs', `local,path=${s.path.replace(/,/g, ',,')},mount_tag=${s.tag},security_model=none,multidevs=remap`);
  }
  return args;
}

/** Checks that a path can go on the kernel command line (no spaces, quotes or control characters). */
export function checkCmdlinePath(path: string): string {
  if (!path.startsWith('/') || /[\s"'\\\0-\x1f]/.test(path)) {
    throw new TestbedError('BAD_ARGS', `path "${path}" cannot be passed on the kernel command line (needs an absolute path without spaces or quotes)`);
  }
  return path;
}

/** Options for {@link runInHost}. */
export interface RunOptions {
  /** argv to run, a shell snippet, or an interactive shell. */
  readonly command: readonly string[] | { readonly shell: string } | 'interactive';
  /** Working directory inside the host (default: the repository root). */
  readonly cwd?: string;
  /** Extra environment for the command. */
  readonly env?: Readonly<Record<string, string>>;
  /** Time limits (ms); defaults in {@link RUN_TIMEOUTS}. */
  readonly bootTimeoutMs?: number;
  readonly commandTimeoutMs?: number;
  readonly shutdownTimeoutMs?: number;
  /** Where the command's output goes (default: our stdout). */
  readonly onOutput?: (text: string) => void;
  /** Progress sink (default: stderr). */
  readonly log?: (line: string) => void;
  /** Cache directory (default: packages/testbed/cache). */
  readonly cache?: string;
}

/** Outcome of {@link runInHost}: the command's exit code and where the time went. */
export interface RunResult {
  readonly exitCode: number;
  /** QEMU start → ready marker. */
  readonly bootMs: number;
  /** Ready → exit marker. */
  readonly commandMs: number;
  /** QEMU start → QEMU exit. */
  readonly totalMs: number;
  /** Full serial console log of the run. */
  readonly serialLog: string;
  /** Directory of this run's files (run.sh, serial.log, exit). */
  readonly runDir: string;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function killAll(): void {
  for (const c of live) {
    if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) {
      try {
        process.kill(c.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
}

const SIGNALS = [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const;
const signalHandlers = SIGNALS.map(([sig, code]) => [sig, (): void => {
  killAll();
  process.stderr.write(`\ntestbed: ${sig}: QEMU killed\n`);
  process.exit(code);
}] as const);

/**
 * Spawns QEMU and registers it so that it is killed (by PID) when this process exits or gets
 * SIGINT/SIGTERM/SIGHUP. The signal handlers are installed only while a QEMU is running.
 */
export function spawnQemu(args: readonly string[], interactive: boolean): ChildProcess {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', killAll);
  }
  const child = spawn(QEMU, args, { stdio: interactive ? 'inherit' : ['ignore', 'pipe', 'pipe'] });
  if (live.size === 0) for (const [sig, h] of signalHandlers) process.on(sig, h);
  live.add(child);
  const done = (): void => {
    if (!live.delete(child)) return;
    if (live.size === 0) for (const [sig, h] of signalHandlers) process.removeListener(sig, h);
  };
  child.on('exit', done);
  child.on('error', done);
  return child;
}

function newRunDir(cache: string): string {
  const runs = join(cache, 'runs');
  mkdirSync(runs, { recursive: true });
  // keep the 20 newest runs
  const old = readdirSync(runs).filter((n) => /^\d{8}T\d{6}-/.test(n)).sort();
  for (const n of old.slice(0, Math.max(0, old.length - 19))) rmSync(join(runs, n), { recursive: true, force: true });
  const id = `${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '')}-${randomBytes(3).toString('hex')}`;
  const dir = join(runs, id);
  mkdirSync(dir);
  try {
    if (existsSync(join(runs, 'latest'))) unlinkSync(join(runs, 'latest'));
    symlinkSync(id, join(runs, 'latest'));
  } catch {
    // best effort
  }
  return dir;
}

/**
 * Boots the arm64 host under QEMU, runs one command in it (in the repository, shared over 9p at
 * the same path), streams its output and returns its exit code. Every stage is bounded: boot,
 * command, shutdown. QEMU is killed by PID on timeout, on error and when this process exits or is
 * interrupted.
 *
 * @throws {TestbedError} TOOL_MISSING without QEMU, BOOT_FAILED when QEMU stops before the ready or
 *   exit marker, TIMEOUT when a stage overruns; messages end with the tail of the serial log.
 */
export async function runInHost(manifest: Manifest, opts: RunOptions): Promise<RunResult> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`testbed: ${l}\n`));
  const cache = opts.cache ?? cacheDir();
  const runDir = newRunDir(cache);
  const serialLog = join(runDir, 'serial.log');
  const exitFile = join(runDir, 'exit');
  const nonce = randomBytes(6).toString('hex');
  const interactive = opts.command === 'interactive';
  const env: Record<string, string> = {
    GUNYAH_TESTBED: '1',
    GUNYAH_TESTBED_MANIFEST: join(cache, 'manifest.json'),
    ...(process.stdout.isTTY === true ? {} : { NO_COLOR: '1' }), // the serial console is a tty: no colour codes in CI logs
    ...(manifest.addon !== null ? { GUNYAH_SYS_BINDING: manifest.addon } : {}),
    ...opts.env,
  };
  writeFileSync(join(runDir, 'run.sh'), runScript({ cwd: opts.cwd ?? repoRoot, command: opts.command, env, exitFile }));
  const cacheInRepo = !relative(repoRoot, cache).startsWith('..');
  const append = [
    'console=ttyAMA0', 'rdinit=/init', 'panic=-1', 'quiet', 'loglevel=3',
    `testbed.repo=${checkCmdlinePath(repoRoot)}`,
    ...(cacheInRepo ? [] : [`testbed.cache=${checkCmdlinePath(cache)}`]),
    `testbed.run=${checkCmdlinePath(join(runDir, 'run.sh'))}`,
    `testbed.nonce=${nonce}`,
  ].join(' ');
  const args = hostQemuArgs({
    kernel: manifest.hostKernel,
    initrd: manifest.hostInitramfs,
    append,
    shares: [{ tag: 'repo', path: repoRoot }, ...(cacheInRepo ? [] : [{ tag: 'cache', path: cache }])],
    interactive,
    ...(process.env['GUNYAH_TESTBED_QEMU_CPU'] ? { cpu: process.env['GUNYAH_TESTBED_QEMU_CPU'] } : {}),
  });
  writeFileSync(join(runDir, 'qemu-args.json'), JSON.stringify([QEMU, ...args], null, 2) + '\n');
  if (interactive) return runInteractive(args, runDir, serialLog, exitFile, log);

  const bootTimeout = opts.bootTimeoutMs ?? RUN_TIMEOUTS.boot;
  const commandTimeout = opts.commandTimeoutMs ?? RUN_TIMEOUTS.command;
  const onOutput = opts.onOutput ?? ((t: string) => process.stdout.write(t));
  const scanner = new SerialScanner(nonce);
  const t0 = Date.now();
  let tReady = 0;
  let tExit = 0;
  let exitCode: number | undefined;
  writeFileSync(serialLog, '');
  log(`booting the arm64 host (serial log: ${serialLog})`);
  const child = spawnQemu(args, false);

  return new Promise<RunResult>((resolvePromise, reject) => {
    let failure: TestbedError | undefined;
    let stderrText = '';
    const fail = (code: 'TIMEOUT' | 'BOOT_FAILED', msg: string): void => {
      if (failure !== undefined || exitCode !== undefined) return;
      failure = new TestbedError(code, msg);
      kill();
    };
    const kill = (): void => {
      if (child.pid !== undefined && child.exitCode === null) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    };
    let timer = setTimeout(() => fail('TIMEOUT', `the host did not report ready within ${bootTimeout / 1000} s`), bootTimeout);
    child.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(err.code === 'ENOENT'
        ? new TestbedError('TOOL_MISSING', `${QEMU} not found; apt-get install qemu-system-arm`, { cause: err })
        : new TestbedError('BOOT_FAILED', `starting ${QEMU}: ${err.message}`, { cause: err }));
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => {
      stderrText += d;
      appendFileSync(serialLog, d);
    });
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      appendFileSync(serialLog, chunk);
      for (const ev of scanner.push(chunk)) {
        if (ev.kind === 'ready') {
          tReady = Date.now();
          log(`host ready in ${((tReady - t0) / 1000).toFixed(1)} s; running the command`);
          clearTimeout(timer);
          timer = setTimeout(() => fail('TIMEOUT', `the command did not finish within ${commandTimeout / 1000} s`), commandTimeout);
        } else if (ev.kind === 'output') {
          onOutput(ev.text);
        } else {
          tExit = Date.now();
          exitCode = ev.code;
          clearTimeout(timer);
          timer = setTimeout(kill, opts.shutdownTimeoutMs ?? RUN_TIMEOUTS.shutdown);
        }
      }
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      for (const ev of scanner.flush()) if (ev.kind === 'output') onOutput(ev.text);
      const logTail = (): string => tail(readFileSync(serialLog, 'utf8'), 40);
      if (failure !== undefined) {
        reject(new TestbedError(failure.code, `${failure.message}; QEMU killed.\n--- serial log tail (${serialLog}) ---\n${logTail()}`));
        return;
      }
      if (exitCode === undefined && scanner.state === 'running' && existsSync(exitFile)) {
        const fromFile = Number(readFileSync(exitFile, 'utf8').trim());
        if (Number.isInteger(fromFile)) exitCode = fromFile;
      }
      if (exitCode === undefined) {
        const where = scanner.state === 'boot' ? 'before the host was ready' : 'before the command finished';
        reject(new TestbedError('BOOT_FAILED', `QEMU exited (${code ?? signal}) ${where}.${stderrText !== '' ? ` QEMU said: ${tail(stderrText, 5)}` : ''}\n--- serial log tail (${serialLog}) ---\n${logTail()}`));
        return;
      }
      const tEnd = Date.now();
      resolvePromise({
        exitCode,
        bootMs: tReady - t0,
        commandMs: (tExit || tEnd) - tReady,
        totalMs: tEnd - t0,
        serialLog,
        runDir,
      });
    });
  });
}

function runInteractive(args: readonly string[], runDir: string, serialLog: string, exitFile: string, log: (l: string) => void): Promise<RunResult> {
  log('starting an interactive shell in the arm64 host (type `exit` to power off; Ctrl-A X kills QEMU)');
  writeFileSync(serialLog, '(interactive session: the console went to the terminal)\n');
  const t0 = Date.now();
  const child = spawnQemu(args, true);
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    }, RUN_TIMEOUTS.shell);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new TestbedError('TOOL_MISSING', `${QEMU}: ${err.message}`, { cause: err }));
    });
    child.on('close', () => {
      clearTimeout(timer);
      const code = existsSync(exitFile) ? Number(readFileSync(exitFile, 'utf8').trim()) : 0;
      const total = Date.now() - t0;
      resolvePromise({ exitCode: Number.isInteger(code) ? code : 1, bootMs: 0, commandMs: total, totalMs: total, serialLog, runDir });
    });
  });
}

/** Outcome of {@link checkGuestPayload}. */
export interface GuestCheck {
  /** The `GUNYAH-GUEST-CHECK ...` line the payload printed. */
  readonly checkLine: string;
  readonly ms: number;
}

/**
 * Boots the guest payload (kernel Image + guest initramfs) directly under QEMU on the build
 * machine, waits for its OK and DONE markers and for it to power off. A sanity test of the payload
 * later tests boot inside the host.
 *
 * @throws {TestbedError} TIMEOUT or BOOT_FAILED with the console tail.
 */
export function checkGuestPayload(manifest: Manifest, timeoutMs = 90_000): Promise<GuestCheck> {
  const args = [
    '-machine', 'virt,gic-version=3', '-cpu', 'max,pauth-impdef=on', '-smp', '1', '-m', '256',
    '-display', 'none', '-monitor', 'none', '-serial', 'stdio', '-nic', 'none', '-no-reboot',
    '-kernel', manifest.guestKernel, '-initrd', manifest.guestInitramfs,
    '-append', 'console=ttyAMA0 rdinit=/init panic=-1 quiet',
  ];
  const t0 = Date.now();
  const child = spawnQemu(args, false);
  return new Promise((resolvePromise, reject) => {
    let out = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    }, timeoutMs);
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (d: string) => {
      if (out.length < 1 << 20) out += d;
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => {
      if (out.length < 1 << 20) out += d;
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new TestbedError('TOOL_MISSING', `${QEMU}: ${err.message}`, { cause: err }));
    });
    child.on('close', () => {
      clearTimeout(timer);
      const clean = out.replace(/\r/g, '');
      const check = /^GUNYAH-GUEST-CHECK .*$/m.exec(clean);
      if (!timedOut && clean.includes('GUNYAH-GUEST-OK') && clean.includes('GUNYAH-GUEST-DONE') && check !== null) {
        resolvePromise({ checkLine: check[0], ms: Date.now() - t0 });
      } else {
        reject(new TestbedError(timedOut ? 'TIMEOUT' : 'BOOT_FAILED',
          `guest payload ${timedOut ? `did not finish within ${timeoutMs / 1000} s` : 'stopped without its markers'}\n--- console tail ---\n${tail(clean, 30)}`));
      }
    });
  });
}
