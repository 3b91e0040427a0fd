import { DeviceTree, FdtNode, parseDtb, serializeDtb, toDts } from '@gunyah-ts/devicetree';
import { LayoutError } from '@gunyah-ts/vm-memory/loader';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError } from './config.js';
import { formatPlan, planVm, type PlanInputs } from './plan.js';
import { config } from '../test/helpers.js';

const MIB = 1 << 20;
const kernel = { textOffset: 0, imageSize: 20 * MIB };
const inputs = (o: Partial<PlanInputs> = {}): PlanInputs => ({ kernel, kernelFileSize: 18 * MIB, initrdSize: 3 * MIB + 5, userDtb: undefined, variant: 'C', ...o });
const cfg = config({ kernel: 'Image' });

function chosen(dtb: Uint8Array): { bootargs: string | undefined; start: bigint | undefined; end: bigint | undefined } {
  const c = parseDtb(dtb).findNode('/chosen');
  return { bootargs: c?.property('bootargs')?.asString(), start: c?.property('linux,initrd-start')?.asU64(), end: c?.property('linux,initrd-end')?.asU64() };
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    return (e as { code?: string }).code;
  }
}

describe('planVm: generated devicetree', () => {
  it('defaults: RAM 256 MiB at 0x8000_0000, kernel at the base, DTB window at the top, initrd below it', () => {
    const p = planVm(cfg, inputs());
    expect(p.dtbSource).toBe('generated');
    expect(p.memory).toEqual({ base: 0x8000_0000n, size: 256n * BigInt(MIB) });
    expect(p.layout.kernel.entry).toBe(0x8000_0000n);
    expect(p.layout.dtb.address).toBe(0x8fff_0000n);
    expect(p.layout.dtb.size).toBe(0x1_0000);
    expect(p.layout.initrd?.end).toBeLessThanOrEqual(0x8fff_0000n);
    expect(p.layout.initrd!.address % 4096n).toBe(0n);
    expect(p.vcpus).toBe(1);
    expect(p.uart).toEqual({ address: 0x3f8n, spi: 0, irqLabel: 0 });
    expect(p.warnings).toEqual([]);
  });

  it('the DT names the initrd range, the bootargs, RAM, the CPUs and the UART doorbell', () => {
    const p = planVm(config({ kernel: 'Image', cpus: 2, memSize: 512n << 20n, cmdline: 'console=ttyS0 rdinit=/init' }), inputs());
    const c = chosen(p.dtb);
    expect(c.bootargs).toBe('console=ttyS0 rdinit=/init');
    expect(c.start).toBe(p.layout.initrd!.address);
    expect(c.end).toBe(p.layout.initrd!.address + BigInt(3 * MIB + 5));
    const t = parseDtb(p.dtb);
    expect(t.findNode('/memory')?.property('reg')?.asU64Array()).toEqual([0x8000_0000n, 512n << 20n]);
    expect(t.findNode('/cpus')?.children.length).toBe(2);
    expect(t.findNode('/uart@3f8')?.property('compatible')?.asString()).toBe('ns16550a');
    expect(t.findNode('/gunyah-vm-config/vcpus')?.property('affinity')?.asString()).toBe('proxy');
    expect(t.findNode('/gunyah-vm-config/vdevices/bell-0')?.property('label')?.asU32()).toBe(0);
    expect(p.bootargs).toBe('console=ttyS0 rdinit=/init');
  });

  it('default bootargs put the console and earlycon on the 8250 at 0x3f8; no initrd → no initrd properties', () => {
    const p = planVm(cfg, inputs({ initrdSize: undefined }));
    expect(chosen(p.dtb)).toEqual({ bootargs: 'console=ttyS0,115200 earlycon=uart8250,mmio,0x3f8', start: undefined, end: undefined });
    expect(p.layout.initrd).toBeUndefined();
  });

  it.each([
    ['A', 'user-region', 'share', false],
    ['B', 'guest-memfd', 'lend', true],
    ['C', 'user-region', 'share', true],
  ] as const)('variant %s: %s %s, boot context %s', (variant, kind, mode, ctx) => {
    const p = planVm(cfg, inputs({ variant }));
    expect(p.registration).toEqual({ kind, mode });
    expect(p.bootContext).toEqual(ctx ? { pc: 0x8000_0000n, x0: 0x8fff_0000n } : undefined);
  });

  it('variant A needs the entry at the start of RAM', () => {
    expect(codeOf(() => planVm(config({ kernel: 'Image', kernelOffset: 2n << 20n }), inputs({ variant: 'A' })))).toBe('BAD_LAYOUT');
    expect(codeOf(() => planVm(cfg, inputs({ variant: 'A', kernel: { textOffset: 0x80000, imageSize: 20 * MIB } })))).toBe('BAD_LAYOUT');
    // B and C set the PC and do not care.
    expect(planVm(config({ kernel: 'Image', kernelOffset: 2n << 20n }), inputs({ variant: 'C' })).bootContext?.pc).toBe(0x8020_0000n);
  });

  it('image too big for memory and overlapping placements are LayoutErrors', () => {
    const big = () => planVm(config({ kernel: 'Image', memSize: 16n << 20n }), inputs());
    expect(big).toThrow(LayoutError);
    expect(codeOf(big)).toBe('DOES_NOT_FIT');
    expect(codeOf(() => planVm(config({ kernel: 'Image', initrdOffset: 0x10_0000n }), inputs()))).toBe('OVERLAP');
    expect(codeOf(() => planVm(config({ kernel: 'Image', dtbOffset: 0x1000n }), inputs({ initrdSize: undefined })))).toBe('OVERLAP');
  });

  it('memory must be a multiple of 2 MiB; bad command lines are refused', () => {
    expect(codeOf(() => planVm(config({ kernel: 'Image', memSize: (64n << 20n) + 4096n }), inputs()))).toBe('BAD_LAYOUT');
    expect(codeOf(() => planVm(config({ kernel: 'Image', cmdline: 'a\nb' }), inputs()))).toBe('BAD_CMDLINE');
    expect(codeOf(() => planVm(config({ kernel: 'Image', cmdline: 'x'.repeat(2048) }), inputs()))).toBe('BAD_CMDLINE');
    expect(planVm(config({ kernel: 'Image', cmdline: 'x'.repeat(2047) }), inputs()).bootargs?.length).toBe(2047);
  });
});

