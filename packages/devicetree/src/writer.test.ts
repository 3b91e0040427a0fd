import { describe, expect, it } from 'vitest';
import { FdtError, type FdtErrorCode } from './errors.js';
import { parseDtb } from './parser.js';
import { FdtWriter } from './writer.js';

function words(...w: number[]): number[] {
  const out: number[] = [];
  for (const x of w) out.push((x >>> 24) & 0xff, (x >>> 16) & 0xff, (x >>> 8) & 0xff, x & 0xff);
  return out;
}
const ascii = (s: string): number[] => Array.from(s, (c) => c.charCodeAt(0));

function golden(): Uint8Array {
  const w = new FdtWriter({ memReservations: [{ address: 0x1000n, size: 0x2000n }], bootCpuid: 3 });
  const root = w.beginNode('');
  w.propertyString('compatible', 'a');
  const n = w.beginNode('n@1');
  w.propertyU32('linux,phandle', 1);
  w.propertyPhandle(1);
  w.endNode(n);
  w.endNode(root);
  return w.finish();
}

describe('FdtWriter golden bytes', () => {
  it('writes header, reservation map, structure and strings exactly', () => {
    const expected = [
      // header (40 bytes)
      ...words(0xd00dfeed), //       magic
      ...words(173), //              totalsize = 148 + 25
      ...words(72), //               off_dt_struct = 40 + 2 * 16
      ...words(148), //              off_dt_strings = 72 + 76
      ...words(40), //               off_mem_rsvmap (right after the header, 8-aligned)
      ...words(17), //               version
      ...words(16), //               last_comp_version
      ...words(3), //                boot_cpuid_phys
      ...words(25), //               size_dt_strings
      ...words(76), //               size_dt_struct
      // memory reservation map @40
      ...words(0, 0x1000), //        address (u64)
      ...words(0, 0x2000), //        size (u64)
      ...words(0, 0), //             terminator address
      ...words(0, 0), //             terminator size
      // structure block @72
      ...words(1), //                FDT_BEGIN_NODE
      ...words(0), //                root name "" padded to 4
      ...words(3), //                FDT_PROP
      ...words(2), //                len = 2
      ...words(0), //                nameoff 0 -> "compatible"
      ...[0x61, 0, 0, 0], //         "a\0" + pad
      ...words(1), //                FDT_BEGIN_NODE
      ...ascii('n@1'), 0, //         "n@1\0"
      ...words(3), //                FDT_PROP
      ...words(4), //                len = 4
      ...words(11), //               nameoff 11 -> "linux,phandle"
      ...words(1), //                value 1
      ...words(3), //                FDT_PROP
      ...words(4), //                len = 4
      ...words(17), //               nameoff 17 = 11 + 6 -> "phandle" (suffix of "linux,phandle")
      ...words(1), //                value 1
      ...words(2), //                FDT_END_NODE (n@1)
      ...words(2), //                FDT_END_NODE (root)
      ...words(9), //                FDT_END
      // strings block @148
      ...ascii('compatible'), 0, //  offset 0
      ...ascii('linux,phandle'), 0, // offset 11
    ];
    expect(Array.from(golden())).toEqual(expected);
  });

  it('dedups repeated names and round-trips through the parser', () => {
    const w = new FdtWriter();
    const r = w.beginNode('');
    w.propertyU32('reg', 1);
    const a = w.beginNode('a');
    w.propertyU32('reg', 2);
    w.propertyU64('big', 0x1_0000_0002n);
    w.propertyArrayU32('cells', [1, 2, 3]);
    w.propertyArrayU64('wide', [1n, 0xffff_ffff_ffff_ffffn]);
    w.propertyStringList('compatible', ['x,y', 'z']);
    w.propertyEmpty('flag');
    w.propertyBytes('raw', new Uint8Array([1, 2, 3]));
    w.endNode(a);
    w.endNode(r);
    const dtb = w.finish();
    const v = new DataView(dtb.buffer);
    // "reg\0big\0cells\0wide\0compatible\0flag\0raw\0": reg stored once.
    expect(v.getUint32(32, false)).toBe(4 + 4 + 6 + 5 + 11 + 5 + 4);
    const t = parseDtb(dtb);
    const n = t.findNode('/a');
    expect(n?.u32('reg')).toBe(2);
    expect(n?.u64('big')).toBe(0x1_0000_0002n);
    expect(n?.property('cells')?.asU32Array()).toEqual([1, 2, 3]);
    expect(n?.property('wide')?.asU64Array()).toEqual([1n, 0xffff_ffff_ffff_ffffn]);
    expect(n?.stringList('compatible')).toEqual(['x,y', 'z']);
    expect(n?.property('flag')?.isEmpty).toBe(true);
    expect(Array.from(n?.property('raw')?.value ?? [])).toEqual([1, 2, 3]);
  });
});

function expectCode(code: FdtErrorCode, fn: () => unknown): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(FdtError);
  expect((caught as FdtError).code).toBe(code);
}

