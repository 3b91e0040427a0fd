/**
 * The `gunyah-rm-decode` command: reads RM fragments as hex, one per line, reassembles them and
 * prints one JSON object per message or per malformed frame.
 *
 * @internal
 * @module
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { lookupMessage } from '../catalogue.js';
import { RM_AUTH, RM_EXIT_TYPE, RM_OS_STATUS, RM_VM_STATUS } from '../constants.js';
import { RmProtocolError, hex32, rmErrorName, rmErrorToErrno } from '../errors.js';
import { RmReassembler, type RmMessage } from '../framing.js';

/** @internal */
export const USAGE = `Usage: gunyah-rm-decode [options] [file]

Decodes Gunyah Resource Manager RPC fragments. Input: one fragment per line as hex (spaces and
colons between bytes are ignored; empty lines and lines starting with # are skipped), from the
file, or from stdin when the file is omitted or "-". Output: one JSON object per line — a
reassembled message (type, seq, msgId, name, decoded payload, RM error for replies) or an error
for a malformed frame. 64-bit values and byte strings are printed as hex strings.

Options:
  --linux        reassemble like the Linux driver (a mismatched continuation aborts the
                 message; seq is not compared) instead of like the RM
  --strict       exit with status 1 when any error line was printed
  -h, --help     show this help and exit
`;

/** @internal */
export interface CliIo {
  readonly stdin: Readable;
  readonly stdout: Writable;
  readonly stderr: Writable;
}

/** JSON replacer: bigint → "0x…", bytes → hex string. */
function replacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return `0x${value.toString(16)}`;
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  return value;
}

const ENUM_FIELDS: Record<string, Record<string, number>> = {
  vmStatus: RM_VM_STATUS,
  osStatus: RM_OS_STATUS,
  exitType: RM_EXIT_TYPE,
  authMechanism: RM_AUTH,
};

/** Adds `<field>Name` next to known enum fields (vmStatus → vmStatusName, …). */
function annotate(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || value instanceof Uint8Array || Array.isArray(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    out[key] = v;
    const table = ENUM_FIELDS[key];
    if (table !== undefined && typeof v === 'number') {
      out[`${key}Name`] = Object.entries(table).find(([, n]) => n === v)?.[0] ?? null;
    }
  }
  return out;
}

/** @internal Parses one input line into bytes; `null` for lines to skip. */
export function parseHexLine(line: string): Uint8Array | null {
  const text = line.trim();
  if (text === '' || text.startsWith('#')) return null;
  const clean = text.replace(/^0x/i, '').replace(/[\s:]/g, '');
  if (!/^([0-9a-fA-F]{2})+$/.test(clean)) {
    throw new RmCliInputError(`not an even-length hex string: ${JSON.stringify(text.slice(0, 40))}`);
  }
  return Uint8Array.from(Buffer.from(clean, 'hex'));
}

/** @internal */
export class RmCliInputError extends Error {
  override readonly name = 'RmCliInputError';
  readonly code = 'INVALID_HEX';
}

/** @internal Describes one reassembled message as a plain object ready for JSON. */
export function describeMessage(message: RmMessage): Record<string, unknown> {
  const def = lookupMessage(message.msgId);
  const out: Record<string, unknown> = {
    type: message.type,
    seq: message.seq,
    msgId: hex32(message.msgId),
    name: def?.name ?? null,
  };
  let data = message.payload;
  let codec = null;
  if (message.type === 'reply') {
    if (data.byteLength < 4) {
      out.error = { name: 'RmProtocolError', code: 'REPLY_TOO_SHORT', message: `reply of ${data.byteLength} bytes has no error code` };
      out.payloadHex = data;
      return out;
    }
    const code = new DataView(data.buffer, data.byteOffset, 4).getUint32(0, true);
    data = data.subarray(4);
    out.rmError = rmErrorName(code);
    out.rmErrorCode = hex32(code);
    if (code !== 0) {
      out.errno = rmErrorToErrno(code).name;
      out.extraHex = data;
      return out;
    }
    if (def?.kind === 'request') codec = def.reply;
  } else if (message.type === 'request') {
    if (def?.kind === 'request') codec = def.request;
  } else if (def?.kind === 'notification') {
    codec = def.payload;
  }
  if (codec === null) {
    out.payloadHex = data;
    return out;
  }
  try {
    out.payload = annotate(codec.decode(data));
  } catch (error) {
    const e = error as RmProtocolError;
    out.payloadHex = data;
    out.error = { name: e.name, code: e.code, message: e.message };
  }
  return out;
}

