import { describe, expect, it } from 'vitest';
import { buildGunyahVmDt } from './gunyah.js';
import { parseDtb } from './parser.js';
import { applyRmGuestOverlay, buildRmGuestOverlay, readGunyahVmConfig, RmDtError, type RmDtErrorCode } from './rm.js';
import { serializeDtb } from './serialize.js';
import { FdtNode, FdtProperty, type DeviceTree } from './tree.js';
import { validateGunyahVmDt } from './validate.js';

const vm = buildGunyahVmDt({ vcpus: 2, virtioMmio: [{ address: 0xa000000n, spi: 16 }] });
const opts = {
  vmid: 45,
  ownerVmid: 3,
  memory: [
    { base: 0x8800_0000n, size: 0x800_0000n },
    { base: 0x8000_0000n, size: 0x800_0000n },
    { base: 0x8400_0000n, size: 0x100_0000n },
  ],
  kaslrSeed: 0x1122_3344_5566_7788n,
  vcpuCapIds: [0x20n, 0x21n],
};

function code(fn: () => unknown): RmDtErrorCode | undefined {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(RmDtError);
    return (e as RmDtError).code;
  }
  return undefined;
}

describe('readGunyahVmConfig', () => {
  it('decodes what the RM reads', () => {
    const info = readGunyahVmConfig(vm.tree);
    expect(info).toMatchObject({
      path: '/gunyah-vm-config',
      imageName: 'ts-vmm-linux',
      osType: 'linux',
      vmAttrs: [],
      baseAddress: 0x8000_0000n,
      sizeMax: 0x1000_0000n,
      sizeMin: undefined,
      isDirect: false,
      affinity: 'proxy',
      gicPath: '/intc@3fff0000',
      psci: true,
    });
    expect(info.cpus).toEqual([
      { path: '/cpus/cpu@0', reg: 0, boot: true },
      { path: '/cpus/cpu@1', reg: 1, boot: false },
    ]);
    expect(info.vdevices.map((v) => [v.path, v.type, v.label, v.generate, v.peerDefault, v.sourceCanClear, v.interrupts])).toEqual([
      ['/gunyah-vm-config/vdevices/bell-0', 'doorbell', 0, '/hypervisor/bell-0', true, true, [0, 0, 1]],
      ['/gunyah-vm-config/vdevices/bell-16', 'doorbell', 16, '/hypervisor/bell-16', true, true, [0, 16, 1]],
    ]);
  });
  it('refuses what the RM refuses', () => {
    const bad = vm.tree.update('/', (n) => n.withoutChild('gunyah-vm-config')) as DeviceTree;
    let caught: unknown;
    try {
      readGunyahVmConfig(bad);
    } catch (e) {
      caught = e;
    }
    expect((caught as RmDtError).code).toBe('INVALID_CONFIG');
    expect((caught as RmDtError).violations.map((v) => v.rule)).toEqual(['VM_CONFIG_MISSING']);
  });
});

