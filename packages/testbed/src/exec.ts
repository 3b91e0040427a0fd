import { spawn } from 'node:child_process';
import { TestbedError } from './errors.js';

/** Options for {@link execBounded}. */
export interface ExecOptions {
  /** Time limit in milliseconds; the whole process group is killed when it passes. */
  readonly timeoutMs: number;
  /** Working directory. */
  readonly cwd?: string;
  /** Extra environment variables (merged over `process.env`). */
  readonly env?: Readonly<Record<string, string>>;
  /** Stream the child's output to our stderr (progress) instead of only capturing it. */
  readonly echo?: boolean;
  /** Label for error messages; defaults to the program name. */
  readonly what?: string;
}

/** Result of a successful {@link execBounded} call. */
export interface ExecResult {
  readonly stdout: string;
  readonly stderr: string;
}

const MAX_CAPTURE = 4 * 1024 * 1024;

/**
 * Runs `program args` with a hard time limit and returns its output.
 *
 * @throws {TestbedError} TOOL_MISSING when the program does not exist, TIMEOUT when the limit passes
 *   (the process group is killed), COMMAND_FAILED on a non-zero exit (message ends with the output tail).
 */
export function execBounded(program: string, args: readonly string[], opts: ExecOptions): Promise<ExecResult> {
  const what = opts.what ?? program;
  return new Promise((resolvePromise, reject) => {
    const child = spawn(program, args, {
      cwd: opts.cwd,
      env: opts.env === undefined ? process.env : { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // own process group, so a timeout kills grandchildren too
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      if (stdout.length < MAX_CAPTURE) stdout += d;
      if (opts.echo === true) process.stderr.write(d);
    });
    child.stderr.on('data', (d: string) => {
      if (stderr.length < MAX_CAPTURE) stderr += d;
      if (opts.echo === true) process.stderr.write(d);
    });
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid);
    }, opts.timeoutMs);
    const cleanup = (): void => killGroup(child.pid);
    process.once('exit', cleanup);
    child.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      process.removeListener('exit', cleanup);
      if (err.code === 'ENOENT') {
        reject(new TestbedError('TOOL_MISSING', `${what}: program "${program}" not found; install it (see packages/testbed/README.md)`, { cause: err }));
      } else {
        reject(new TestbedError('COMMAND_FAILED', `${what}: ${err.message}`, { cause: err }));
      }
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      process.removeListener('exit', cleanup);
      if (timedOut) {
        reject(new TestbedError('TIMEOUT', `${what}: no result after ${Math.round(opts.timeoutMs / 1000)} s; killed.\n${tail(stdout + stderr)}`));
      } else if (code !== 0) {
        reject(new TestbedError('COMMAND_FAILED', `${what}: exited with ${code ?? signal}.\n${tail(stdout + stderr)}`));
      } else {
        resolvePromise({ stdout, stderr });
      }
    });
  });
}

/** Sends SIGKILL to a process group started with `detached: true`; ignores groups already gone. */
export function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already exited
  }
}

/** Last `lines` lines of a text, for error messages. */
export function tail(text: string, lines = 30): string {
  const all = text.replace(/\r/g, '').split('\n');
  while (all.length > 0 && all[all.length - 1] === '') all.pop();
  return all.slice(-lines).join('\n');
}
