import { describe, expect, it } from 'vitest';
import { GunyahDtConfigError, type GunyahDtConfigErrorCode } from './errors.js';
import { buildGunyahVmDt, type GunyahVmDtConfig } from './gunyah.js';
import { parseDtb } from './parser.js';
import { serializeDtb } from './serialize.js';
import { DeviceTree, FdtNode, FdtProperty } from './tree.js';
import { validateGunyahVmDt, validateGunyahVmDtb, type GunyahDtRule } from './validate.js';

describe('buildGunyahVmDt defaults (spec gunyah-vm-devicetree.md §8)', () => {
  const { tree, dtb, resolved } = buildGunyahVmDt();
  it('has the example structure', () => {
    expect([...tree.walk()].map((e) => e.path)).toEqual([
      '/',
      '/chosen',
      '/memory',
      '/cpus',
      '/cpus/cpu@0',
      '/psci',
      '/intc@3fff0000',
      '/timer',
      '/uart@3f8',
      '/gunyah-vm-config',
      '/gunyah-vm-config/memory',
      '/gunyah-vm-config/interrupts',
      '/gunyah-vm-config/vcpus',
      '/gunyah-vm-config/vdevices',
      '/gunyah-vm-config/vdevices/bell-0',
    ]);
    expect(parseDtb(dtb).root.stringList('compatible')).toEqual(['linux,dummy-virt']);
  });
  it('has the example values', () => {
    const t = parseDtb(dtb);
    expect(t.findNode('/chosen')?.string('bootargs')).toBe('console=ttyS0,115200 earlycon=uart8250,mmio,0x3f8');
    expect(t.findNode('/chosen')?.string('stdout-path')).toBe('/uart@3f8');
    expect(t.findNode('/memory')?.property('reg')?.asU64Array()).toEqual([0x8000_0000n, 0x1000_0000n]);
    expect(t.findNode('/psci')?.string('method')).toBe('hvc');
    expect(t.findNode('/intc@3fff0000')?.property('reg')?.asU64Array()).toEqual([0x3fff_0000n, 0x10000n, 0x3ffd_0000n, 0x20000n]);
    expect(t.findNode('/timer')?.property('interrupts')?.asU32Array()).toEqual([1, 13, 0x108, 1, 14, 0x108, 1, 11, 0x108, 1, 10, 0x108]);
    expect(t.findNode('/uart@3f8')?.property('interrupts')?.asU32Array()).toEqual([0, 0, 1]);
    expect(t.findNode('/uart@3f8')?.u32('clock-frequency')).toBe(1843200);
    expect(t.findNode('/gunyah-vm-config')?.string('image-name')).toBe('ts-vmm-linux');
    expect(t.findNode('/gunyah-vm-config/memory')?.u64('base-address')).toBe(0x8000_0000n);
    expect(t.findNode('/gunyah-vm-config/interrupts')?.u32('config')).toBe(t.findNode('/intc@3fff0000')?.phandle);
    expect(t.findNode('/gunyah-vm-config/vcpus')?.string('affinity')).toBe('proxy');
    const bell = t.findNode('/gunyah-vm-config/vdevices/bell-0');
    expect(bell?.string('vdevice-type')).toBe('doorbell');
    expect(bell?.property('interrupts')?.asU32Array()).toEqual([0, 0, 1]);
    expect(resolved.doorbells).toEqual([{ label: 0, spi: 0, trigger: 1, path: '/gunyah-vm-config/vdevices/bell-0' }]);
  });
  it('respects the RM rules: no /hypervisor, memory named exactly memory, PSCI', () => {
    expect(tree.findNode('/hypervisor')).toBeUndefined();
    expect(tree.findNode('/reserved-memory')).toBeUndefined();
    expect(validateGunyahVmDt(tree)).toEqual([]);
    expect(validateGunyahVmDtb(dtb)).toEqual([]);
  });
});

