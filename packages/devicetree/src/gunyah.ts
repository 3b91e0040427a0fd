import { GunyahDtConfigError } from './errors.js';
import { serializeDtb } from './serialize.js';
import { DeviceTree, FdtNode, FdtProperty } from './tree.js';

// The Gunyah VM devicetree: spec gunyah-vm-devicetree.md (§2 what the RM parses, §2.6 the
// whole-tree rules, §4 the values crosvm / test-vmm use, §8 the example this generator
// reproduces with its defaults).

/** Most vCPUs {@link buildGunyahVmDt} accepts (a sanity bound: one GICR frame each below GICD). */
export const GUNYAH_MAX_VCPUS = 256;
/** SPIs the RM gives the virtual GIC (spec §2.3, `GIC_SPI_NUM`). */
export const GUNYAH_GIC_SPIS = 988;
/** Size of one GICv3 redistributor frame without vLPIs (spec §2.3). */
export const GICR_FRAME_SIZE = 0x20000n;
/** Size of the GICv3 distributor (spec §2.3). */
export const GICD_SIZE = 0x10000n;
/** Phandle the generator gives the GIC (crosvm uses 1, spec §4.2). */
export const GIC_PHANDLE = 1;

const MIB2 = 0x200000n;
const KIB64 = 0x10000n;
const PAGE = 0x1000n;
const U64 = 1n << 64n;

/** An emulated virtio-mmio transport the VMM serves. */
export interface VirtioMmioDevice {
  /** MMIO base address. */
  readonly address: bigint;
  /** MMIO window size. Default 0x200. */
  readonly size?: bigint;
  /** SPI number (INTID − 32), injected through a doorbell labelled with it. */
  readonly spi: number;
}

/** Guest RAM of {@link GunyahVmDtConfig}. */
export interface GunyahMemoryConfig {
  /** Guest-physical base, 2 MiB aligned. Default 0x8000_0000. */
  readonly base?: bigint;
  /** Size in bytes, 2 MiB multiple. Default 256 MiB. */
  readonly size?: bigint;
}

/** GICv3 placement of {@link GunyahVmDtConfig}. */
export interface GunyahGicConfig {
  /** GICD base (64 KiB, 64 KiB aligned). Default 0x3fff_0000. */
  readonly distributorBase?: bigint;
  /** GICR base (128 KiB per vCPU, 64 KiB aligned). Default directly below GICD. */
  readonly redistributorBase?: bigint;
}

/** Architected timer of {@link GunyahVmDtConfig}. */
export interface GunyahTimerConfig {
  /** `clock-frequency` in Hz; omitted by default (Linux reads CNTFRQ). */
  readonly clockFrequency?: number;
}

/** PSCI node of {@link GunyahVmDtConfig}. */
export interface GunyahPsciConfig {
  /** `compatible` list. Default `arm,psci-1.0`, `arm,psci-0.2`. */
  readonly compatible?: readonly string[];
}

/** The VMM-emulated 8250 UART of {@link GunyahVmDtConfig}. */
export interface GunyahUartConfig {
  /** MMIO base (8 bytes, 8-byte aligned). Default 0x3f8. */
  readonly address?: bigint;
  /** SPI number (INTID − 32). Default 0. */
  readonly spi?: number;
  /** Input clock in Hz. Default 1843200. */
  readonly clockFrequency?: number;
}

/** An initrd already placed in guest RAM. */
export interface GunyahInitrd {
  /** First byte (guest-physical). */
  readonly start: bigint;
  /** One past the last byte. */
  readonly end: bigint;
}

/** `/chosen` of {@link GunyahVmDtConfig}. */
export interface GunyahChosenConfig {
  /** Kernel command line. Default: UART console and earlycon (none without a UART). */
  readonly bootargs?: string;
  /** `stdout-path`. Default: the UART node's path. */
  readonly stdoutPath?: string;
  /** `linux,initrd-start` / `linux,initrd-end` (64-bit). Default none. */
  readonly initrd?: GunyahInitrd;
}

/** The UART as {@link buildGunyahVmDt} placed it. */
export interface ResolvedGunyahUart {
  /** MMIO base. */
  readonly address: bigint;
  /** SPI number. */
  readonly spi: number;
  /** Input clock in Hz. */
  readonly clockFrequency: number;
}

