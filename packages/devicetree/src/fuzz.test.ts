import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { w32 } from '../test/blob.js';
import { FdtParseError, FdtPropertyError, OverlayError } from './errors.js';
import { toDts } from './dts.js';
import { buildGunyahVmDt } from './gunyah.js';
import { applyOverlay, buildOverlay } from './overlay.js';
import { parseDtb } from './parser.js';
import { applyRmGuestOverlay, RmDtError } from './rm.js';
import { serializeDtb } from './serialize.js';
import { DeviceTree, FdtNode, FdtProperty } from './tree.js';
import { validateGunyahVmDt } from './validate.js';

const seeds: Uint8Array[] = [
  buildGunyahVmDt().dtb,
  buildGunyahVmDt({ vcpus: 3, virtioMmio: [{ address: 0xa000000n, spi: 5 }], chosen: { initrd: { start: 0x84000000n, end: 0x84800000n } } }).dtb,
  serializeDtb(new DeviceTree(new FdtNode('', [FdtProperty.u32('a', 1)], [new FdtNode('b@1', [FdtProperty.u32('phandle', 1)])]), [{ address: 0x1000n, size: 0x10n }])),
];

/** Whatever parses must also serialize, print, validate and round-trip. */
function checkAccepted(tree: DeviceTree): void {
  const again = serializeDtb(tree);
  expect(serializeDtb(parseDtb(again))).toEqual(again);
  expect(typeof toDts(tree)).toBe('string');
  expect(Array.isArray(validateGunyahVmDt(tree))).toBe(true);
  // The RM model either refuses the tree with a typed error or produces a valid guest DT.
  try {
    const guest = applyRmGuestOverlay(tree, { vmid: 1, ownerVmid: 3, memory: [{ base: 0x8000_0000n, size: 0x100_0000n }], kaslrSeed: 1n });
    parseDtb(serializeDtb(guest));
  } catch (e) {
    if (!(e instanceof RmDtError) && !(e instanceof OverlayError)) throw e;
  }
}

function parseOrTypedError(blob: Uint8Array): boolean {
  let tree: DeviceTree;
  try {
    tree = parseDtb(blob);
  } catch (e) {
    if (!(e instanceof FdtParseError)) throw e;
    return false;
  }
  checkAccepted(tree);
  return true;
}

function mutate(seed: Uint8Array, muts: readonly Mutation[]): Uint8Array {
  let b = new Uint8Array(seed);
  for (const m of muts) {
    const at = m.at % Math.max(b.length, 1);
    if (m.kind === 'byte') b[at] = m.value;
    else if (m.kind === 'word') {
      const a = at & ~3;
      if (a + 4 <= b.length) new DataView(b.buffer).setUint32(a, m.value >>> 0, false);
    } else if (m.kind === 'cut') b = b.subarray(0, at);
    else {
      const a = at & ~3;
      const n = new Uint8Array(b.length + 4);
      n.set(b.subarray(0, a));
      new DataView(n.buffer).setUint32(a, m.value, false);
      n.set(b.subarray(a), a + 4);
      b = n;
    }
  }
  return b;
}

interface Mutation {
  readonly kind: 'byte' | 'word' | 'cut' | 'insert';
  readonly at: number;
  readonly value: number;
}
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('byte' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('word' as const), at: fc.nat(), value: fc.constantFrom(0, 1, 2, 3, 4, 9, 0xffffffff, 0x7fffffff, 40) }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat(), value: fc.constant(0) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), value: fc.constantFrom(1, 2, 3, 4, 9) }),
);

