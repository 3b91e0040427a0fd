import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { FdtError, FdtParseError, OverlayError } from './errors.js';
import { applyOverlay } from './overlay.js';
import { parseDtb } from './parser.js';
import { serializeDtb } from './serialize.js';
import { toDts } from './dts.js';
import { validateGunyahVmDt } from './validate.js';

/** Where {@link runCli} writes (injectable for tests). */
export interface CliIo {
  /** Standard output. */
  readonly out: (text: string) => void;
  /** Standard error. */
  readonly err: (text: string) => void;
}

const USAGE = `usage: gunyah-fdt <command> [options]

commands:
  dts FILE.dtb                         print the tree as DTS text
  check FILE.dtb [--gunyah]            validate (with --gunyah also the Gunyah VM rules)
  rewrite IN.dtb OUT.dtb               parse and re-serialize
  apply BASE.dtb OVERLAY.dtbo OUT.dtb  apply an overlay

options:
  -h, --help                           show this help
`;

const ARITY: Record<string, number> = { dts: 1, check: 1, rewrite: 2, apply: 3 };

function describe(e: unknown): string | undefined {
  if (e instanceof FdtParseError) return `${e.code}${e.offset >= 0 ? ` at offset ${e.offset}` : ''}: ${e.message}`;
  if (e instanceof FdtError || e instanceof OverlayError) return `${e.code}: ${e.message}`;
  if (e instanceof Error && 'code' in e && typeof e.code === 'string' && 'path' in e) return `${e.code}: ${e.message}`;
  return undefined;
}

/**
 * Runs the `gunyah-fdt` command line: `dts`, `check`, `rewrite`, `apply`.
 * @param argv - arguments after the program name.
 * @param io - output sinks (default: process stdout/stderr).
 * @returns the exit code: 0 success, 1 invalid input (with the typed error's code printed),
 *   2 bad usage.
 */
export function runCli(
  argv: readonly string[],
  io: CliIo = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) },
): number {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: { help: { type: 'boolean', short: 'h' }, gunyah: { type: 'boolean' } },
    });
  } catch (e) {
    io.err(`gunyah-fdt: ${e instanceof Error ? e.message : String(e)} (try --help)\n`);
    return 2;
  }
  if (parsed.values.help === true) {
    io.out(USAGE);
    return 0;
  }
  const [cmd, ...files] = parsed.positionals;
  if (cmd === undefined) {
    io.err('gunyah-fdt: missing command (try --help)\n');
    return 2;
  }
  const arity = ARITY[cmd];
  if (arity === undefined) {
    io.err(`gunyah-fdt: unknown command '${cmd}' (try --help)\n`);
    return 2;
  }
  if (files.length !== arity) {
    io.err(`gunyah-fdt: ${cmd} takes ${arity} file argument${arity > 1 ? 's' : ''}, got ${files.length} (try --help)\n`);
    return 2;
  }
  if (parsed.values.gunyah === true && cmd !== 'check') {
    io.err('gunyah-fdt: --gunyah only applies to check (try --help)\n');
    return 2;
  }
  const f = files as string[];
  let current = f[0] as string;
  try {
    const load = (p: string) => {
      current = p;
      return parseDtb(readFileSync(p));
    };
    switch (cmd) {
      case 'dts':
        io.out(toDts(load(f[0] as string)));
        return 0;
      case 'check': {
        const tree = load(f[0] as string);
        // Re-serializing applies every writer rule too.
        serializeDtb(tree);
        if (parsed.values.gunyah === true) {
          const v = validateGunyahVmDt(tree);
          for (const x of v) io.err(`${x.severity} ${x.rule} ${x.path}: ${x.message}\n`);
          if (v.some((x) => x.severity === 'error')) return 1;
        }
        io.out(`${f[0]}: ok\n`);
        return 0;
      }
      case 'rewrite': {
        const out = serializeDtb(load(f[0] as string));
        current = f[1] as string;
        writeFileSync(f[1] as string, out);
        return 0;
      }
      default: {
        const base = load(f[0] as string);
        const ov = load(f[1] as string);
        const out = serializeDtb(applyOverlay(base, ov));
        current = f[2] as string;
        writeFileSync(f[2] as string, out);
        return 0;
      }
    }
  } catch (e) {
    const typed = describe(e);
    if (typed !== undefined) {
      io.err(`gunyah-fdt: ${current}: ${typed}\n`);
      return 1;
    }
    if (e instanceof Error && 'code' in e && typeof e.code === 'string' && 'syscall' in e) {
      io.err(`gunyah-fdt: ${current}: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}