/**
 * Description of a Gunyah VM for {@link buildGunyahVmDt}. Every field is optional; the
 * defaults reproduce the example of spec gunyah-vm-devicetree.md §8 (1 vCPU, 256 MiB at
 * 0x8000_0000, GICv3 at 0x3fff_0000, 8250 UART at 0x3f8 on SPI 0, proxy-scheduled vCPUs).
 */
export interface GunyahVmDtConfig {
  /** Guest RAM. Default base 0x8000_0000, size 256 MiB; both 2 MiB aligned. */
  readonly memory?: GunyahMemoryConfig;
  /** Number of vCPUs. Default 1. */
  readonly vcpus?: number;
  /** GICv3 addresses. Default GICD 0x3fff_0000, GICR directly below (128 KiB per vCPU). */
  readonly gic?: GunyahGicConfig;
  /** Architected timer. `clockFrequency` is omitted by default (Linux reads CNTFRQ). */
  readonly timer?: GunyahTimerConfig;
  /** PSCI node (always `method = "hvc"`). Default compatible `arm,psci-1.0`, `arm,psci-0.2`. */
  readonly psci?: GunyahPsciConfig;
  /** The VMM-emulated 8250 UART, or `false` for none. Default 0x3f8, SPI 0, 1.8432 MHz. */
  readonly uart?: GunyahUartConfig | false;
  /** `/chosen`. Defaults: bootargs for the UART console and earlycon, stdout-path to the UART. */
  readonly chosen?: GunyahChosenConfig;
  /** `/gunyah-vm-config` content. */
  readonly vmConfig?: {
    /** `image-name`, under 80 bytes. Default `ts-vmm-linux`. */
    readonly imageName?: string;
    /** `os-type`. Default `linux`. */
    readonly osType?: string;
    /** `memory/base-address`: start of the region holding the kernel and DTB. Default RAM base. */
    readonly baseAddress?: bigint;
    /** `memory/size-max`. Default RAM size. */
    readonly sizeMax?: bigint;
    /** `vm-attrs` strings (spec §2.1). Default none. */
    readonly vmAttrs?: readonly string[];
  };
  /** Emulated virtio-mmio transports. Default none. */
  readonly virtioMmio?: readonly VirtioMmioDevice[];
}

/** A doorbell vdevice the generator declared: the VMM binds an irqfd with this label. */
export interface GunyahDoorbell {
  /** The doorbell's `label` (equal to the SPI number, as crosvm does). */
  readonly label: number;
  /** SPI number (INTID − 32). */
  readonly spi: number;
  /** GIC trigger flags in the DT (1 = edge rising). */
  readonly trigger: number;
  /** Node path in the generated DT. */
  readonly path: string;
}

/** The configuration with every default filled in, as the generator used it. */
export interface ResolvedGunyahVmDtConfig {
  /** RAM base. */
  readonly memoryBase: bigint;
  /** RAM size. */
  readonly memorySize: bigint;
  /** vCPU count. */
  readonly vcpus: number;
  /** GICD base. */
  readonly gicdBase: bigint;
  /** GICR base (one 128 KiB frame per vCPU). */
  readonly gicrBase: bigint;
  /** UART, if any. */
  readonly uart: ResolvedGunyahUart | undefined;
  /** Virtio transports with sizes filled in. */
  readonly virtioMmio: readonly Required<VirtioMmioDevice>[];
  /** Doorbells declared, one per injected SPI. */
  readonly doorbells: readonly GunyahDoorbell[];
  /** `image-name`. */
  readonly imageName: string;
  /** `memory/base-address`. */
  readonly baseAddress: bigint;
  /** `memory/size-max`. */
  readonly sizeMax: bigint;
}

/** What {@link buildGunyahVmDt} returns. */
export interface GunyahVmDt {
  /** The DTB bytes to place in guest memory. */
  readonly dtb: Uint8Array;
  /** The same tree, for inspection or further overlays. */
  readonly tree: DeviceTree;
  /** The configuration with defaults filled in. */
  readonly resolved: ResolvedGunyahVmDtConfig;
}

const hex = (n: bigint): string => n.toString(16);

function checkString(field: string, s: string, max: number, allowEmpty = false): void {
  if ((!allowEmpty && s.length === 0) || s.includes('\0') || new TextEncoder().encode(s).length >= max) {
    throw new GunyahDtConfigError('BAD_STRING', field, `${field} must be ${allowEmpty ? '' : 'non-empty, '}without NUL and shorter than ${max} bytes`);
  }
}

