import { existsSync } from 'node:fs';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeLines, main, parseHexLine } from './decode.js';

async function run(argv: string[], input = ''): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  const code = await main(argv, { stdin: Readable.from([input]), stdout, stderr });
  return { code, out, err };
}

const lines = (out: string): Record<string, unknown>[] =>
  out
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

// spec §8 vectors 10 (fragmented MEM_SHARE) and 12 (fragmented GET_HYP_RESOURCES reply)
const SHARE0 =
  '210503001300005100000000000000000200000080000600030007000d000000000000000900000000100000000000000020000009000000001000000000000000400000090000000010000000000000006000000900000000100000000000000080000009000000001000000000000000a0000009000000001000000000000000c0000009000000001000000000000000e000000900000000100000000000000000010009000000001000000000000000200100090000000010000000000000004001000900000000100000000000000060010009000000001000000000000000800100090000000010000000000000';
const SHARE1 = '210403001300005100000000';

describe('gunyah-rm-decode', () => {
  it('prints one JSON object per message with names, error names and hex bigints', async () => {
    const input = [
      '21 01 0000 01000056 0000 0000',
      '21020000010000560000000080000000',
      '',
      '# a comment',
      '210205000400005614000000',
      SHARE0,
      SHARE1,
      '2103110001001056800007000400000000000000',
      '2101040034000056800000000000000000000080000000000010000000000000',
    ].join('\n');
    const { code, out } = await run([], input);
    expect(code).toBe(0);
    const [alloc, allocReply, startErr, share, exited, layout] = lines(out);
    expect(alloc).toEqual({ line: 1, type: 'request', seq: 0, msgId: '0x56000001', name: 'VM_ALLOC_VMID', payload: { vmid: 0 } });
    expect(allocReply).toMatchObject({ type: 'reply', rmError: 'OK', rmErrorCode: '0x00000000', payload: { vmid: 0x80 } });
    expect(startErr).toMatchObject({ line: 5, name: 'VM_START', rmError: 'VM_STATE', errno: 'EBADMSG' });
    expect(share).toMatchObject({ line: 6, name: 'MEM_SHARE', seq: 3 });
    const sharePayload = share?.payload as { sgl: { address: string; size: string }[]; acl: unknown[] };
    expect(sharePayload.sgl).toHaveLength(13);
    expect(sharePayload.sgl[12]).toEqual({ address: '0x900018000', size: '0x1000' });
    expect(sharePayload.acl).toEqual([{ vmid: 0x80, rights: 6 }, { vmid: 3, rights: 7 }]);
    expect(exited).toMatchObject({ name: 'VM_EXITED', payload: { exitType: 7, exitTypeName: 'VM_STOP_FORCED', reason: [0] } });
    expect(layout).toMatchObject({ name: 'VM_SET_ADDRESS_LAYOUT', payload: { base: '0x80000000', size: '0x1000' } });
  });

  it('prints a typed error line for each malformed frame and carries on', async () => {
    const input = ['zz', '2201000001000056', '21fd000001000056', SHARE1, SHARE0, '210101000400005600', SHARE0].join('\n');
    const { code, out } = await run(['--strict'], input);
    expect(code).toBe(1);
    expect(lines(out).map((l) => [l.line, (l.error as { code?: string } | undefined)?.code ?? l.name])).toEqual([
      [1, 'INVALID_HEX'],
      [2, 'BAD_API_VERSION'],
      [3, 'TOO_MANY_FRAGMENTS'],
      [4, 'STRAY_CONTINUATION'],
      [5, 'MESSAGE_ABORTED'], // the MEM_SHARE of line 5 was interrupted by line 6
      [6, 'PAYLOAD_TRUNCATED'], // VM_START with a 1-byte payload
      [7, 'MESSAGE_ABORTED'], // input ended inside the MEM_SHARE of line 7
    ]);
    const bad = lines(out)[5];
    expect(bad).toMatchObject({ name: 'VM_START', payloadHex: '00' });
  });

  it('shows unknown IDs and undecodable payloads as hex', async () => {
    const { out } = await run([], '2101000077000056aabbccdd\n2102000077000056 00000000 ee');
    expect(lines(out)).toEqual([
      { line: 1, type: 'request', seq: 0, msgId: '0x56000077', name: null, payloadHex: 'aabbccdd' },
      { line: 2, type: 'reply', seq: 0, msgId: '0x56000077', name: null, rmError: 'OK', rmErrorCode: '0x00000000', payloadHex: 'ee' },
    ]);
  });

  it('--linux reassembles like Linux: a continuation with another seq is accepted', async () => {
    const changed = `${SHARE1.slice(0, 4)}0400${SHARE1.slice(8)}`;
    expect(lines((await run([], `${SHARE0}\n${changed}`)).out).map((l) => (l.error as { code: string }).code)).toEqual([
      'SEQ_MISMATCH',
      'MESSAGE_ABORTED',
    ]);
    expect(lines((await run(['--linux'], `${SHARE0}\n${changed}`)).out)[0]).toMatchObject({ name: 'MEM_SHARE' });
  });

  it('reads a file argument; a missing file is exit 1 with one line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rm-decode-'));
    const file = join(dir, 'trace.hex');
    writeFileSync(file, '2101000024000056\n');
    const ok = await run([file]);
    expect(lines(ok.out)[0]).toMatchObject({ name: 'VM_GET_VMID', payload: {} });
    const missing = await run([join(dir, 'nope.hex')]);
    expect(missing.code).toBe(1);
    expect(missing.err.trim().split('\n')).toHaveLength(1);
  });

  it('bad usage: one clear line on stderr and exit 2; --help exits 0', async () => {
    for (const argv of [['--bogus'], ['a', 'b']]) {
      const r = await run(argv);
      expect(r.code).toBe(2);
      expect(r.err.trim().split('\n')).toHaveLength(1);
      expect(r.err).toMatch(/^gunyah-rm-decode: .*\(try --help\)\n$/);
      expect(r.out).toBe('');
    }
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.out).toContain('Usage: gunyah-rm-decode');
  });

  it('parseHexLine accepts separators and 0x, rejects odd or non-hex text (fast-check)', () => {
    expect(parseHexLine(' 0x21:01 00 ')).toEqual(Uint8Array.of(0x21, 0x01, 0x00));
    expect(parseHexLine('   ')).toBeNull();
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (text) => {
        try {
          const r = parseHexLine(text);
          expect(r === null || r instanceof Uint8Array).toBe(true);
        } catch (e) {
          expect(e).toMatchObject({ code: 'INVALID_HEX' });
        }
      }),
    );
  });

  it('never throws on random hex lines (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 250 }), { maxLength: 20 }), async (frames) => {
        const out: string[] = [];
        async function* gen(): AsyncGenerator<string> {
          for (const f of frames) yield Buffer.from(f).toString('hex');
        }
        await decodeLines(gen(), (l) => out.push(l));
        for (const l of out) expect(() => JSON.parse(l) as unknown).not.toThrow();
      }),
      { numRuns: 100 },
    );
  });

  const bin = fileURLToPath(new URL('../../dist/bin/gunyah-rm-decode.js', import.meta.url));
  it.skipIf(!existsSync(bin))('the built bin runs (needs `npx tsc -b`)', () => {
    const r = spawnSync(process.execPath, [bin], { input: '2101000024000056\n', encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ name: 'VM_GET_VMID' });
    const bad = spawnSync(process.execPath, [bin, '--nope'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
  });
});
