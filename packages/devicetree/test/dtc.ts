// Runs Debian's dtc / fdtoverlay for cross-checks; tests skip when they are not installed.
import { spawnSync } from 'node:child_process';

function has(tool: string): boolean {
  const r = spawnSync(tool, ['--version'], { encoding: 'utf8' });
  return r.status === 0 || (r.error === undefined && r.status !== null);
}

/** Whether `dtc` runs here. */
export const hasDtc = has('dtc');
/** Whether `fdtoverlay` runs here. */
export const hasFdtoverlay = spawnSync('fdtoverlay', ['--help'], { encoding: 'utf8' }).error === undefined;
/** Skip message. */
export const NO_DTC = 'dtc/fdtoverlay not installed (apt-get install device-tree-compiler): skipping cross-checks';

/** Result of one tool run. */
export interface ToolResult {
  readonly status: number | null;
  readonly stdout: Buffer;
  readonly stderr: string;
}

/** Runs a tool with optional stdin. */
export function tool(cmd: string, args: readonly string[], input?: Uint8Array | string): ToolResult {
  const r = spawnSync(cmd, args, { input, maxBuffer: 64 * 1024 * 1024 });
  if (r.error !== undefined) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString('utf8') };
}

/** dtc, failing loudly when it exits non-zero. */
export function dtc(args: readonly string[], input?: Uint8Array | string): ToolResult {
  const r = tool('dtc', args, input);
  if (r.status !== 0) throw new Error(`dtc ${args.join(' ')} failed: ${r.stderr}`);
  return r;
}

/** dtc's decompilation of a DTB (warnings suppressed). */
export function decompile(dtb: Uint8Array): string {
  return dtc(['-q', '-I', 'dtb', '-O', 'dts', '-'], dtb).stdout.toString('utf8');
}

/** dtc's compilation of DTS text. */
export function compile(dts: string, extra: readonly string[] = []): Uint8Array {
  return new Uint8Array(dtc(['-q', ...extra, '-I', 'dts', '-O', 'dtb', '-'], dts).stdout);
}