function errorLine(line: number, error: { name: string; code: string; message: string }): string {
  return JSON.stringify({ line, error: { name: error.name, code: error.code, message: error.message } });
}

/**
 * @internal Decodes every line of `lines`, writing one JSON line per message or error.
 * Returns the number of error lines.
 */
export async function decodeLines(lines: AsyncIterable<string>, write: (line: string) => void, linux = false): Promise<number> {
  const r = new RmReassembler(linux ? { onMismatch: 'abort-message', checkSeq: false } : {});
  let lineNo = 0;
  let errors = 0;
  let startLine = 0; // line of the first fragment of the message being reassembled
  for await (const line of lines) {
    lineNo += 1;
    let bytes: Uint8Array | null;
    try {
      bytes = parseHexLine(line);
    } catch (error) {
      errors += 1;
      write(errorLine(lineNo, error as RmCliInputError));
      continue;
    }
    if (bytes === null) continue;
    const isFirst = bytes.byteLength >= 2 && ((bytes[1] as number) & 3) !== 0;
    const { message, rejected, aborted } = r.push(bytes);
    if (aborted !== null) {
      errors += 1;
      write(errorLine(startLine, aborted.reason));
    }
    if (rejected !== null) {
      errors += 1;
      write(errorLine(lineNo, rejected));
    } else if (isFirst) {
      startLine = lineNo;
    }
    if (message !== null) {
      const described = describeMessage(message);
      if (described.error !== undefined) errors += 1;
      write(JSON.stringify({ line: startLine, ...described }, replacer));
    }
  }
  if (r.inProgress) {
    errors += 1;
    write(errorLine(startLine, new RmProtocolError('MESSAGE_ABORTED', 'input ended inside a multi-fragment message')));
  }
  return errors;
}

/**
 * @internal Runs the command; resolves with the exit status (0 ok, 1 input problem or `--strict`
 * with errors, 2 bad usage).
 */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        linux: { type: 'boolean' },
        strict: { type: 'boolean' },
      },
    });
  } catch (error) {
    const first = (error as Error).message.split('\n')[0] ?? 'bad usage';
    io.stderr.write(`gunyah-rm-decode: ${first.split('. ')[0] ?? first} (try --help)\n`);
    return 2;
  }
  if (parsed.values.help === true) {
    io.stdout.write(USAGE);
    return 0;
  }
  if (parsed.positionals.length > 1) {
    io.stderr.write('gunyah-rm-decode: expected at most one input file (try --help)\n');
    return 2;
  }
  const file = parsed.positionals[0];
  const input = file === undefined || file === '-' ? io.stdin : createReadStream(file);
  const opened = new Promise<void>((resolve, reject) => {
    if (input === io.stdin) resolve();
    else input.once('open', () => resolve()).once('error', reject);
  });
  try {
    await opened;
  } catch (error) {
    io.stderr.write(`gunyah-rm-decode: cannot read ${file ?? 'stdin'}: ${(error as Error).message}\n`);
    return 1;
  }
  const lines = createInterface({ input, crlfDelay: Infinity });
  const errors = await decodeLines(lines, (line) => io.stdout.write(`${line}\n`), parsed.values.linux === true);
  return parsed.values.strict === true && errors > 0 ? 1 : 0;
}