function resolve(config: GunyahVmDtConfig): ResolvedGunyahVmDtConfig & { raw: GunyahVmDtConfig } {
  const memoryBase = config.memory?.base ?? 0x8000_0000n;
  const memorySize = config.memory?.size ?? 0x1000_0000n;
  if (memoryBase < 0n || memorySize <= 0n || memoryBase % MIB2 !== 0n || memorySize % MIB2 !== 0n || memoryBase + memorySize > U64) {
    throw new GunyahDtConfigError('BAD_MEMORY', 'memory', 'RAM base and size must be 2 MiB aligned, non-empty and below 2^64');
  }
  const vcpus = config.vcpus ?? 1;
  if (!Number.isInteger(vcpus) || vcpus < 1 || vcpus > GUNYAH_MAX_VCPUS) {
    throw new GunyahDtConfigError('BAD_VCPU_COUNT', 'vcpus', `vCPU count must be 1..${GUNYAH_MAX_VCPUS}`);
  }
  const gicdBase = config.gic?.distributorBase ?? 0x3fff_0000n;
  const gicrSize = GICR_FRAME_SIZE * BigInt(vcpus);
  const gicrBase = config.gic?.redistributorBase ?? gicdBase - gicrSize;
  for (const [field, a] of [['gic.distributorBase', gicdBase], ['gic.redistributorBase', gicrBase]] as const) {
    if (a < 0n || a % KIB64 !== 0n || a + (field === 'gic.distributorBase' ? GICD_SIZE : gicrSize) > U64) {
      throw new GunyahDtConfigError('BAD_ADDRESS', field, `${field} must be 64 KiB aligned and fit below 2^64`);
    }
  }
  const u = config.uart === false ? undefined : config.uart ?? {};
  const uart =
    u === undefined ? undefined : { address: u.address ?? 0x3f8n, spi: u.spi ?? 0, clockFrequency: u.clockFrequency ?? 1843200 };
  if (uart !== undefined && (uart.address < 0n || uart.address % 8n !== 0n || uart.address + 8n > U64)) {
    throw new GunyahDtConfigError('BAD_ADDRESS', 'uart.address', 'UART address must be 8-byte aligned');
  }
  if (uart !== undefined && (!Number.isInteger(uart.clockFrequency) || uart.clockFrequency <= 0 || uart.clockFrequency > 0xffffffff)) {
    throw new GunyahDtConfigError('BAD_ADDRESS', 'uart.clockFrequency', 'UART clock must be a positive 32-bit value');
  }
  const virtioMmio = (config.virtioMmio ?? []).map((d, i) => {
    const size = d.size ?? 0x200n;
    if (d.address < 0n || size <= 0n || d.address % 0x200n !== 0n || d.address + size > U64) {
      throw new GunyahDtConfigError('BAD_ADDRESS', `virtioMmio[${i}]`, 'virtio-mmio window must be 512-byte aligned, non-empty, below 2^64');
    }
    return { address: d.address, size, spi: d.spi };
  });
  // MMIO and RAM must not overlap.
  const ranges: [string, bigint, bigint][] = [
    ['memory', memoryBase, memorySize],
    ['gic.distributorBase', gicdBase, GICD_SIZE],
    ['gic.redistributorBase', gicrBase, gicrSize],
  ];
  if (uart !== undefined) ranges.push(['uart', uart.address, 8n]);
  virtioMmio.forEach((d, i) => ranges.push([`virtioMmio[${i}]`, d.address, d.size]));
  for (let i = 0; i < ranges.length; i++) {
    for (let j = i + 1; j < ranges.length; j++) {
      const [na, a, sa] = ranges[i] as [string, bigint, bigint];
      const [nb, b, sb] = ranges[j] as [string, bigint, bigint];
      if (a < b + sb && b < a + sa) throw new GunyahDtConfigError('OVERLAP', nb, `${nb} overlaps ${na}`);
    }
  }
  const spis: [string, number][] = [];
  if (uart !== undefined) spis.push(['uart.spi', uart.spi]);
  virtioMmio.forEach((d, i) => spis.push([`virtioMmio[${i}].spi`, d.spi]));
  const seen = new Set<number>();
  for (const [field, spi] of spis) {
    if (!Number.isInteger(spi) || spi < 0 || spi >= GUNYAH_GIC_SPIS || seen.has(spi)) {
      throw new GunyahDtConfigError('BAD_IRQ', field, `SPI ${spi} is out of range 0..${GUNYAH_GIC_SPIS - 1} or used twice`);
    }
    seen.add(spi);
  }
  const imageName = config.vmConfig?.imageName ?? 'ts-vmm-linux';
  checkString('vmConfig.imageName', imageName, 80);
  checkString('vmConfig.osType', config.vmConfig?.osType ?? 'linux', 256);
  for (const [i, a] of (config.vmConfig?.vmAttrs ?? []).entries()) checkString(`vmConfig.vmAttrs[${i}]`, a, 256);
  if (config.chosen?.bootargs !== undefined) checkString('chosen.bootargs', config.chosen.bootargs, 4096, true);
  if (config.chosen?.stdoutPath !== undefined) checkString('chosen.stdoutPath', config.chosen.stdoutPath, 256);
  const baseAddress = config.vmConfig?.baseAddress ?? memoryBase;
  const sizeMax = config.vmConfig?.sizeMax ?? memorySize;
  if (baseAddress % MIB2 !== 0n || baseAddress < memoryBase || baseAddress >= memoryBase + memorySize) {
    throw new GunyahDtConfigError('BAD_MEMORY', 'vmConfig.baseAddress', 'base-address must be 2 MiB aligned and inside RAM');
  }
  if (sizeMax <= 0n || sizeMax % PAGE !== 0n || baseAddress + sizeMax > U64) {
    throw new GunyahDtConfigError('BAD_MEMORY', 'vmConfig.sizeMax', 'size-max must be page aligned and not wrap');
  }
  const initrd = config.chosen?.initrd;
  if (initrd !== undefined && (initrd.end <= initrd.start || initrd.start < memoryBase || initrd.end > memoryBase + memorySize)) {
    throw new GunyahDtConfigError('BAD_INITRD', 'chosen.initrd', 'initrd must be a non-empty range inside RAM');
  }
  const doorbells = spis.map(([, spi]) => ({ label: spi, spi, trigger: 1, path: `/gunyah-vm-config/vdevices/bell-${spi}` }));
  return { raw: config, memoryBase, memorySize, vcpus, gicdBase, gicrBase, uart, virtioMmio, doorbells, imageName, baseAddress, sizeMax };
}

