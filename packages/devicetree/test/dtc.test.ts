// Cross-checks against Debian's dtc and fdtoverlay (device-tree-compiler). Skipped when absent.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DeviceTree,
  FdtNode,
  FdtProperty,
  FdtWriter,
  applyOverlay,
  applyRmGuestOverlay,
  buildRmGuestOverlay,
  buildGunyahVmDt,
  parseDtb,
  serializeDtb,
  toDts,
  validateGunyahVmDt,
} from '../src/index.js';
import { NO_DTC, compile, decompile, dtc, hasDtc, hasFdtoverlay, tool } from './dtc.js';

const fixtures = new URL('./fixtures/', import.meta.url).pathname;
const dtsFiles = readdirSync(join(fixtures, 'dts')).filter((f) => f.endsWith('.dts'));
const overlayFiles = readdirSync(join(fixtures, 'overlays')).filter((f) => f.endsWith('.dts') && f !== 'base.dts');
const read = (p: string): string => readFileSync(join(fixtures, p), 'utf8');

if (!hasDtc || !hasFdtoverlay) console.warn(NO_DTC);

describe.skipIf(!hasDtc)('dtc cross-checks: DTS -> dtc DTB -> our parser/writer', () => {
  it.each(dtsFiles)('%s: our parse + re-serialize equals dtc\'s DTB byte for byte', (f) => {
    const ref = compile(read(`dts/${f}`));
    expect(serializeDtb(parseDtb(ref))).toEqual(ref);
  });
  it.each(dtsFiles)('%s: our DTS printer compiles back (with dtc) to the same DTB', (f) => {
    const ref = compile(read(`dts/${f}`));
    expect(compile(toDts(parseDtb(ref)))).toEqual(ref);
  });
  it('features.dts: typed accessors read what dtc wrote', () => {
    const t = parseDtb(compile(read('dts/features.dts')));
    const uart = t.findNode('console') ?? t.findNode('serial0');
    expect(uart?.name).toBe('serial@9000000');
    expect(uart?.property('wide')?.asU64Array()).toEqual([0x123456789abcdef0n, 1n]);
    expect(Array.from(uart?.property('narrow')?.value ?? [])).toEqual([0, 1, 0, 2, 0, 3]);
    expect(uart?.property('clocks')?.asU32Array()).toEqual([t.findNode('/cpus/cpu@0')?.phandle, t.findNode('/cpus/l2-cache')?.phandle, 3]);
    expect(t.findNode('/chosen')?.string('bootargs')).toBe('quote" backslash\\ tab\t newline\n');
    expect(t.memReservations).toEqual([
      { address: 0x10000000n, size: 0x4000n },
      { address: 0x20000000n, size: 0x100000n },
    ]);
  });
});

describe.skipIf(!hasDtc)('dtc cross-checks: our writer output', { timeout: 120_000 }, () => {
  const samples: [string, Uint8Array][] = [
    ['gunyah default', buildGunyahVmDt().dtb],
    ['gunyah 4 vCPUs + virtio', buildGunyahVmDt({ vcpus: 4, virtioMmio: [{ address: 0xa000000n, spi: 16 }] }).dtb],
    [
      'hand-written',
      (() => {
        const w = new FdtWriter({ memReservations: [{ address: 0x1000n, size: 0x1000n }], bootCpuid: 1 });
        const r = w.beginNode('');
        w.propertyStringList('compatible', ['a', 'b']);
        const c = w.beginNode('c@1');
        w.propertyArrayU64('reg', [1n, 2n]);
        w.propertyPhandle(5);
        w.endNode(c);
        w.endNode(r);
        return w.finish();
      })(),
    ],
  ];
  it.each(samples)('%s: decompiles without errors, and dtc re-serializes it to the same bytes', (_n, dtb) => {
    const r = tool('dtc', ['-I', 'dtb', '-O', 'dts', '-'], dtb);
    expect(r.status).toBe(0);
    expect(r.stderr).not.toMatch(/ERROR/);
    expect(new Uint8Array(dtc(['-q', '-I', 'dtb', '-O', 'dtb', '-'], dtb).stdout)).toEqual(dtb);
    // DTS text does not carry boot_cpuid_phys: hand it to dtc with -b.
    expect(compile(r.stdout.toString('utf8'), ['-b', String(parseDtb(dtb).bootCpuid)])).toEqual(dtb);
  });
  it('random trees from the writer: dtc re-serializes them byte for byte', () => {
    const name = fc.stringMatching(/^[a-z][a-z0-9,._+-]{0,6}(@[0-9a-f]{1,3})?$/);
    const prop = fc.tuple(fc.stringMatching(/^[a-z][a-z0-9,._+-]{0,8}$/), fc.uint8Array({ maxLength: 16 }));
    const node = (depth: number): fc.Arbitrary<FdtNode> =>
      fc
        .tuple(name, fc.uniqueArray(prop, { maxLength: 4, selector: (p) => p[0] }), depth > 0 ? fc.uniqueArray(node(depth - 1), { maxLength: 3, selector: (n) => n.name }) : fc.constant([]))
        .map(([n, ps, cs]) => new FdtNode(n, ps.map(([pn, v]) => new FdtProperty(pn, v)), cs));
    for (const child of fc.sample(fc.uniqueArray(node(2), { maxLength: 4, selector: (n) => n.name }), { numRuns: 25, seed: 42 })) {
      const dtb = serializeDtb(new DeviceTree(new FdtNode('', [], child)));
      expect(new Uint8Array(dtc(['-q', '-I', 'dtb', '-O', 'dtb', '-'], dtb).stdout)).toEqual(dtb);
      expect(compile(toDts(parseDtb(dtb)))).toEqual(dtb);
    }
  });
});