describe('RM guest overlay', () => {
  const guest = applyRmGuestOverlay(vm.tree, opts);
  it('merges and sorts accepted memory into /memory with root cells', () => {
    expect(guest.findNode('/memory')?.property('reg')?.asU64Array()).toEqual([0x8000_0000n, 0x1000_0000n]);
    const split = applyRmGuestOverlay(vm.tree, { ...opts, memory: [{ base: 0x9000_0000n, size: 0x1000n }, { base: 0x8000_0000n, size: 0x2000n }] });
    expect(split.findNode('/memory')?.property('reg')?.asU64Array()).toEqual([0x8000_0000n, 0x2000n, 0x9000_0000n, 0x1000n]);
  });
  it('adds kaslr-seed, /hypervisor, doorbells, vCPU capabilities, /reserved-memory, /vsoc', () => {
    expect(guest.findNode('/chosen')?.u64('kaslr-seed')).toBe(opts.kaslrSeed);
    expect(guest.findNode('/chosen')?.string('bootargs')).toContain('console=ttyS0');
    const hyp = guest.findNode('/hypervisor');
    expect(hyp?.stringList('compatible')).toEqual(['gunyah-hypervisor', 'qcom,gunyah-hypervisor-1.0', 'qcom,gunyah-hypervisor', 'simple-bus']);
    const vmNode = guest.findNode('/hypervisor/qcom,gunyah-vm');
    expect([vmNode?.u32('qcom,vmid'), vmNode?.u32('qcom,owner-vmid'), vmNode?.string('qcom,image-name')]).toEqual([45, 3, 'ts-vmm-linux']);
    const bell = guest.findNode('/hypervisor/bell-16@1001');
    expect(bell?.stringList('compatible')).toEqual(['qcom,gunyah-doorbell', 'qcom,gunyah-capability']);
    expect(bell?.u64('reg')).toBe(0x1001n);
    expect(bell?.property('interrupts')?.asU32Array()).toEqual([0, 16, 1]);
    expect(bell?.u32('qcom,label')).toBe(16);
    expect(guest.findNode('/cpus/cpu@1')?.u64('qcom,gunyah-capability')).toBe(0x21n);
    expect(guest.findNode('/reserved-memory')?.has('ranges')).toBe(true);
    expect(guest.findNode('/vsoc')?.stringList('compatible')).toEqual(['simple-bus']);
    // Still a valid tree, and now one a VMM must not hand in again.
    expect(parseDtb(serializeDtb(guest)).findNode('/hypervisor/bell-0@1000')).toBeDefined();
    expect(validateGunyahVmDt(guest).map((v) => v.rule)).toEqual(['NO_HYPERVISOR_NODE']);
  });
  it('allocates doorbell vIRQs from INTID 960 when the DT gives none', () => {
    const t = vm.tree.update('/gunyah-vm-config/vdevices/bell-0', (n) => n.withoutProperty('interrupts')) as DeviceTree;
    expect(applyRmGuestOverlay(t, opts).findNode('/hypervisor/bell-0@1000')?.property('interrupts')?.asU32Array()).toEqual([0, 928, 1]);
  });
  it('keeps an existing /reserved-memory and /vsoc', () => {
    const t = vm.tree.update('/', (n) => n.withChild(new FdtNode('vsoc', [FdtProperty.empty('mine')]))) as DeviceTree;
    const out = applyRmGuestOverlay(t, opts);
    expect(out.findNode('/vsoc')?.properties.map((p) => p.name)).toEqual(['mine']);
  });
  it('typed errors', () => {
    const withHyp = vm.tree.update('/', (n) => n.withChild(new FdtNode('hypervisor'))) as DeviceTree;
    expect(code(() => buildRmGuestOverlay(withHyp, opts))).toBe('HYPERVISOR_EXISTS');
    expect(code(() => buildRmGuestOverlay(vm.tree, { ...opts, memory: [] }))).toBe('BAD_OPTIONS');
    expect(code(() => buildRmGuestOverlay(vm.tree, { ...opts, memory: [{ base: 0n, size: 0n }] }))).toBe('BAD_OPTIONS');
    expect(code(() => buildRmGuestOverlay(vm.tree, { ...opts, vmid: -1 }))).toBe('BAD_OPTIONS');
    expect(code(() => buildRmGuestOverlay(vm.tree, { ...opts, vcpuCapIds: [1n] }))).toBe('BAD_OPTIONS');
    expect(code(() => buildRmGuestOverlay(vm.tree, { ...opts, doorbellCapIds: [1n] }))).toBe('BAD_OPTIONS');
    // Root #size-cells = 1 (the GIC then without reg, which the RM allocates).
    const oneCell = (vm.tree.update('/', (n) => n.withProperty(FdtProperty.u32('#size-cells', 1))) as DeviceTree).update('/intc@3fff0000', (n) =>
      n.withoutProperty('reg'),
    ) as DeviceTree;
    expect(code(() => buildRmGuestOverlay(oneCell, opts))).toBeUndefined();
    expect(code(() => buildRmGuestOverlay(oneCell, { ...opts, memory: [{ base: 0x8000_0000n, size: 0x1_0000_0000n }] }))).toBe('BAD_OPTIONS');
    for (const g of ['relative', '/', '/hyp ervisor/x', '/a//b']) {
      const t = vm.tree.update('/gunyah-vm-config/vdevices/bell-0', (n) => n.withProperty(FdtProperty.strings('generate', g))) as DeviceTree;
      expect(code(() => buildRmGuestOverlay(t, opts))).toBe('INVALID_CONFIG');
    }
    const noChosen = vm.tree.update('/', (n) => n.withoutChild('chosen')) as DeviceTree;
    expect(code(() => buildRmGuestOverlay(noChosen, opts))).toBe('INVALID_CONFIG');
  });
});