const n = (name: string, props: FdtProperty[], children: FdtNode[] = []): FdtNode => new FdtNode(name, props, children);
const u32 = FdtProperty.u32;
const u64 = FdtProperty.u64;
const s = FdtProperty.strings;
const e = FdtProperty.empty;

/**
 * Builds the devicetree a Gunyah VMM hands to the Resource Manager (spec
 * gunyah-vm-devicetree.md §8): the guest platform description (`/chosen`, `/memory` named
 * exactly `memory`, `/cpus` with PSCI enable-method, a PSCI node with `method = "hvc"`, GICv3,
 * architected timer, 8250 UART, virtio-mmio transports) and `/gunyah-vm-config` (image name,
 * memory base/size with explicit 2/2 cells, `interrupts/config` pointing at the GIC,
 * proxy-scheduled vCPUs, one doorbell vdevice per interrupt the VMM injects). It never writes
 * `/hypervisor`, `/reserved-memory` or `kaslr-seed`: the RM adds those.
 *
 * @param config - the VM description; every field has a default.
 * @returns the DTB bytes, the tree and the resolved configuration.
 * @throws {GunyahDtConfigError} for a configuration the spec does not allow.
 * @example
 * ```ts
 * const { dtb, resolved } = buildGunyahVmDt({ vcpus: 2, chosen: { bootargs: 'console=ttyS0' } });
 * // place dtb in guest RAM; bind an irqfd per resolved.doorbells[i].label
 * ```
 */
