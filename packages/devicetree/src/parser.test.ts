import { describe, expect, it } from 'vitest';
import { BEGIN, END, END_NODE, NOP, PROP, assemble, patchWord, w32 } from '../test/blob.js';
import { FdtParseError, type FdtParseErrorCode } from './errors.js';
import { parseDtb, readHeader } from './parser.js';
import { serializeDtb } from './serialize.js';
import { DeviceTree, FdtNode, FdtProperty } from './tree.js';

function expectCode(code: FdtParseErrorCode, blob: Uint8Array, opts = {}): FdtParseError {
  let caught: unknown;
  try {
    parseDtb(blob, opts);
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(FdtParseError);
  expect((caught as FdtParseError).code).toBe(code);
  return caught as FdtParseError;
}

// strings: "reg\0phandle\0" -> reg at 0, phandle at 4, "bad name" at 12
const STR = 'reg\0phandle\0bad name\0';
const ok = (): number[] => [...BEGIN(''), ...PROP(0, w32(1)), ...BEGIN('a@1'), ...PROP(4, w32(5)), ...END_NODE(), ...END_NODE(), ...END()];

describe('parseDtb: valid input', () => {
  it('parses a hand-assembled blob with NOPs and reservations', () => {
    const struct = [...NOP(), ...BEGIN(''), ...NOP(), ...PROP(0, w32(1)), ...BEGIN('a@1'), ...PROP(4, w32(5)), ...END_NODE(), ...NOP(), ...END_NODE(), ...END()];
    const t = parseDtb(assemble(struct, STR, { reservations: [[0x1000n, 0x10n]] }));
    expect(t.root.u32('reg')).toBe(1);
    expect(t.findNode('/a@1')?.phandle).toBe(5);
    expect(t.findNode('/a')?.name).toBe('a@1');
    expect(t.memReservations).toEqual([{ address: 0x1000n, size: 0x10n }]);
    expect(t.maxPhandle).toBe(5);
    expect(t.pathOfPhandle(5)).toBe('/a@1');
  });
  it('reads version 16 (no size_dt_struct) and ignores bytes past totalsize', () => {
    const blob = assemble(ok(), STR, { version: 16 });
    const longer = new Uint8Array(blob.length + 64);
    longer.set(blob);
    longer.fill(0xee, blob.length);
    expect(parseDtb(longer).findNode('/a@1')?.u32('phandle')).toBe(5);
    expect(readHeader(blob).version).toBe(16);
  });
  it('reads a future version that stays compatible with 17', () => {
    expect(parseDtb(patchWord(assemble(ok(), STR), 20, 18)).root.u32('reg')).toBe(1);
  });
  it('copies its input: later changes to the buffer do not leak into the tree', () => {
    const blob = assemble(ok(), STR);
    const t = parseDtb(blob);
    blob.fill(0);
    expect(t.root.u32('reg')).toBe(1);
  });
  it('round-trips writer -> parser -> writer', () => {
    const tree = new DeviceTree(
      new FdtNode('', [FdtProperty.u32('#address-cells', 2)], [new FdtNode('x@0', [FdtProperty.strings('compatible', 'a', 'b')])]),
      [{ address: 0x8000n, size: 0x1000n }],
      2,
    );
    const dtb = serializeDtb(tree);
    const back = parseDtb(dtb);
    expect(back.bootCpuid).toBe(2);
    expect(serializeDtb(back)).toEqual(dtb);
  });
});

describe('parseDtb: every malformed input gets a typed error', () => {
  it('TRUNCATED', () => {
    expectCode('TRUNCATED', new Uint8Array(0));
    expectCode('TRUNCATED', assemble(ok(), STR).subarray(0, 20));
    const b = assemble(ok(), STR);
    expectCode('TRUNCATED', b.subarray(0, b.length - 1));
  });
  it('BAD_MAGIC', () => expectCode('BAD_MAGIC', patchWord(assemble(ok(), STR), 0, 0xfeedd00d)));
  it('UNSUPPORTED_VERSION', () => {
    expectCode('UNSUPPORTED_VERSION', patchWord(assemble(ok(), STR), 20, 15));
    expectCode('UNSUPPORTED_VERSION', patchWord(patchWord(assemble(ok(), STR), 20, 19), 24, 18));
  });
  it('BAD_HEADER', () => {
    expectCode('BAD_HEADER', patchWord(assemble(ok(), STR), 4, 20));
    expectCode('BAD_HEADER', patchWord(patchWord(assemble(ok(), STR), 20, 16), 24, 17)); // last_comp > version
    expectCode('BAD_HEADER', assemble(ok(), STR), { maxSize: 64 });
  });
  it('BAD_BLOCK', () => {
    const b = assemble(ok(), STR);
    expectCode('BAD_BLOCK', patchWord(b, 8, 0x10000)); // struct beyond the blob
    expectCode('BAD_BLOCK', patchWord(b, 12, 8)); // strings inside the header
    expectCode('BAD_BLOCK', patchWord(b, 32, 0x1000)); // strings size past the end
    expectCode('BAD_BLOCK', patchWord(b, 16, b.length & ~7)); // reservation map past the end
    expectCode('BAD_BLOCK', patchWord(b, 12, 56 + 4)); // strings overlap the structure block
  });
  it('MISALIGNED', () => {
    const b = assemble(ok(), STR);
    expectCode('MISALIGNED', patchWord(b, 16, 44));
    expectCode('MISALIGNED', patchWord(b, 8, 58));
  });
  it('BAD_RESERVATION', () => {
    expectCode('BAD_RESERVATION', assemble(ok(), STR, { reservations: [[0x10n, 0n]] }));
    expectCode('BAD_RESERVATION', assemble(ok(), STR, { reservations: [[0xffff_ffff_ffff_fff0n, 0x20n]] }));
    expectCode('BAD_RESERVATION', assemble(ok(), STR, { reservations: [[0x10n, 0x10n], [0x18n, 1n]] }));
    expectCode('BAD_RESERVATION', assemble(ok(), STR, { reservations: [[0x10n, 0x10n]], unterminated: true }));
  });
  it('BAD_TOKEN', () => {
    expectCode('BAD_TOKEN', assemble([...BEGIN(''), ...w32(7), ...END_NODE(), ...END()], STR));
    expectCode('BAD_TOKEN', assemble([...PROP(0, w32(1)), ...END()], STR));
    expectCode('BAD_TOKEN', assemble([...END_NODE(), ...END()], STR));
    expectCode('BAD_TOKEN', assemble([...BEGIN(''), ...END_NODE(), ...BEGIN(''), ...END_NODE(), ...END()], STR));
    expectCode('BAD_TOKEN', assemble([...BEGIN(''), ...BEGIN('a'), ...END_NODE(), ...PROP(0, []), ...END_NODE(), ...END()], STR));
    expectCode('BAD_TOKEN', assemble([...BEGIN(''), ...END()], STR));
    expectCode('BAD_TOKEN', assemble([...END()], STR));
  });
  it('BAD_STRUCTURE', () => {
    expectCode('BAD_STRUCTURE', assemble([...BEGIN(''), ...END_NODE()], STR)); // no END
    expectCode('BAD_STRUCTURE', assemble([...BEGIN(''), ...w32(3, 100, 0), ...END_NODE(), ...END()], STR));
    expectCode('BAD_STRUCTURE', assemble([...w32(1), 0x61, 0x62], STR)); // unterminated name at the end
  });
  it('BAD_STRING_OFFSET', () => {
    expectCode('BAD_STRING_OFFSET', assemble([...BEGIN(''), ...PROP(500, []), ...END_NODE(), ...END()], STR));
    expectCode('BAD_STRING_OFFSET', assemble([...BEGIN(''), ...PROP(0, []), ...END_NODE(), ...END()], 'abc'));
  });
  it('BAD_NAME', () => {
    expectCode('BAD_NAME', assemble([...BEGIN(''), ...PROP(12, []), ...END_NODE(), ...END()], STR));
    expectCode('BAD_NAME', assemble([...BEGIN(''), ...BEGIN('a b'), ...END_NODE(), ...END_NODE(), ...END()], STR));
    expectCode('BAD_NAME', assemble([...BEGIN(''), ...BEGIN(''), ...END_NODE(), ...END_NODE(), ...END()], STR));
    expectCode('BAD_NAME', assemble([...BEGIN('root'), ...END_NODE(), ...END()], STR));
    expectCode('BAD_NAME', assemble([...BEGIN(''), ...BEGIN('x'.repeat(300)), ...END_NODE(), ...END_NODE(), ...END()], STR));
  });
  it('DUPLICATE_NAME', () => {
    expectCode('DUPLICATE_NAME', assemble([...BEGIN(''), ...PROP(0, []), ...PROP(0, []), ...END_NODE(), ...END()], STR));
    expectCode('DUPLICATE_NAME', assemble([...BEGIN(''), ...BEGIN('a'), ...END_NODE(), ...BEGIN('a'), ...END_NODE(), ...END_NODE(), ...END()], STR));
  });
  it('DUPLICATE_PHANDLE and BAD_PHANDLE', () => {
    const two = (x: number, y: number): number[] => [...BEGIN(''), ...BEGIN('a'), ...PROP(4, w32(x)), ...END_NODE(), ...BEGIN('b'), ...PROP(4, w32(y)), ...END_NODE(), ...END_NODE(), ...END()];
    expectCode('DUPLICATE_PHANDLE', assemble(two(3, 3), STR));
    expect(parseDtb(assemble(two(3, 4), STR)).maxPhandle).toBe(4);
    expectCode('BAD_PHANDLE', assemble(two(0, 4), STR));
    expectCode('BAD_PHANDLE', assemble(two(0xffffffff, 4), STR));
    expectCode('BAD_PHANDLE', assemble([...BEGIN(''), ...PROP(4, w32(1, 2)), ...END_NODE(), ...END()], STR));
  });
  it('TOO_DEEP', () => {
    const s: number[] = [];
    for (let i = 0; i < 10; i++) s.push(...BEGIN(i === 0 ? '' : 'n'));
    for (let i = 0; i < 10; i++) s.push(...END_NODE());
    s.push(...END());
    expect(parseDtb(assemble(s, STR)).root.children.length).toBe(1);
    const e = expectCode('TOO_DEEP', assemble(s, STR), { maxDepth: 5 });
    expect(e.offset).toBeGreaterThan(0);
  });
  it('TOO_MANY_ITEMS', () => {
    expectCode('TOO_MANY_ITEMS', assemble(ok(), STR), { maxNodes: 1 });
    expectCode('TOO_MANY_ITEMS', assemble(ok(), STR), { maxProperties: 1 });
  });
});
