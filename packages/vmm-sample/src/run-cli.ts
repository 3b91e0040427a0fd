/**
 * The body of the `vmm-sample` command, as a function (the bin is two lines around it; tests call
 * it with their own streams and an injected backend).
 *
 * @module
 */
import type { Writable } from 'node:stream';
import { ConfigError, USAGE, parseCommandLine } from './config.js';
import { formatPlan } from './plan.js';
import { EXIT_STATUS, Vmm, VmmError, dryRunPlan, type VmmDeps } from './vmm.js';

/** Error classes of the lower layers the CLI reports as bad input (by `name`, to avoid loading them eagerly). */
const BAD_INPUT_ERRORS = new Set(['ImageLoadError', 'LayoutError', 'CmdlineError', 'FdtParseError', 'FdtError', 'GunyahDtConfigError', 'RmDtError', 'GuestMemoryError']);

/** What {@link describeError} returns. */
export interface ErrorReport {
  /** The exit status. */
  readonly code: number;
  /** One line (no newline) for the user. */
  readonly message: string;
}

/**
 * The exit status and the one line to print for an error thrown by `Vmm.create`, `run` or the
 * parser: `ConfigError` → 2 (`NO_BACKEND` → 3); image, layout and devicetree errors → 2;
 * `VmmError` and errno errors from the driver → 4; anything else is unexpected → 4 with its name.
 *
 * @example
 * ```ts
 * describeError(new ConfigError('MISSING_KERNEL', 'no kernel given')); // { code: 2, message: 'no kernel given' }
 * ```
 */
export function describeError(e: unknown): ErrorReport {
  if (e instanceof ConfigError) return { code: e.code === 'NO_BACKEND' ? EXIT_STATUS.noBackend : EXIT_STATUS.usage, message: e.message };
  if (e instanceof VmmError) return { code: EXIT_STATUS.crash, message: e.message };
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    const tag = typeof code === 'string' ? ` [${code}]` : '';
    if (BAD_INPUT_ERRORS.has(e.name)) return { code: EXIT_STATUS.usage, message: `${e.message}${tag}` };
    if (e.name === 'ErrnoError') return { code: EXIT_STATUS.crash, message: `${e.message}${tag}` };
    return { code: EXIT_STATUS.crash, message: `unexpected ${e.name}: ${e.message}` };
  }
  return { code: EXIT_STATUS.crash, message: `unexpected error: ${String(e)}` };
}

/** Streams and hooks of {@link runVmmCli}. */
export interface VmmCliOptions {
  /** Printed by `--version`. */
  readonly version: string;
  /** Help, version and `--dry-run` output (default `process.stdout`). */
  readonly out?: Writable;
  /** Error and status lines (default `process.stderr`). */
  readonly err?: Writable;
  /** Passed to `Vmm.create` (tests inject a fake binding and console streams). */
  readonly deps?: VmmDeps;
}

/**
 * Run `vmm-sample` with `argv` (no `node`/script): returns the exit status.
 *
 * @example
 * ```ts
 * process.exitCode = await runVmmCli(process.argv.slice(2), { version: '0.1.0' });
 * ```
 */
export async function runVmmCli(argv: readonly string[], options: VmmCliOptions): Promise<number> {
  const out = options.out ?? process.stdout;
  const err = options.err ?? process.stderr;
  const line = (text: string): void => {
    err.write(`vmm-sample: ${text.replace(/\s*\n\s*/g, ' ')}\n`);
  };
  let quiet = false;
  try {
    const cl = parseCommandLine(argv);
    if (cl.kind === 'help') {
      out.write(USAGE);
      return 0;
    }
    if (cl.kind === 'version') {
      out.write(`vmm-sample ${options.version}\n`);
      return 0;
    }
    const config = cl.config;
    quiet = config.verbosity === 'quiet';
    if (config.dryRun) {
      const plan = await dryRunPlan(config);
      out.write(formatPlan(plan));
      if (config.abi === 'auto') out.write(`# planned for variant ${plan.variant}; pass --abi A|B|C for another variant\n`);
      return 0;
    }
    const vmm = await Vmm.create(config, { log: line, ...options.deps });
    const exit = await vmm.run();
    if (!quiet || exit.code !== 0) line(exit.message);
    return exit.code;
  } catch (e) {
    const d = describeError(e);
    line(d.message);
    return d.code;
  }
}
