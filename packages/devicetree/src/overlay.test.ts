import { describe, expect, it } from 'vitest';
import { OverlayError, type OverlayErrorCode } from './errors.js';
import { applyOverlay, buildOverlay } from './overlay.js';
import { DeviceTree, FdtNode, FdtProperty } from './tree.js';

const P = FdtProperty;
const N = (name: string, props: FdtProperty[] = [], kids: FdtNode[] = []): FdtNode => new FdtNode(name, props, kids);

// base: /soc (phandle 2) { intc@1 (phandle 1) }, symbols for both, /chosen.
const base = new DeviceTree(
  N('', [P.u32('#address-cells', 1)], [
    N('chosen', [P.strings('bootargs', 'x')]),
    N('soc', [P.u32('phandle', 2)], [N('intc@1', [P.empty('interrupt-controller'), P.u32('phandle', 1)])]),
    N('__symbols__', [P.strings('soc', '/soc'), P.strings('intc', '/soc/intc@1')]),
  ]),
);

// An overlay as dtc -@ builds it: a fragment on &soc adding clk (own phandle 1) and a user of
// both &clk (local) and &intc (external).
function dtbo(extra: { fixups?: FdtNode; local?: FdtNode; frag?: FdtNode; symbols?: FdtNode } = {}): DeviceTree {
  const frag =
    extra.frag ??
    N('fragment@0', [P.u32('target', 0xffffffff)], [
      N('__overlay__', [P.strings('status', 'okay')], [
        N('clk', [P.u32('phandle', 1)]),
        N('dev', [P.u32('clocks', 1, 0xffffffff)]),
      ]),
    ]);
  return new DeviceTree(
    N('', [], [
      frag,
      extra.symbols ?? N('__symbols__', [P.strings('clk', '/fragment@0/__overlay__/clk')]),
      extra.fixups ?? N('__fixups__', [P.strings('soc', '/fragment@0:target:0'), P.strings('intc', '/fragment@0/__overlay__/dev:clocks:4')]),
      extra.local ?? N('__local_fixups__', [], [N('fragment@0', [], [N('__overlay__', [], [N('dev', [P.u32('clocks', 0)])])])]),
    ]),
  );
}

function expectCode(code: OverlayErrorCode, fn: () => unknown): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(OverlayError);
  expect((caught as OverlayError).code).toBe(code);
}