export function buildGunyahVmDt(config: GunyahVmDtConfig = {}): GunyahVmDt {
  const r = resolve(config);
  const gicName = `intc@${hex(r.gicdBase)}`;
  const uartName = r.uart === undefined ? undefined : `uart@${hex(r.uart.address)}`;

  const chosenProps: FdtProperty[] = [];
  const bootargs =
    config.chosen?.bootargs ??
    (r.uart === undefined ? undefined : `console=ttyS0,115200 earlycon=uart8250,mmio,0x${hex(r.uart.address)}`);
  if (bootargs !== undefined) chosenProps.push(s('bootargs', bootargs));
  const stdout = config.chosen?.stdoutPath ?? (uartName === undefined ? undefined : `/${uartName}`);
  if (stdout !== undefined) chosenProps.push(s('stdout-path', stdout));
  if (config.chosen?.initrd !== undefined) {
    chosenProps.push(u64('linux,initrd-start', config.chosen.initrd.start), u64('linux,initrd-end', config.chosen.initrd.end));
  }

  const cpus: FdtNode[] = [];
  for (let i = 0; i < r.vcpus; i++) {
    // Linear MPIDR mapping (spec §2.3): Aff0 = index bits 7:0, Aff1 = the next bits.
    cpus.push(
      n(`cpu@${hex(BigInt(i))}`, [s('device_type', 'cpu'), s('compatible', 'arm,armv8'), u32('reg', i), s('enable-method', 'psci')]),
    );
  }
  const gicrSize = GICR_FRAME_SIZE * BigInt(r.vcpus);
  // PPI flags: CPU mask in bits 15:8 (one bit per CPU, at most 8) | level-low (8).
  const ppiFlags = ((((1 << Math.min(r.vcpus, 8)) - 1) << 8) | 8) >>> 0;
  const timerProps = [
    s('compatible', 'arm,armv8-timer'),
    u32('interrupts', 1, 13, ppiFlags, 1, 14, ppiFlags, 1, 11, ppiFlags, 1, 10, ppiFlags),
    e('always-on'),
  ];
  if (config.timer?.clockFrequency !== undefined) timerProps.push(u32('clock-frequency', config.timer.clockFrequency));

  const devices: FdtNode[] = [];
  if (r.uart !== undefined && uartName !== undefined) {
    devices.push(
      n(uartName, [
        s('compatible', 'ns16550a'),
        u64('reg', r.uart.address, 8n),
        u32('interrupts', 0, r.uart.spi, 1),
        u32('clock-frequency', r.uart.clockFrequency),
      ]),
    );
  }
  for (const d of r.virtioMmio) {
    devices.push(
      n(`virtio_mmio@${hex(d.address)}`, [
        s('compatible', 'virtio,mmio'),
        u64('reg', d.address, d.size),
        u32('interrupts', 0, d.spi, 1),
        e('dma-coherent'),
      ]),
    );
  }

  const bells = r.doorbells.map((b) =>
    n(`bell-${b.spi}`, [
      s('vdevice-type', 'doorbell'),
      s('generate', `/hypervisor/bell-${b.spi}`),
      u32('label', b.label),
      e('peer-default'),
      e('source-can-clear'),
      u32('interrupts', 0, b.spi, b.trigger),
    ]),
  );
  const vmProps = [u32('#address-cells', 2), u32('#size-cells', 2), e('ranges'), s('image-name', r.imageName), s('os-type', config.vmConfig?.osType ?? 'linux')];
  if (config.vmConfig?.vmAttrs !== undefined && config.vmConfig.vmAttrs.length > 0) vmProps.push(s('vm-attrs', ...config.vmConfig.vmAttrs));
  const vmConfig = n('gunyah-vm-config', vmProps, [
    n('memory', [u64('base-address', r.baseAddress), u64('size-max', r.sizeMax)]),
    n('interrupts', [u32('config', GIC_PHANDLE)]),
    n('vcpus', [s('affinity', 'proxy')]),
    n('vdevices', [s('generate', '/hypervisor')], bells),
  ]);

  const root = n(
    '',
    [s('compatible', 'linux,dummy-virt'), u32('#address-cells', 2), u32('#size-cells', 2), u32('interrupt-parent', GIC_PHANDLE)],
    [
      n('chosen', chosenProps),
      n('memory', [s('device_type', 'memory'), u64('reg', r.memoryBase, r.memorySize)]),
      n('cpus', [u32('#address-cells', 1), u32('#size-cells', 0)], cpus),
      n('psci', [s('compatible', ...(config.psci?.compatible ?? ['arm,psci-1.0', 'arm,psci-0.2'])), s('method', 'hvc')]),
      n(gicName, [
        s('compatible', 'arm,gic-v3'),
        u32('#interrupt-cells', 3),
        u32('#address-cells', 2),
        u32('#size-cells', 2),
        e('interrupt-controller'),
        u32('#redistributor-regions', 1),
        u64('reg', r.gicdBase, GICD_SIZE, r.gicrBase, gicrSize),
        u32('phandle', GIC_PHANDLE),
      ]),
      n('timer', timerProps),
      ...devices,
      vmConfig,
    ],
  );
  const tree = new DeviceTree(root);
  const { raw: _raw, ...resolved } = r;
  return { tree, dtb: serializeDtb(tree), resolved };
}