describe.skipIf(!hasDtc || !hasFdtoverlay)('overlays: ours equal fdtoverlay\'s', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gunyah-ov-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  it.each(overlayFiles)('%s', (f) => {
    const base = compile(read('overlays/base.dts'), ['-@']);
    const ov = compile(read(`overlays/${f}`), ['-@']);
    writeFileSync(join(dir, 'base.dtb'), base);
    writeFileSync(join(dir, 'ov.dtbo'), ov);
    const r = tool('fdtoverlay', ['-i', join(dir, 'base.dtb'), '-o', join(dir, 'ref.dtb'), join(dir, 'ov.dtbo')]);
    expect(r.status, r.stderr).toBe(0);
    const ref = new Uint8Array(readFileSync(join(dir, 'ref.dtb')));
    const ours = serializeDtb(applyOverlay(parseDtb(base), parseDtb(ov)));
    expect(decompile(ours)).toBe(decompile(ref));
  });
  it('the RM-style overlay on the Gunyah DT (chosen + /hypervisor) matches fdtoverlay', () => {
    const base = buildGunyahVmDt().dtb;
    const ovDts = `/dts-v1/;\n/plugin/;\n/ {\n fragment@0 { target-path = "/chosen"; __overlay__ { kaslr-seed = /bits/ 64 <0x1234>; }; };\n fragment@1 { target-path = "/"; __overlay__ { hypervisor { #address-cells = <2>; #size-cells = <0>; compatible = "gunyah-hypervisor", "simple-bus"; }; }; };\n};\n`;
    const ov = compile(ovDts, ['-@']);
    writeFileSync(join(dir, 'g.dtb'), base);
    writeFileSync(join(dir, 'g.dtbo'), ov);
    const r = tool('fdtoverlay', ['-i', join(dir, 'g.dtb'), '-o', join(dir, 'g-ref.dtb'), join(dir, 'g.dtbo')]);
    expect(r.status, r.stderr).toBe(0);
    const ours = applyOverlay(parseDtb(base), parseDtb(ov));
    expect(decompile(serializeDtb(ours))).toBe(decompile(new Uint8Array(readFileSync(join(dir, 'g-ref.dtb')))));
    // After the RM's overlay the tree has /hypervisor, which a VMM must not supply.
    expect(validateGunyahVmDt(ours).map((v) => v.rule)).toEqual(['NO_HYPERVISOR_NODE']);
  });
  it('buildRmGuestOverlay as a DTBO: fdtoverlay gives the same guest DT as applyRmGuestOverlay', () => {
    const vm = buildGunyahVmDt({ vcpus: 2, virtioMmio: [{ address: 0xa000000n, spi: 16 }] });
    const opts = { vmid: 45, ownerVmid: 3, memory: [{ base: 0x8000_0000n, size: 0x1000_0000n }], kaslrSeed: 7n, vcpuCapIds: [0x20n, 0x21n] };
    writeFileSync(join(dir, 'vm.dtb'), vm.dtb);
    writeFileSync(join(dir, 'rm.dtbo'), serializeDtb(buildRmGuestOverlay(vm.tree, opts)));
    const r = tool('fdtoverlay', ['-i', join(dir, 'vm.dtb'), '-o', join(dir, 'guest.dtb'), join(dir, 'rm.dtbo')]);
    expect(r.status, r.stderr).toBe(0);
    const ref = new Uint8Array(readFileSync(join(dir, 'guest.dtb')));
    expect(decompile(serializeDtb(applyRmGuestOverlay(vm.tree, opts)))).toBe(decompile(ref));
  });
});

describe.skipIf(!hasDtc)('the Gunyah VM DT and dtc', () => {
  it('defaults equal dtc\'s compilation of the spec §8 example byte for byte', () => {
    expect(buildGunyahVmDt().dtb).toEqual(compile(read('dts/gunyah-spec-example.dts')));
  });
  it.each([
    ['default', {}],
    ['4 vCPUs, virtio, initrd', { vcpus: 4, virtioMmio: [{ address: 0xa000000n, spi: 16 }], chosen: { initrd: { start: 0x8400_0000n, end: 0x8480_0000n } } }],
    ['no UART', { uart: false as const }],
  ])('%s: compiles and decompiles cleanly (only the two warnings the spec expects)', (_n, cfg) => {
    const { dtb } = buildGunyahVmDt(cfg);
    const d = tool('dtc', ['-I', 'dtb', '-O', 'dts', '-'], dtb);
    expect(d.status).toBe(0);
    const warnings = d.stderr.split('\n').filter((l) => l.trim() !== '');
    for (const w of warnings) expect(w).toMatch(/Warning \((label_is_string|unit_address_vs_reg)\)/);
    const c = tool('dtc', ['-I', 'dts', '-O', 'dtb', '-'], d.stdout);
    expect(c.status).toBe(0);
    expect(new Uint8Array(c.stdout)).toEqual(dtb);
  });
});