describe('FdtWriter misuse', () => {
  const open = (): FdtWriter => {
    const w = new FdtWriter();
    w.beginNode('');
    return w;
  };
  it('PROPERTY_OUTSIDE_NODE', () => expectCode('PROPERTY_OUTSIDE_NODE', () => new FdtWriter().propertyU32('a', 1)));
  it('PROPERTY_AFTER_NODE', () => {
    const w = open();
    w.endNode(w.beginNode('c'));
    expectCode('PROPERTY_AFTER_NODE', () => w.propertyEmpty('late'));
  });
  it.each(['', 'a/b', '@1', 'a@1@2', 'sp ace', 'x'.repeat(256), 'é'])('INVALID_NODE_NAME %j', (name) => {
    expectCode('INVALID_NODE_NAME', () => open().beginNode(name));
  });
  it('INVALID_NODE_NAME for a named root', () => expectCode('INVALID_NODE_NAME', () => new FdtWriter().beginNode('root')));
  it.each(['', 'a b', 'a@b', 'a/b', 'ü'])('INVALID_PROPERTY_NAME %j', (name) => {
    expectCode('INVALID_PROPERTY_NAME', () => open().propertyEmpty(name));
  });
  it('INVALID_STRING', () => expectCode('INVALID_STRING', () => open().propertyString('s', 'a\0b')));
  it.each([-1, 2 ** 32, 1.5, Number.NaN])('VALUE_OUT_OF_RANGE u32 %d', (v) => {
    expectCode('VALUE_OUT_OF_RANGE', () => open().propertyU32('v', v));
  });
  it.each([-1n, 1n << 64n])('VALUE_OUT_OF_RANGE u64 %d', (v) => expectCode('VALUE_OUT_OF_RANGE', () => open().propertyU64('v', v)));
  it('VALUE_OUT_OF_RANGE for an unsafe number', () => expectCode('VALUE_OUT_OF_RANGE', () => open().propertyU64('v', 2 ** 60)));
  it('VALUE_OUT_OF_RANGE boot cpu', () => expectCode('VALUE_OUT_OF_RANGE', () => new FdtWriter({ bootCpuid: -1 })));
  it('DUPLICATE_PROPERTY', () => {
    const w = open();
    w.propertyU32('a', 1);
    expectCode('DUPLICATE_PROPERTY', () => w.propertyU32('a', 2));
  });
  it('DUPLICATE_NODE', () => {
    const w = open();
    w.endNode(w.beginNode('c@1'));
    expectCode('DUPLICATE_NODE', () => w.beginNode('c@1'));
  });
  it('UNBALANCED_NODE: wrong handle, and no open node', () => {
    const w = new FdtWriter();
    const r = w.beginNode('');
    w.beginNode('c');
    expectCode('UNBALANCED_NODE', () => w.endNode(r));
    const w2 = new FdtWriter();
    const r2 = w2.beginNode('');
    w2.endNode(r2);
    expectCode('UNBALANCED_NODE', () => w2.endNode(r2));
  });
  it('UNCLOSED_NODE', () => expectCode('UNCLOSED_NODE', () => open().finish()));
  it('MULTIPLE_ROOTS', () => {
    const w = new FdtWriter();
    w.endNode(w.beginNode(''));
    expectCode('MULTIPLE_ROOTS', () => w.beginNode(''));
  });
  it('EMPTY_TREE', () => expectCode('EMPTY_TREE', () => new FdtWriter().finish()));
  it('DUPLICATE_PHANDLE', () => {
    const w = open();
    const a = w.beginNode('a');
    w.propertyPhandle(7);
    w.endNode(a);
    w.beginNode('b');
    expectCode('DUPLICATE_PHANDLE', () => w.propertyU32('linux,phandle', 7));
  });
  it.each([0, 0xffffffff, -3])('INVALID_PHANDLE %d', (v) => expectCode('INVALID_PHANDLE', () => open().propertyPhandle(v)));
  it('INVALID_PHANDLE: wrong size or disagreeing pair', () => {
    expectCode('INVALID_PHANDLE', () => open().propertyU64('phandle', 1n));
    const w = open();
    w.propertyU32('phandle', 1);
    expectCode('INVALID_PHANDLE', () => w.propertyU32('linux,phandle', 2));
  });
  it('OVERLAPPING_RESERVATIONS', () => {
    expectCode(
      'OVERLAPPING_RESERVATIONS',
      () => new FdtWriter({ memReservations: [{ address: 0x1000n, size: 0x1000n }, { address: 0x1fffn, size: 1n }] }),
    );
    const w = new FdtWriter();
    w.addMemReservation(0x1000n, 0x1000n);
    w.addMemReservation(0x2000n, 0x1000n); // adjacent is fine
    expectCode('OVERLAPPING_RESERVATIONS', () => w.addMemReservation(0x0n, 0x1001n));
  });
  it('INVALID_RESERVATION', () => {
    expectCode('INVALID_RESERVATION', () => new FdtWriter().addMemReservation(0n, 0n));
    expectCode('INVALID_RESERVATION', () => new FdtWriter().addMemReservation(0xffff_ffff_ffff_f000n, 0x2000n));
    expectCode('INVALID_RESERVATION', () => new FdtWriter().addMemReservation(-1n, 1n));
  });
  it('MAX_DEPTH', () => {
    const w = new FdtWriter({ maxDepth: 3 });
    w.beginNode('');
    w.beginNode('a');
    w.beginNode('b');
    expectCode('MAX_DEPTH', () => w.beginNode('c'));
  });
  it('TOO_LARGE', () => {
    const w = new FdtWriter({ maxSize: 200 });
    w.beginNode('');
    expectCode('TOO_LARGE', () => w.propertyBytes('big', new Uint8Array(200)));
  });
  it('FINISHED', () => {
    const w = new FdtWriter();
    w.endNode(w.beginNode(''));
    w.finish();
    expectCode('FINISHED', () => w.finish());
    expectCode('FINISHED', () => w.beginNode('x'));
  });
});