describe('parser fuzzing: typed error or success, never a crash or hang', { timeout: 120_000 }, () => {
  it('random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), (b) => {
        parseOrTypedError(b);
      }), { numRuns: 3000 });
  });

  it('random bodies behind a plausible header', () => {
    const header = fc.record({
      structOff: fc.integer({ min: 0, max: 120 }),
      stringsOff: fc.integer({ min: 0, max: 300 }),
      rsvOff: fc.constantFrom(0, 40, 48, 44),
      version: fc.constantFrom(16, 17, 18),
      stringsSize: fc.integer({ min: 0, max: 200 }),
      structSize: fc.integer({ min: 0, max: 300 }),
    });
    const words = fc.array(fc.oneof(fc.constantFrom(1, 2, 3, 4, 9, 0), fc.integer({ min: 0, max: 0xffffffff })), { maxLength: 80 });
    fc.assert(
      fc.property(header, words, (h, body) => {
        const rest = w32(...body);
        const total = 40 + rest.length;
        const blob = new Uint8Array([
          ...w32(0xd00dfeed, total, h.structOff, h.stringsOff, h.rsvOff, h.version, 16, 0, h.stringsSize, h.structSize),
          ...rest,
        ]);
        parseOrTypedError(blob);
      }),
      { numRuns: 3000 },
    );
  });

  it('mutated valid DTBs (byte flips, word overwrites, truncation, insertion)', () => {
    let accepted = 0;
    let runs = 0;
    fc.assert(
      fc.property(fc.nat({ max: seeds.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 4 }), (si, muts) => {
        runs++;
        if (parseOrTypedError(mutate(seeds[si] as Uint8Array, muts))) accepted++;
      }),
      { numRuns: 4000 },
    );
    // Both outcomes must be exercised: some mutants parse (value bytes), many do not.
    expect(accepted).toBeGreaterThan(runs / 20);
    expect(accepted).toBeLessThan(runs);
  });

  it('mutated DTBOs: parse and apply give a valid tree or a typed error', () => {
    const P = FdtProperty;
    const N = (name: string, props: FdtProperty[] = [], kids: FdtNode[] = []): FdtNode => new FdtNode(name, props, kids);
    const base = new DeviceTree(
      N('', [], [
        N('chosen'),
        N('soc', [P.u32('phandle', 2)], [N('intc@1', [P.u32('phandle', 1)])]),
        N('__symbols__', [P.strings('soc', '/soc'), P.strings('intc', '/soc/intc@1')]),
      ]),
    );
    const dtbo = serializeDtb(
      new DeviceTree(
        N('', [], [
          N('fragment@0', [P.u32('target', 0xffffffff)], [N('__overlay__', [P.strings('status', 'okay')], [N('clk', [P.u32('phandle', 1)]), N('dev', [P.u32('clocks', 1, 0xffffffff)])])]),
          N('fragment@1', [P.strings('target-path', '/chosen')], [N('__overlay__', [P.u64('kaslr-seed', 1n)])]),
          N('__symbols__', [P.strings('clk', '/fragment@0/__overlay__/clk')]),
          N('__fixups__', [P.strings('soc', '/fragment@0:target:0'), P.strings('intc', '/fragment@0/__overlay__/dev:clocks:4')]),
          N('__local_fixups__', [], [N('fragment@0', [], [N('__overlay__', [], [N('dev', [P.u32('clocks', 0)])])])]),
        ]),
      ),
    );
    expect(applyOverlay(base, parseDtb(dtbo)).findNode('/soc/dev')?.property('clocks')?.asU32Array()).toEqual([3, 1]);
    let applied = 0;
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 3 }), (muts) => {
        let ov: DeviceTree;
        try {
          ov = parseDtb(mutate(dtbo, muts));
        } catch (e) {
          if (!(e instanceof FdtParseError)) throw e;
          return;
        }
        try {
          checkAccepted(applyOverlay(base, ov));
          applied++;
        } catch (e) {
          if (!(e instanceof OverlayError)) throw e;
        }
      }),
      { numRuns: 3000 },
    );
    expect(applied).toBeGreaterThan(0);
  });

  it('typed accessors on arbitrary bytes: value or FdtPropertyError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), fc.integer({ min: 0, max: 5 }), (b, cells) => {
        const p = new FdtProperty('x', b);
        for (const f of [() => p.asU32(), () => p.asU64(), () => p.asU32Array(), () => p.asU64Array(), () => p.asString(), () => p.asStringList(), () => p.asCellNumbers(cells)]) {
          try {
            f();
          } catch (e) {
            expect(e).toBeInstanceOf(FdtPropertyError);
          }
        }
      }),
      { numRuns: 1000 },
    );
  });
});