describe('buildGunyahVmDt options', () => {
  it('scales GICR, CPUs, timer mask and doorbells; adds virtio and initrd', () => {
    const { tree, resolved } = buildGunyahVmDt({
      vcpus: 4,
      memory: { base: 0x4000_0000n, size: 0x4000_0000n },
      uart: { address: 0x9000000n, spi: 3 },
      virtioMmio: [{ address: 0xa000000n, spi: 16 }, { address: 0xa000200n, size: 0x200n, spi: 17 }],
      chosen: { bootargs: 'quiet', initrd: { start: 0x4800_0000n, end: 0x4900_0000n } },
      timer: { clockFrequency: 19_200_000 },
      vmConfig: { imageName: 'vm1', vmAttrs: ['crash-fatal'] },
      psci: { compatible: ['arm,psci-0.2'] },
    });
    expect(validateGunyahVmDt(tree)).toEqual([]);
    expect(tree.findNode('/cpus')?.children.map((c) => c.name)).toEqual(['cpu@0', 'cpu@1', 'cpu@2', 'cpu@3']);
    expect(tree.findNode('/intc@3fff0000')?.property('reg')?.asU64Array()).toEqual([0x3fff_0000n, 0x10000n, 0x3ff7_0000n, 0x80000n]);
    expect(tree.findNode('/timer')?.property('interrupts')?.asU32Array()[2]).toBe(0xf08);
    expect(tree.findNode('/timer')?.u32('clock-frequency')).toBe(19_200_000);
    expect(tree.findNode('/virtio_mmio@a000200')?.property('interrupts')?.asU32Array()).toEqual([0, 17, 1]);
    expect(tree.findNode('/chosen')?.u64('linux,initrd-end')).toBe(0x4900_0000n);
    expect(tree.findNode('/chosen')?.string('stdout-path')).toBe('/uart@9000000');
    expect(tree.findNode('/gunyah-vm-config')?.stringList('vm-attrs')).toEqual(['crash-fatal']);
    expect(resolved.doorbells.map((d) => d.label)).toEqual([3, 16, 17]);
    expect(tree.findNode('/gunyah-vm-config/vdevices')?.children.map((c) => c.name)).toEqual(['bell-3', 'bell-16', 'bell-17']);
  });
  it('works without a UART', () => {
    const { tree } = buildGunyahVmDt({ uart: false });
    expect(tree.findNode('/chosen')?.properties).toEqual([]);
    expect(tree.findNode('/gunyah-vm-config/vdevices')?.children).toEqual([]);
    expect(validateGunyahVmDt(tree)).toEqual([]);
  });

  const bad: [GunyahDtConfigErrorCode, GunyahVmDtConfig][] = [
    ['BAD_MEMORY', { memory: { base: 0x8000_1000n } }],
    ['BAD_MEMORY', { memory: { size: 0n } }],
    ['BAD_MEMORY', { memory: { base: 0xffff_ffff_ffe0_0000n, size: 0x40_0000n } }],
    ['BAD_MEMORY', { vmConfig: { baseAddress: 0x9000_0000n } }],
    ['BAD_MEMORY', { vmConfig: { sizeMax: 0x123n } }],
    ['BAD_VCPU_COUNT', { vcpus: 0 }],
    ['BAD_VCPU_COUNT', { vcpus: 1.5 }],
    ['BAD_VCPU_COUNT', { vcpus: 257 }],
    ['BAD_ADDRESS', { gic: { distributorBase: 0x3fff_1000n } }],
    ['BAD_ADDRESS', { gic: { distributorBase: 0x10000n }, vcpus: 2 }],
    ['BAD_ADDRESS', { uart: { address: 0x3f9n } }],
    ['BAD_ADDRESS', { uart: { clockFrequency: 0 } }],
    ['BAD_ADDRESS', { virtioMmio: [{ address: 0xa000010n, spi: 4 }] }],
    ['OVERLAP', { uart: { address: 0x8000_0000n } }],
    ['OVERLAP', { virtioMmio: [{ address: 0x3ffe_0000n, spi: 4 }] }],
    ['BAD_IRQ', { uart: { spi: 988 } }],
    ['BAD_IRQ', { virtioMmio: [{ address: 0xa000000n, spi: 0 }] }],
    ['BAD_STRING', { vmConfig: { imageName: 'x'.repeat(80) } }],
    ['BAD_STRING', { vmConfig: { imageName: '' } }],
    ['BAD_STRING', { chosen: { bootargs: 'a\0b' } }],
    ['BAD_INITRD', { chosen: { initrd: { start: 0x8400_0000n, end: 0x8400_0000n } } }],
    ['BAD_INITRD', { chosen: { initrd: { start: 0x8400_0000n, end: 0x9400_0000n } } }],
  ];
  it.each(bad.map(([c, cfg], i) => [c, i, cfg] as const))('%s (case %d)', (code, _i, cfg) => {
    let caught: unknown;
    try {
      buildGunyahVmDt(cfg);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(GunyahDtConfigError);
    expect((caught as GunyahDtConfigError).code).toBe(code);
  });
});

describe('validateGunyahVmDt: every VMM rule of the spec', () => {
  const good = buildGunyahVmDt({ vcpus: 2 }).tree;
  const edit = (path: string, fn: (n: FdtNode) => FdtNode, t: DeviceTree = good): DeviceTree => {
    const out = t.update(path, fn);
    if (out === undefined) throw new Error(`no ${path}`);
    return out;
  };
  const rules = (t: DeviceTree): GunyahDtRule[] => validateGunyahVmDt(t).map((v) => v.rule);
  const errors = (t: DeviceTree): GunyahDtRule[] => validateGunyahVmDt(t).filter((v) => v.severity === 'error').map((v) => v.rule);
  const P = FdtProperty;
  const vmc = '/gunyah-vm-config';

  it('NO_HYPERVISOR_NODE', () => expect(errors(edit('/', (n) => n.withChild(new FdtNode('hypervisor'))))).toEqual(['NO_HYPERVISOR_NODE']));
  it('MEMORY_NODE_NAME', () => {
    const renamed = new DeviceTree(new FdtNode('', good.root.properties, good.root.children.map((c) => (c.name === 'memory' ? new FdtNode('memory@80000000', c.properties) : c))));
    expect(errors(renamed)).toContain('MEMORY_NODE_NAME');
    expect(errors(edit('/cpus', (n) => n.withChild(new FdtNode('m', [P.strings('device_type', 'memory')]))))).toEqual(['MEMORY_NODE_NAME']);
  });
  it('CHOSEN_MISSING', () => expect(errors(edit('/', (n) => n.withoutChild('chosen')))).toEqual(['CHOSEN_MISSING']));
  it('VM_CONFIG_MISSING', () => expect(errors(edit('/', (n) => n.withoutChild('gunyah-vm-config')))).toEqual(['VM_CONFIG_MISSING']));
  it('accepts the legacy /qcom,vm-config name', () => {
    const cfg = good.findNode(vmc) as FdtNode;
    const t = edit('/', (n) => n.withoutChild('gunyah-vm-config').withChild(new FdtNode('qcom,vm-config', cfg.properties, cfg.children)));
    expect(errors(t)).toEqual([]);
  });
  it('IMAGE_NAME', () => {
    expect(errors(edit(vmc, (n) => n.withoutProperty('image-name')))).toEqual(['IMAGE_NAME']);
    expect(errors(edit(vmc, (n) => n.withProperty(P.strings('image-name', 'x'.repeat(80)))))).toEqual(['IMAGE_NAME']);
    expect(errors(edit(vmc, (n) => n.withProperty(P.u32('image-name', 1))))).toEqual(['IMAGE_NAME']);
  });
  it('VM_STRINGS', () => {
    expect(errors(edit(vmc, (n) => n.withProperty(P.strings('vm-uri', 'u'.repeat(80)))))).toEqual(['VM_STRINGS']);
    expect(errors(edit(vmc, (n) => n.withProperty(P.strings('vm-guid', 'not-a-guid'))))).toEqual(['VM_STRINGS']);
    expect(errors(edit(vmc, (n) => n.withProperty(P.strings('vm-guid', '01234567-89ab-cdef-0123-456789abcdef'))))).toEqual([]);
    expect(errors(edit(vmc, (n) => n.withProperty(P.u32('vm-attrs', 1))))).toEqual(['VM_STRINGS']);
  });
  it('CONFIG_MEMORY: cells, alignment, wrap', () => {
    // Without the config node's #size-cells the RM decodes size-max as 1 cell and ignores ours.
    expect(errors(edit(vmc, (n) => n.withoutProperty('#size-cells')))).toEqual(['CONFIG_MEMORY']);
    expect(errors(edit(`${vmc}/memory`, (n) => n.withProperty(P.u64('base-address', 0x8000_0800n))))).toEqual(['CONFIG_MEMORY']);
    expect(errors(edit(`${vmc}/memory`, (n) => n.withProperty(P.u64('base-address', 0x8010_0000n))))).toEqual(['CONFIG_MEMORY']);
    expect(errors(edit(`${vmc}/memory`, (n) => n.withProperty(P.u64('size-min', 0x100n))))).toEqual(['CONFIG_MEMORY']);
    expect(errors(edit(`${vmc}/memory`, (n) => n.withProperty(P.u64('size-max', 0xffff_ffff_ffff_f000n))))).toEqual(['CONFIG_MEMORY']);
  });
  it('MEMORY_BASE_MISMATCH (warning)', () => {
    const t = edit(`${vmc}/memory`, (n) => n.withProperty(P.u64('base-address', 0x8020_0000n)));
    expect(rules(t)).toEqual(['MEMORY_BASE_MISMATCH']);
    expect(errors(t)).toEqual([]);
  });
  it('GIC: reference, compatible, controller, cells, regions, stride, reg', () => {
    const gic = '/intc@3fff0000';
    expect(errors(edit(`${vmc}/interrupts`, (n) => n.withProperty(P.u32('config', 9))))).toEqual(['GIC']);
    expect(errors(edit(`${vmc}/interrupts`, (n) => n.withProperty(P.strings('config', gic))))).toEqual([]);
    expect(errors(edit(`${vmc}/interrupts`, (n) => n.withProperty(P.strings('config', '/nope'))))).toEqual(['GIC']);
    // without interrupts/config, the root interrupt-parent is used
    expect(errors(edit(vmc, (n) => n.withoutChild('interrupts')))).toEqual([]);
    expect(errors(edit('/', (n) => n.withoutProperty('interrupt-parent'), edit(vmc, (n) => n.withoutChild('interrupts'))))).toEqual(['GIC']);
    expect(errors(edit(gic, (n) => n.withProperty(P.strings('compatible', 'arm,gic-400'))))).toEqual(['GIC']);
    expect(errors(edit(gic, (n) => n.withoutProperty('interrupt-controller')))).toEqual(['GIC']);
    expect(errors(edit(gic, (n) => n.withProperty(P.u32('#interrupt-cells', 2))))).toEqual(['GIC']);
    expect(errors(edit(gic, (n) => n.withProperty(P.u32('#redistributor-regions', 2))))).toEqual(['GIC']);
    expect(errors(edit(gic, (n) => n.withProperty(P.u64('redistributor-stride', 0x10000n))))).toEqual(['GIC']);
    expect(errors(edit(gic, (n) => n.withProperty(P.u64('redistributor-stride', 0x40000n))))).toEqual(['GIC']); // 2 vCPUs need 0x80000
    expect(errors(edit(gic, (n) => n.withProperty(P.u64('reg', 0x3fff_0000n, 0x10000n, 0x3ffd_0000n, 0x20000n))))).toEqual(['GIC']);
    expect(errors(edit(gic, (n) => n.withProperty(P.u64('reg', 0x3fff_1000n, 0x10000n, 0x3ffb_0000n, 0x40000n))))).toEqual(['GIC']);
    expect(errors(edit(gic, (n) => n.withProperty(P.u64('reg', 0x3fff_0000n, 0x10000n))))).toEqual(['GIC']);
    expect(errors(edit(gic, (n) => n.withoutProperty('reg')))).toEqual([]); // the RM allocates
  });
  it('VCPUS: CPU nodes, boot CPU, enable-method, affinity-map, timeslice', () => {
    expect(errors(edit('/cpus', (n) => n.withoutChild('cpu@0').withoutChild('cpu@1')))).toContain('VCPUS');
    expect(errors(edit('/cpus/cpu@1', (n) => n.withoutProperty('enable-method')))).toEqual(['VCPUS']);
    expect(errors(edit('/cpus/cpu@1', (n) => n.withProperty(P.strings('enable-method', 'qcom,gunyah-hvc'))))).toEqual([]);
    expect(errors(edit('/cpus/cpu@0', (n) => n.withoutProperty('enable-method')))).toEqual([]); // boot CPU needs none
    expect(errors(edit('/cpus/cpu@1', (n) => n.withProperty(P.strings('status', 'disabled'))))).toEqual(['VCPUS']); // no "okay" CPU
    expect(errors(edit(`${vmc}/vcpus`, (n) => n.withProperty(P.strings('config', '/nothing'))))).toContain('VCPUS');
    const stat = (extra: FdtProperty[]): DeviceTree => {
      let t = edit(`${vmc}/vcpus`, (n) => new FdtNode(n.name, [P.strings('affinity', 'static'), ...extra]));
      for (const c of ['cpu@0', 'cpu@1']) t = edit(`/cpus/${c}`, (n) => n.withProperty(P.empty('cpu-idle-states')), t);
      return t;
    };
    expect(errors(stat([P.u32('affinity-map', 0, 1), P.u32('sched-timeslice', 2000)]))).toEqual([]);
    expect(rules(stat([P.u32('affinity-map', 0, 1)]))).toEqual(['NOT_PROXY']);
    expect(errors(stat([]))).toEqual(['VCPUS']);
    expect(errors(stat([P.u32('affinity-map', 0)]))).toEqual(['VCPUS']);
    expect(errors(stat([P.u32('affinity-map', 0, 1), P.u32('sched-timeslice', 50)]))).toEqual(['VCPUS']);
    expect(rules(stat([P.u32('affinity-map', 0, 1), P.u32('sched-priority', 1)]))).toContain('VCPUS');
    expect(errors(stat([P.u32('affinity-map', 0, 1), P.u32('sched-priority', 0xffffffff)]))).toEqual([]);
    expect(rules(edit(`${vmc}/vcpus`, (n) => n.withProperty(P.strings('affinity', 'weird'))))).toContain('VCPUS');
  });
  it('PSCI_IDLE_STATES: non-proxy PSCI VMs need cpu-idle-states on every CPU', () => {
    const t = edit(`${vmc}/vcpus`, () => new FdtNode('vcpus', [P.strings('affinity', 'pinned'), P.u32('affinity-map', 0, 1)]));
    expect(errors(t)).toEqual(['PSCI_IDLE_STATES', 'PSCI_IDLE_STATES']);
  });
  it('PSCI_METHOD', () => expect(errors(edit('/psci', (n) => n.withProperty(P.strings('method', 'smc'))))).toEqual(['PSCI_METHOD']));
  it('NOT_PROXY is a warning', () => {
    const v = validateGunyahVmDt(edit(`${vmc}/vcpus`, () => new FdtNode('vcpus', [P.strings('affinity', 'proxy')])));
    expect(v).toEqual([]);
  });
  it('VDEVICE: doorbell peer, interrupts, label', () => {
    const bell = `${vmc}/vdevices/bell-0`;
    expect(errors(edit(bell, (n) => n.withoutProperty('peer-default')))).toEqual(['VDEVICE']);
    expect(errors(edit(bell, (n) => n.withoutProperty('peer-default').withProperty(P.strings('peer', '3'))))).toEqual([]);
    expect(errors(edit(bell, (n) => n.withProperty(P.u32('interrupts', 0, 0, 2))))).toEqual(['VDEVICE']);
    expect(errors(edit(bell, (n) => n.withProperty(P.u32('interrupts', 4, 0, 1))))).toEqual(['VDEVICE']);
    expect(errors(edit(bell, (n) => n.withProperty(P.u32('interrupts', 0, 0))))).toEqual(['VDEVICE']);
    expect(errors(edit(bell, (n) => n.withProperty(P.strings('label', 'zero'))))).toEqual(['VDEVICE']);
  });
  it('DTB_INVALID and DTB_TOO_LARGE from bytes', () => {
    expect(validateGunyahVmDtb(new Uint8Array(10)).map((v) => v.rule)).toEqual(['DTB_INVALID']);
    const big = buildGunyahVmDt({ chosen: { bootargs: 'x' } }).tree;
    const padded = edit('/chosen', (n) => n.withProperty(new FdtProperty('pad', new Uint8Array(0x200000))), big);
    expect(validateGunyahVmDtb(serializeDtb(padded)).map((v) => v.rule)).toEqual(['DTB_TOO_LARGE']);
  });
});