describe('applyOverlay', () => {
  it('renumbers phandles, resolves fixups, merges in libfdt order and exports symbols', () => {
    const out = applyOverlay(base, dtbo());
    const soc = out.findNode('/soc');
    // New property inserted first; new children before existing ones, in reverse order.
    expect(soc?.properties.map((p) => p.name)).toEqual(['status', 'phandle']);
    expect(soc?.children.map((c) => c.name)).toEqual(['dev', 'clk', 'intc@1']);
    expect(out.findNode('/soc/clk')?.phandle).toBe(3); // 1 + max base phandle 2
    expect(out.findNode('/soc/dev')?.property('clocks')?.asU32Array()).toEqual([3, 1]);
    expect(out.findNode('/__symbols__')?.string('clk')).toBe('/soc/clk');
    expect(out.root.child('fragment@0')).toBeUndefined();
    // inputs untouched
    expect(base.findNode('/soc')?.children.length).toBe(1);
  });

  it('applies programmatic overlays by path and phandle', () => {
    const ov = buildOverlay([
      { target: '/chosen', node: N('', [P.u64('kaslr-seed', 42n), P.strings('bootargs', 'y')]) },
      { target: 1, node: N('', [P.u32('#interrupt-cells', 3)], [N('sub', [P.u32('phandle', 1)])]) },
    ]);
    const out = applyOverlay(base, ov);
    expect(out.findNode('/chosen')?.properties.map((p) => p.name)).toEqual(['kaslr-seed', 'bootargs']);
    expect(out.findNode('/chosen')?.string('bootargs')).toBe('y');
    expect(out.findNode('/soc/intc@1')?.u32('#interrupt-cells')).toBe(3);
    expect(out.findNode('/soc/intc@1/sub')?.phandle).toBe(3);
    expect(out.findNode('/__symbols__')?.properties.length).toBe(2); // no overlay symbols
  });

  it('symbols on a fragment root and on the tree root follow libfdt path rules', () => {
    const ov = new DeviceTree(
      N('', [], [
        N('fragment@0', [P.strings('target-path', '/')], [N('__overlay__', [], [N('n')])]),
        N('fragment@1', [P.strings('target-path', '/chosen')], [N('__overlay__')]),
        N('other', [], [N('x')]),
        N('__symbols__', [
          P.strings('a', '/fragment@0/__overlay__/n'),
          P.strings('b', '/fragment@1/__overlay__'),
          P.strings('c', '/other/x'),
          P.strings('d', '/top'),
        ]),
      ]),
    );
    const out = applyOverlay(new DeviceTree(N('', [], [N('chosen')])), ov);
    const sym = out.root.children[0];
    expect(sym?.name).toBe('__symbols__'); // created first among the root's children
    expect(sym?.string('a')).toBe('/n');
    expect(sym?.string('b')).toBe('/chosen/'); // libfdt appends '/' to a non-root target
    expect(sym?.has('c')).toBe(false);
    expect(sym?.has('d')).toBe(false);
  });

  it('typed errors', () => {
    const frag = (props: FdtProperty[]): FdtNode => N('fragment@0', props, [N('__overlay__')]);
    const plain = (f: FdtNode): DeviceTree => new DeviceTree(N('', [], [f]));
    expectCode('MISSING_TARGET', () => applyOverlay(base, plain(frag([]))));
    expectCode('TARGET_NOT_FOUND', () => applyOverlay(base, plain(frag([P.u32('target', 77)]))));
    expectCode('TARGET_NOT_FOUND', () => applyOverlay(base, plain(frag([P.strings('target-path', '/nope')]))));
    expectCode('BAD_TARGET', () => applyOverlay(base, plain(frag([P.u64('target', 1n)]))));
    expectCode('BAD_TARGET', () => applyOverlay(base, plain(frag([P.u32('target', 0)]))));
    expectCode('BAD_TARGET', () => applyOverlay(base, plain(frag([P.u32('target-path', 1)]))));
    const noSyms = new DeviceTree(N('', [], [N('soc', [P.u32('phandle', 2)])]));
    expectCode('NO_SYMBOLS', () => applyOverlay(noSyms, dtbo()));
    expectCode('UNRESOLVED_SYMBOL', () => applyOverlay(base, dtbo({ fixups: N('__fixups__', [P.strings('nolabel', '/fragment@0:target:0')]) })));
    for (const bad of ['/fragment@0:target', '/fragment@0::0', ':target:0', '/fragment@0:target:x', '/fragment@0:target:8', '/nowhere:target:0', '/fragment@0:nope:0']) {
      expectCode('BAD_FIXUP', () => applyOverlay(base, dtbo({ fixups: N('__fixups__', [P.strings('soc', bad)]) })));
    }
    expectCode('BAD_FIXUP', () => applyOverlay(base, dtbo({ fixups: N('__fixups__', [P.u32('soc', 1)]) })));
    expectCode('BAD_LOCAL_FIXUP', () => applyOverlay(base, dtbo({ local: N('__local_fixups__', [], [N('fragment@9')]) })));
    expectCode('BAD_LOCAL_FIXUP', () =>
      applyOverlay(base, dtbo({ local: N('__local_fixups__', [], [N('fragment@0', [], [N('__overlay__', [], [N('dev', [P.u32('clocks', 8)])])])]) })),
    );
    expectCode('BAD_LOCAL_FIXUP', () =>
      applyOverlay(base, dtbo({ local: N('__local_fixups__', [], [N('fragment@0', [], [N('__overlay__', [], [N('dev', [P.u32('nope', 0)])])])]) })),
    );
    const big = new DeviceTree(N('', [], [N('a', [P.u32('phandle', 0xfffffff0)])]));
    expectCode('PHANDLE_OVERFLOW', () => applyOverlay(big, buildOverlay([{ target: '/a', node: N('', [], [N('b', [P.u32('phandle', 0x20)])]) }])));
    expectCode('BAD_OVERLAY', () => applyOverlay(base, buildOverlay([{ target: '/soc', node: N('', [P.u64('phandle', 1n)]) }])));
    expectCode('BAD_SYMBOL', () => applyOverlay(base, dtbo({ symbols: N('__symbols__', [P.strings('x', 'relative')]) })));
    expectCode('BAD_SYMBOL', () => applyOverlay(base, dtbo({ symbols: N('__symbols__', [P.strings('x', '/fragment@5/__overlay__/a')]) })));
  });
});