// Random valid trees: names from the spec's character sets.
const nodeName = fc
  .tuple(fc.stringMatching(/^[a-z][a-z0-9,._+-]{0,6}$/), fc.option(fc.stringMatching(/^[0-9a-f]{1,4}$/), { nil: undefined }))
  .map(([n, u]) => (u === undefined ? n : `${n}@${u}`));
const propName = fc.stringMatching(/^[a-z#][a-z0-9,._+?#-]{0,8}$/).filter((n) => n !== 'phandle' && n !== 'linux,phandle');
const prop = fc.tuple(propName, fc.uint8Array({ maxLength: 24 })).map(([n, v]) => new FdtProperty(n, v));
const uniqBy = <T>(xs: T[], key: (x: T) => string): T[] => {
  const seen = new Set<string>();
  return xs.filter((x) => (seen.has(key(x)) ? false : (seen.add(key(x)), true)));
};
function nodeAt(depth: number): fc.Arbitrary<FdtNode> {
  const kids = depth <= 0 ? fc.constant<FdtNode[]>([]) : fc.array(nodeAt(depth - 1), { maxLength: 3 });
  return fc.tuple(nodeName, fc.array(prop, { maxLength: 5 }), kids).map(([n, ps, cs]) => new FdtNode(n, uniqBy(ps, (p) => p.name), uniqBy(cs, (c) => c.name)));
}
const nodeArb = nodeAt(3);
const treeArb = fc
  .tuple(fc.array(prop, { maxLength: 4 }), fc.array(nodeArb, { maxLength: 4 }), fc.nat({ max: 7 }))
  .map(([ps, cs, cpu]) => new DeviceTree(new FdtNode('', uniqBy(ps, (p) => p.name), uniqBy(cs, (c) => c.name)), [], cpu));

function same(a: FdtNode, b: FdtNode): void {
  expect(b.name).toBe(a.name);
  expect(b.properties.map((p) => [p.name, Array.from(p.value)])).toEqual(a.properties.map((p) => [p.name, Array.from(p.value)]));
  expect(b.children.length).toBe(a.children.length);
  a.children.forEach((c, i) => same(c, b.children[i] as FdtNode));
}

describe('writer ⇄ parser round trip on random trees', { timeout: 120_000 }, () => {
  it('parse(serialize(t)) equals t and re-serializes to the same bytes', () => {
    fc.assert(
      fc.property(treeArb, (t) => {
        const dtb = serializeDtb(t);
        const back = parseDtb(dtb);
        same(t.root, back.root);
        expect(back.bootCpuid).toBe(t.bootCpuid);
        expect(serializeDtb(back)).toEqual(dtb);
      }),
      { numRuns: 500 },
    );
  });

  it('overlays built from random trees apply or fail with OverlayError', () => {
    const base = parseDtb(seeds[0] as Uint8Array);
    const target = fc.constantFrom('/chosen', '/cpus', '/', '/nope', 1, 99, '/gunyah-vm-config/vdevices');
    fc.assert(
      fc.property(fc.array(fc.tuple(target, nodeArb), { maxLength: 3 }), (frags) => {
        try {
          const out = applyOverlay(base, buildOverlay(frags.map(([t, node]) => ({ target: t, node }))));
          checkAccepted(out);
        } catch (e) {
          if (!(e instanceof OverlayError)) throw e;
        }
      }),
      { numRuns: 300 },
    );
  });
});