describe('planVm: user devicetree', () => {
  const userDtb = planVm(config({ kernel: 'Image', cpus: 2, memSize: 128n << 20n, base: 0x4000_0000n, cmdline: 'console=ttyS0 from-dtb' }), inputs({ initrdSize: undefined })).dtb;

  it('takes RAM and vCPUs from the DT and patches /chosen with the initrd range', () => {
    const p = planVm(cfg, inputs({ userDtb }));
    expect(p.dtbSource).toBe('user');
    expect(p.memory).toEqual({ base: 0x4000_0000n, size: 128n << 20n });
    expect(p.vcpus).toBe(2);
    expect(p.uart).toEqual({ address: 0x3f8n, spi: 0, irqLabel: 0 });
    const c = chosen(p.dtb);
    expect(c.bootargs).toBe('console=ttyS0 from-dtb');
    expect(c.start).toBe(p.layout.initrd!.address);
    expect(c.end).toBe(p.layout.initrd!.address + BigInt(3 * MIB + 5));
    expect(p.layout.dtb.address).toBe(0x4000_0000n + (128n << 20n) - 0x1_0000n);
    // everything else is unchanged
    const before = parseDtb(userDtb);
    const after = parseDtb(p.dtb);
    expect(toDts(new DeviceTree(after.root.withoutChild('chosen')))).toBe(toDts(new DeviceTree(before.root.withoutChild('chosen'))));
  });

  it('--cmdline replaces the bootargs; stale initrd properties are dropped when there is no initrd', () => {
    const withInitrd = planVm(cfg, inputs({ userDtb })).dtb;
    const p = planVm(config({ kernel: 'Image', cmdline: 'quiet' }), inputs({ userDtb: withInitrd, initrdSize: undefined }));
    expect(chosen(p.dtb)).toEqual({ bootargs: 'quiet', start: undefined, end: undefined });
  });

  it('adds /chosen when the DT has none', () => {
    const t = parseDtb(userDtb);
    const bare = serializeDtb(new DeviceTree(t.root.withoutChild('chosen')));
    const p = planVm(cfg, inputs({ userDtb: bare }));
    expect(chosen(p.dtb).start).toBe(p.layout.initrd!.address);
  });

  it('options that disagree with the DT are refused', () => {
    expect(codeOf(() => planVm(config({ kernel: 'Image', memSize: 64n << 20n }), inputs({ userDtb })))).toBe('BAD_LAYOUT');
    expect(codeOf(() => planVm(config({ kernel: 'Image', base: 0x1_0000_0000n }), inputs({ userDtb })))).toBe('BAD_LAYOUT');
    expect(codeOf(() => planVm(config({ kernel: 'Image', cpus: 3 }), inputs({ userDtb })))).toBe('BAD_LAYOUT');
    // agreeing values are fine
    expect(planVm(config({ kernel: 'Image', cpus: 2, memSize: 128n << 20n }), inputs({ userDtb })).vcpus).toBe(2);
  });

  it('malformed DTBs and DTs the RM would refuse are BAD_DTB', () => {
    expect(codeOf(() => planVm(cfg, inputs({ userDtb: new Uint8Array(64) })))).toBe('BAD_DTB');
    expect(codeOf(() => planVm(cfg, inputs({ userDtb: userDtb.subarray(0, 100) })))).toBe('BAD_DTB');
    const t = parseDtb(userDtb);
    const noConfig = serializeDtb(new DeviceTree(t.root.withoutChild('gunyah-vm-config')));
    expect(codeOf(() => planVm(cfg, inputs({ userDtb: noConfig })))).toBe('BAD_DTB');
    const withHyp = serializeDtb(new DeviceTree(t.root.withChild(new FdtNode('hypervisor', []))));
    expect(codeOf(() => planVm(cfg, inputs({ userDtb: withHyp })))).toBe('BAD_DTB');
  });

  it('a DT without a UART plans no console and warns', () => {
    const t = parseDtb(userDtb);
    const noUart = serializeDtb(new DeviceTree(t.root.withoutChild('uart@3f8')));
    const p = planVm(cfg, inputs({ userDtb: noUart }));
    expect(p.uart).toBeUndefined();
    expect(p.warnings.join('\n')).toMatch(/no 8250 UART/);
  });

  it('property: random or mutated DTB bytes give a plan or a typed error, never a crash', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 512 }),
          fc.tuple(fc.nat(userDtb.length - 1), fc.integer({ min: 0, max: 255 })).map(([i, b]) => {
            const m = userDtb.slice();
            m[i] = b;
            return m;
          }),
        ),
        (bytes) => {
          try {
            planVm(cfg, inputs({ userDtb: bytes }));
          } catch (e) {
            expect(e instanceof ConfigError || e instanceof LayoutError).toBe(true);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('formatPlan', () => {
  it('prints the memory map, the boot entry per variant, the console and the DTS', () => {
    const text = formatPlan(planVm(cfg, inputs()));
    expect(text).toMatch(/^# vmm-sample plan: variant C, generated devicetree, 1 vCPU$/m);
    expect(text).toMatch(/^RAM +0x80000000\.\.0x8fffffff +256 MiB +memfd, SET_USER_MEM_REGION share$/m);
    expect(text).toMatch(/^dtb .*SET_DTB_CONFIG 0x8fff0000 size 0x10000$/m);
    expect(text).toMatch(/^boot +SET_BOOT_CONTEXT PC=0x80000000 X0=0x8fff0000$/m);
    expect(text).toMatch(/^console +8250 UART at 0x3f8, SPI 0, irqfd on doorbell label 0$/m);
    expect(text).toContain('/dts-v1/;');
    expect(text).toContain('linux,initrd-start');
    const a = formatPlan(planVm(cfg, inputs({ variant: 'A' })), { dts: false });
    expect(a).toMatch(/kernel at offset 0 of the DTB's region/);
    expect(a).not.toContain('/dts-v1/;');
    expect(formatPlan(planVm(cfg, inputs({ variant: 'B' })))).toMatch(/guest_memfd, MAP_MEM lend/);
  });
});
