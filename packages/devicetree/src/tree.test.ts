import { describe, expect, it } from 'vitest';
import { FdtPropertyError } from './errors.js';
import { formatValue, toDts } from './dts.js';
import { DeviceTree, FdtNode, FdtProperty } from './tree.js';

const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(FdtPropertyError);
    return (e as FdtPropertyError).code;
  }
  return undefined;
};

describe('FdtProperty accessors', () => {
  it('reads typed values', () => {
    expect(FdtProperty.u32('a', 1, 0xffffffff).asU32Array()).toEqual([1, 0xffffffff]);
    expect(FdtProperty.u64('a', 0x1_2345_6789n).asU64()).toBe(0x1_2345_6789n);
    expect(FdtProperty.strings('a', 'x', 'yz').asStringList()).toEqual(['x', 'yz']);
    expect(FdtProperty.strings('a', 'x').asString()).toBe('x');
    expect(FdtProperty.u32('reg', 0, 0x8000_0000, 0, 0x1000).asCellNumbers(2)).toEqual([0x8000_0000n, 0x1000n]);
    expect(FdtProperty.empty('e').isEmpty).toBe(true);
  });
  it('refuses values of the wrong shape with typed codes', () => {
    expect(code(() => FdtProperty.u64('a', 1n).asU32())).toBe('BAD_LENGTH');
    expect(code(() => FdtProperty.u32('a', 1).asU64())).toBe('BAD_LENGTH');
    expect(code(() => new FdtProperty('a', new Uint8Array(3)).asU32Array())).toBe('BAD_LENGTH');
    expect(code(() => new FdtProperty('a', new Uint8Array(12)).asU64Array())).toBe('BAD_LENGTH');
    expect(code(() => FdtProperty.u32('a', 1, 2, 3).asCellNumbers(2))).toBe('BAD_LENGTH');
    expect(code(() => FdtProperty.u32('a', 1).asCellNumbers(0))).toBe('BAD_LENGTH');
    expect(code(() => new FdtProperty('a', new Uint8Array([0x61])).asString())).toBe('NOT_A_STRING');
    expect(code(() => new FdtProperty('a', new Uint8Array([0xff, 0])).asString())).toBe('NOT_A_STRING');
    expect(code(() => FdtProperty.empty('a').asStringList())).toBe('NOT_A_STRING');
    expect(code(() => FdtProperty.strings('a', 'x', 'y').asString())).toBe('NOT_A_STRING');
    expect(code(() => new FdtNode('n').u32('missing'))).toBe('MISSING');
  });
});

describe('FdtNode and DeviceTree', () => {
  const tree = new DeviceTree(
    new FdtNode('', [], [
      new FdtNode('aliases', [FdtProperty.strings('serial0', '/soc/uart@10')]),
      new FdtNode('soc', [], [new FdtNode('uart@10', [FdtProperty.u32('phandle', 4)], [new FdtNode('x')])]),
    ]),
  );
  it('finds nodes by path, base name and alias', () => {
    expect(tree.findNode('/soc/uart@10')?.phandle).toBe(4);
    expect(tree.findNode('/soc/uart')?.name).toBe('uart@10');
    expect(tree.findNode('serial0/x')?.name).toBe('x');
    expect(tree.findNode('serial0')?.name).toBe('uart@10');
    expect(tree.findNode('nothing')).toBeUndefined();
    expect(tree.findNode('/soc/uart@11')).toBeUndefined();
    expect(tree.nodeByPhandle(4)?.name).toBe('uart@10');
    expect([...tree.walk()].map((e) => e.path)).toEqual(['/', '/aliases', '/soc', '/soc/uart@10', '/soc/uart@10/x']);
  });
  it('updates immutably', () => {
    const t2 = tree.update('/soc/uart@10', (n) => n.withProperty(FdtProperty.strings('status', 'okay')).withoutChild('x'));
    expect(t2?.findNode('/soc/uart@10')?.string('status')).toBe('okay');
    expect(t2?.findNode('/soc/uart@10/x')).toBeUndefined();
    expect(tree.findNode('/soc/uart@10')?.has('status')).toBe(false);
    expect(tree.update('/missing', (n) => n)).toBeUndefined();
    const n = new FdtNode('a', [FdtProperty.u32('p', 1)]);
    expect(n.withProperty(FdtProperty.u32('p', 2)).u32('p')).toBe(2);
    expect(n.withoutProperty('p').has('p')).toBe(false);
    expect(n.withoutProperty('q')).toBe(n);
    expect(n.withChild(new FdtNode('c')).withChild(new FdtNode('c', [FdtProperty.empty('e')])).children.length).toBe(1);
    expect(new FdtNode('x@1,2').unitAddress).toBe('1,2');
    expect(new FdtNode('x').unitAddress).toBeUndefined();
  });
});

describe('DTS printer', () => {
  it('guesses strings, cells and bytes like dtc', () => {
    expect(formatValue(FdtProperty.strings('c', 'a,b', 'c'))).toBe('"a,b", "c"');
    expect(formatValue(FdtProperty.strings('c', 'q"\\\t\n'))).toBe('"q\\"\\\\\\t\\n"');
    expect(formatValue(FdtProperty.u32('r', 0, 0x10))).toBe('<0x0 0x10>');
    expect(formatValue(new FdtProperty('b', new Uint8Array([1, 0xab, 0])))).toBe('[01 ab 00]');
    expect(formatValue(new FdtProperty('b', new Uint8Array([0x61, 0, 0, 0])))).toBe('<0x61000000>'); // empty string inside: not text
    expect(formatValue(FdtProperty.empty('e'))).toBe('');
  });
  it('prints a tree', () => {
    const t = new DeviceTree(
      new FdtNode('', [FdtProperty.u32('#size-cells', 1)], [new FdtNode('a', [FdtProperty.empty('b')]), new FdtNode('c@1')]),
      [{ address: 0x1000n, size: 0x20n }],
    );
    expect(toDts(t)).toBe(
      ['/dts-v1/;', '', '/memreserve/ 0x1000 0x20;', '', '/ {', '\t#size-cells = <0x1>;', '', '\ta {', '\t\tb;', '\t};', '', '\tc@1 {', '\t};', '};', ''].join('\n'),
    );
  });
});
