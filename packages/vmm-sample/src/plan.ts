/**
 * The VM plan: one pure function from the configuration and what the input files say (kernel header,
 * file sizes, the user's DTB bytes) to everything the VMM will do — RAM range, where kernel, initrd
 * and DTB go, the devicetree bytes, the console UART and its doorbell, the per-variant memory
 * registration and boot entry. `--dry-run` prints it; `Vmm.create` executes it.
 *
 * @module
 */
import {
  DeviceTree,
  FdtNode,
  FdtProperty,
  buildGunyahVmDt,
  parseDtb,
  readGunyahVmConfig,
  serializeDtb,
  toDts,
  validateGunyahVmDt,
  type GunyahVdeviceInfo,
} from '@gunyah-ts/devicetree';
import { ARM64_CMDLINE_CAPACITY, planLayout, type KernelLayoutInfo, type LayoutPlan } from '@gunyah-ts/vm-memory/loader';
import { ConfigError, DEFAULTS, type VmmConfig } from './config.js';
import { formatSize } from './size.js';
import { describeVirtio, generatedVirtioWindows, placeGenerated, placeInUserDt, virtioRequests, type PlannedVirtioDevice } from './virtio.js';

/** A `/dev/gunyah` ABI variant (spec/gunyah-uapi.md §0). */
export type Variant = 'A' | 'B' | 'C';

/** What the input files say, as {@link planVm} needs it (read by the VMM, or made up by tests). */
export interface PlanInputs {
  /** The kernel's `Image` header (effective `text_offset` and `image_size`). */
  readonly kernel: KernelLayoutInfo;
  /** Size of the (decompressed) kernel when known; required for legacy images. */
  readonly kernelFileSize: number | undefined;
  /** Size of the initrd file, when one is configured. */
  readonly initrdSize: number | undefined;
  /** The user's DTB bytes, when `--dtb` is given. */
  readonly userDtb: Uint8Array | undefined;
  /** The ABI variant to plan for. */
  readonly variant: Variant;
  /** Host page size (default 4096). */
  readonly pageSize?: number;
}

/** The console UART as the devicetree describes it. */
export interface PlannedUart {
  /** Guest-physical address of the 8 registers. */
  readonly address: bigint;
  /** GIC SPI number, when the DT gives one. */
  readonly spi: number | undefined;
  /** The doorbell label whose irqfd raises that SPI (`undefined`: no doorbell for it in the DT). */
  readonly irqLabel: number | undefined;
}

/** How guest RAM is registered with the driver, per variant (spec/gunyah-uapi.md Appendix B). */
export type MemoryRegistration =
  | {
      /** A and C: `SET_USER_MEM_REGION` over a swap-backed memfd mapping, shared with the guest. */
      readonly kind: 'user-region';
      /** Shared: the host keeps access (device models may read guest memory). */
      readonly mode: 'share';
    }
  | {
      /** B: `CREATE_GUEST_MEM` + `MAP_MEM`, lent; the host unmaps it before `VM_START`. */
      readonly kind: 'guest-memfd';
      /** Lent: the DTB pages must be in a lend binding in v17 (spec §5.3). */
      readonly mode: 'lend';
    };

/** Everything the VMM will set up. */
export interface VmPlan {
  /** The ABI variant planned for. */
  readonly variant: Variant;
  /** Where the devicetree came from. */
  readonly dtbSource: 'generated' | 'user';
  /** Guest RAM. */
  readonly memory: {
    /** Guest-physical base. */
    readonly base: bigint;
    /** Bytes. */
    readonly size: bigint;
  };
  /** Kernel, initrd and DTB placement (from `@gunyah-ts/vm-memory/loader`). */
  readonly layout: LayoutPlan;
  /** The final DTB bytes (written into the DTB window; the rest of the window stays zero for the RM's overlay). */
  readonly dtb: Uint8Array;
  /** The final devicetree. */
  readonly tree: DeviceTree;
  /** Number of vCPUs (ids 0..n−1). */
  readonly vcpus: number;
  /** The console UART, when the DT has one. */
  readonly uart: PlannedUart | undefined;
  /** The kernel command line in `/chosen/bootargs`. */
  readonly bootargs: string | undefined;
  /** The virtio-mmio devices (disks first, then console and rng), with windows and doorbell labels. */
  readonly virtio: readonly PlannedVirtioDevice[];
  /** Virtio devices left out because a user DT has no room for them (shown by `--dry-run`). */
  readonly virtioNotes: readonly string[];
  /** How RAM is registered. */
  readonly registration: MemoryRegistration;
  /** B/C: the boot vCPU's PC and X0 (`SET_BOOT_CONTEXT`); A: `undefined` (kernel at the start of RAM). */
  readonly bootContext:
    | {
        /** Entry point (the kernel's load address). */
        readonly pc: bigint;
        /** The DTB's guest-physical address. */
        readonly x0: bigint;
      }
    | undefined;
  /** Things the user should know (printed at normal verbosity). */
  readonly warnings: readonly string[];
}

const MIB2 = 2n << 20n;
const UART_COMPATIBLES = new Set(['ns16550a', 'ns16550', 'ns8250', 'uart8250', 'snps,dw-apb-uart']);

const hex = (v: bigint | number): string => `0x${v.toString(16)}`;

function checkCmdline(text: string): void {
  if (text.length >= ARM64_CMDLINE_CAPACITY) {
    throw new ConfigError('BAD_CMDLINE', `--cmdline is ${text.length} bytes; arm64 kernels take at most ${ARM64_CMDLINE_CAPACITY - 1}`);
  }
  if (!/^[\x20-\x7e]*$/.test(text)) throw new ConfigError('BAD_CMDLINE', '--cmdline may contain printable ASCII only');
}

function toNumber(v: bigint | undefined, what: string): number | undefined {
  if (v === undefined) return undefined;
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ConfigError('BAD_LAYOUT', `${what} ${hex(v)} is too large`);
  return Number(v);
}

function cellsOf(node: FdtNode, name: string, dflt: number): number {
  const p = node.property(name);
  return p !== undefined && p.value.length === 4 ? p.asU32() : dflt;
}

/** The RAM range of a user DT: `/memory` `reg` (root cells), else `/gunyah-vm-config/memory`. */
function dtMemory(tree: DeviceTree, cfgBase: bigint | undefined, cfgSize: bigint | undefined): { base: bigint; size: bigint } {
  const ac = cellsOf(tree.root, '#address-cells', 2);
  const sc = cellsOf(tree.root, '#size-cells', 1);
  const mem = tree.root.child('memory');
  const reg = mem?.property('reg');
  if (reg !== undefined && (ac === 1 || ac === 2) && (sc === 1 || sc === 2) && reg.value.length >= (ac + sc) * 4) {
    const v = new DataView(reg.value.buffer, reg.value.byteOffset, reg.value.byteLength);
    const read = (off: number, cells: number): bigint => (cells === 2 ? v.getBigUint64(off, false) : BigInt(v.getUint32(off, false)));
    return { base: read(0, ac), size: read(ac * 4, sc) };
  }
  if (cfgBase !== undefined && cfgSize !== undefined) return { base: cfgBase, size: cfgSize };
  throw new ConfigError('BAD_DTB', 'the DTB describes no guest RAM (/memory reg or /gunyah-vm-config/memory base-address and size-max)');
}

/** The first 8250-compatible node, searched breadth-first (bounded by the tree's size). */
function dtUart(tree: DeviceTree, doorbells: readonly GunyahVdeviceInfo[]): PlannedUart | undefined {
  for (const e of tree.walk()) {
    const compat = e.node.property('compatible');
    let names: string[] = [];
    try {
      names = compat?.asStringList() ?? [];
    } catch {
      continue;
    }
    if (!names.some((n) => UART_COMPATIBLES.has(n))) continue;
    const reg = e.node.property('reg');
    if (reg === undefined || reg.value.length < 4) continue;
    const v = new DataView(reg.value.buffer, reg.value.byteOffset, reg.value.byteLength);
    const address = reg.value.length >= 8 ? v.getBigUint64(0, false) : BigInt(v.getUint32(0, false));
    const irq = e.node.property('interrupts');
    let spi: number | undefined;
    if (irq !== undefined && irq.value.length >= 12) {
      const cells = irq.asU32Array();
      if (cells[0] === 0) spi = cells[1];
    }
    const bell = spi === undefined ? undefined : doorbells.find((d) => d.type === 'doorbell' && d.interrupts?.[0] === 0 && d.interrupts[1] === spi && d.label !== undefined);
    return { address, spi, irqLabel: bell?.label };
  }
  return undefined;
}

/** Replace `/chosen` properties in a user tree (which has a `/chosen` node by now). */
function patchChosen(tree: DeviceTree, bootargs: string | undefined, initrd: { start: bigint; end: bigint } | undefined): DeviceTree {
  const out = tree.update('/chosen', (node) => {
    let n = node;
    if (bootargs !== undefined) n = n.withProperty(FdtProperty.strings('bootargs', bootargs));
    for (const name of ['linux,initrd-start', 'linux,initrd-end']) if (n.has(name)) n = n.withoutProperty(name);
    if (initrd !== undefined) {
      n = n.withProperty(FdtProperty.u64('linux,initrd-start', initrd.start)).withProperty(FdtProperty.u64('linux,initrd-end', initrd.end));
    }
    return n;
  });
  return out as DeviceTree;
}

function registrationFor(variant: Variant): MemoryRegistration {
  return variant === 'B' ? { kind: 'guest-memfd', mode: 'lend' } : { kind: 'user-region', mode: 'share' };
}

/**
 * Plan the VM. Pure: no files, no syscalls. With a user DTB, RAM and the vCPU count come from the
 * DT (`--mem`, `--base`, `--cpus` must then agree with it or be left at their defaults), `/chosen`
 * gets the initrd range and, with `--cmdline`, the bootargs. Without one, the DT is generated with
 * `buildGunyahVmDt` (UART at 0x3f8 on SPI 0 with doorbell label 0, proxy-scheduled vCPUs, and one
 * virtio-mmio window per device from 0x0a00_0000 on SPIs 16, 17, … with doorbells labelled alike).
 * With a user DT the virtio devices take its `virtio,mmio` nodes in address order.
 *
 * Under variant B (all RAM lent) no virtio device is planned: `--disk` is refused and the default
 * console and rng are left out with a note.
 *
 * @example
 * ```ts
 * const plan = planVm(config, { kernel: header, kernelFileSize: 30 << 20, initrdSize: 2 << 20, userDtb: undefined, variant: 'C' });
 * console.log(formatPlan(plan));
 * ```
 * @throws {ConfigError} BAD_DTB (malformed DT or one the Resource Manager would refuse, or too few
 *   `virtio,mmio` nodes for `--disk`), BAD_DISK (`--disk` under variant B), BAD_LAYOUT
 *   (the DT or options disagree, variant A with the entry not at the start of RAM), BAD_CMDLINE
 * @throws {LayoutError} from `planLayout` (image too big for memory, overlapping placement, …)
 */
export function planVm(config: VmmConfig, inputs: PlanInputs): VmPlan {
  const warnings: string[] = [];
  const page = inputs.pageSize ?? 4096;
  if (config.cmdline !== undefined) checkCmdline(config.cmdline);
  const layoutFor = (base: bigint, size: bigint, dtbSize: number | undefined): LayoutPlan =>
    planLayout({
      memSize: toNumber(size, 'RAM size') as number,
      base,
      kernel: inputs.kernel,
      ...(inputs.kernelFileSize !== undefined ? { kernelFileSize: inputs.kernelFileSize } : {}),
      ...(config.kernelOffset !== undefined ? { kernelOffset: toNumber(config.kernelOffset, '--kernel-offset') as number } : {}),
      initrdSize: inputs.initrdSize ?? 0,
      ...(config.initrdOffset !== undefined ? { initrdOffset: toNumber(config.initrdOffset, '--initrd-offset') as number } : {}),
      ...(dtbSize !== undefined ? { dtbSize } : {}),
      ...(config.dtbReserved !== undefined ? { dtbReservedSize: toNumber(config.dtbReserved, '--dtb-reserve') as number } : {}),
      ...(config.dtbOffset !== undefined ? { dtbOffset: toNumber(config.dtbOffset, '--dtb-offset') as number } : {}),
      pageSize: page,
    });
  const initrdRange = (layout: LayoutPlan): { start: bigint; end: bigint } | undefined =>
    layout.initrd === undefined || inputs.initrdSize === undefined || inputs.initrdSize === 0
      ? undefined
      : { start: layout.initrd.address, end: layout.initrd.address + BigInt(inputs.initrdSize) };

  let memory: { base: bigint; size: bigint };
  let layout: LayoutPlan;
  let tree: DeviceTree;
  let dtb: Uint8Array;
  let vcpus: number;
  let uart: PlannedUart | undefined;
  let bootargs: string | undefined;
  let virtio: PlannedVirtioDevice[];
  const virtioNotes: string[] = [];
  let requests = virtioRequests(config);
  if (inputs.variant === 'B' && requests.length > 0) {
    // Variant B lends all guest RAM (guest_memfd, MAP_MEM lend; spec/gunyah-uapi.md §6.5): the
    // host loses access, so a virtio device could never read its virtqueues. Refuse what the user
    // asked for by name; leave out the devices that are added by default.
    if (requests.some((r) => r.kind === 'block')) {
      throw new ConfigError(
        'BAD_DISK',
        '--disk needs a virtio-blk device, but variant B lends all guest RAM to the VM, so the VMM cannot read its virtqueues; use --abi A or C for disks',
      );
    }
    virtioNotes.push('none: variant B lends all guest RAM, so the VMM could not read virtqueues (no /dev/hvc0, no /dev/hwrng)');
    requests = [];
  }

  if (inputs.userDtb === undefined) {
    memory = { base: config.base, size: config.memSize };
    if (memory.size % MIB2 !== 0n) throw new ConfigError('BAD_LAYOUT', `--mem ${formatSize(memory.size)} is not a multiple of 2 MiB (Gunyah's memory size must be)`);
    vcpus = config.cpus;
    layout = layoutFor(memory.base, memory.size, undefined);
    bootargs = config.cmdline ?? 'console=ttyS0,115200 earlycon=uart8250,mmio,0x3f8';
    const initrd = initrdRange(layout);
    const built = buildGunyahVmDt({
      memory: { base: memory.base, size: memory.size },
      vcpus,
      uart: { address: 0x3f8n, spi: 0 },
      chosen: { bootargs, ...(initrd !== undefined ? { initrd } : {}) },
      ...(requests.length > 0 ? { virtioMmio: generatedVirtioWindows(requests) } : {}),
    });
    virtio = placeGenerated(requests, built.resolved.virtioMmio, built.resolved.doorbells);
    tree = built.tree;
    dtb = built.dtb;
    const r = built.resolved.uart;
    uart = r === undefined ? undefined : { address: r.address, spi: r.spi, irqLabel: built.resolved.doorbells.find((d) => d.spi === r.spi)?.label };
    if (dtb.byteLength > layout.dtb.size) {
      throw new ConfigError('BAD_LAYOUT', `the generated DTB (${dtb.byteLength} bytes) does not fit the ${layout.dtb.size}-byte DTB window (--dtb-reserve)`);
    }
  } else {
    let parsed: DeviceTree;
    try {
      parsed = parseDtb(inputs.userDtb);
    } catch (e) {
      throw new ConfigError('BAD_DTB', `the DTB is malformed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    // The VMM writes /chosen itself (initrd, bootargs): give the validator a tree that has it.
    if (parsed.root.child('chosen') === undefined) parsed = new DeviceTree(parsed.root.withChild(new FdtNode('chosen', [])), parsed.memReservations, parsed.bootCpuid);
    const violations = validateGunyahVmDt(parsed);
    const errors = violations.filter((v) => v.severity === 'error');
    if (errors.length > 0) {
      const first = errors[0] as (typeof errors)[number];
      const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
      throw new ConfigError('BAD_DTB', `the DTB would be refused by the Resource Manager: ${first.rule} at ${first.path}: ${first.message}${more}`);
    }
    for (const w of violations.filter((v) => v.severity === 'warning')) warnings.push(`DTB: ${w.rule} at ${w.path}: ${w.message}`);
    const info = readGunyahVmConfig(parsed);
    memory = dtMemory(parsed, info.baseAddress, info.sizeMax);
    if (config.memSize !== DEFAULTS.memSize && config.memSize !== memory.size) {
      throw new ConfigError('BAD_LAYOUT', `--mem ${formatSize(config.memSize)} disagrees with the DTB's RAM size ${formatSize(memory.size)}`);
    }
    if (config.base !== DEFAULTS.base && config.base !== memory.base) {
      throw new ConfigError('BAD_LAYOUT', `--base ${hex(config.base)} disagrees with the DTB's RAM base ${hex(memory.base)}`);
    }
    if (memory.base % MIB2 !== 0n || memory.size === 0n || memory.size % BigInt(page) !== 0n) {
      throw new ConfigError('BAD_DTB', `the DTB's RAM ${hex(memory.base)}+${hex(memory.size)} is not 2 MiB aligned or not a page multiple`);
    }
    vcpus = info.cpus.length;
    if (config.cpus !== DEFAULTS.cpus && config.cpus !== vcpus) {
      throw new ConfigError('BAD_LAYOUT', `--cpus ${config.cpus} disagrees with the DTB's ${vcpus} CPU nodes`);
    }
    uart = dtUart(parsed, info.vdevices);
    virtio = placeInUserDt(requests, parsed, info.vdevices, virtioNotes);
    if (uart === undefined) warnings.push('the DTB has no 8250 UART: there is no console');
    else if (uart.irqLabel === undefined) {
      warnings.push(`the DTB has no doorbell for the UART's interrupt${uart.spi === undefined ? '' : ` (SPI ${uart.spi})`}: console interrupts cannot reach the guest`);
    }
    if (uart !== undefined && uart.address !== 0x3f8n) warnings.push(`console UART at ${hex(uart.address)} (crosvm and the generated DT use 0x3f8)`);
    // Measure with placeholder initrd bounds (fixed-size properties), plan, then patch for real.
    const placeholder = inputs.initrdSize ? { start: 0n, end: 0n } : undefined;
    const sized = serializeDtb(patchChosen(parsed, config.cmdline, placeholder));
    layout = layoutFor(memory.base, memory.size, sized.byteLength);
    tree = patchChosen(parsed, config.cmdline, initrdRange(layout));
    dtb = serializeDtb(tree);
    try {
      bootargs = tree.root.child('chosen')?.property('bootargs')?.asString();
    } catch {
      bootargs = undefined;
    }
  }

  if (inputs.variant === 'A' && !layout.entryAtBase) {
    throw new ConfigError(
      'BAD_LAYOUT',
      `variant A has no boot context: the kernel entry must be the start of RAM, but it is ${hex(layout.kernel.entry)} (RAM at ${hex(memory.base)}; drop --kernel-offset or use a kernel with text_offset 0)`,
    );
  }
  return {
    variant: inputs.variant,
    dtbSource: inputs.userDtb === undefined ? 'generated' : 'user',
    memory,
    layout,
    dtb,
    tree,
    vcpus,
    uart,
    bootargs,
    virtio,
    virtioNotes,
    registration: registrationFor(inputs.variant),
    bootContext: inputs.variant === 'A' ? undefined : { pc: layout.kernel.entry, x0: layout.dtb.address },
    warnings,
  };
}

function line(name: string, text: string): string {
  return `${name.padEnd(10)}${text}`;
}

function span(start: bigint, size: bigint | number): string {
  const end = start + BigInt(size) - 1n;
  return `${hex(start).padStart(12)}..${hex(end).padEnd(12)} ${formatSize(BigInt(size)).padStart(9)}`;
}

/**
 * The plan as text for `--dry-run` (and `--verbose`): the memory map, the per-variant calls, the
 * console and the devicetree as DTS.
 *
 * @param plan - the plan
 * @param options - `dts: false` leaves the DTS out
 */
export function formatPlan(plan: VmPlan, options: { readonly dts?: boolean } = {}): string {
  const l = plan.layout;
  const out: string[] = [];
  out.push(`# vmm-sample plan: variant ${plan.variant}, ${plan.dtbSource} devicetree, ${plan.vcpus} vCPU${plan.vcpus === 1 ? '' : 's'}`);
  const reg = plan.registration.kind === 'guest-memfd' ? 'guest_memfd, MAP_MEM lend (unmapped from the host before start)' : 'memfd, SET_USER_MEM_REGION share';
  out.push(line('RAM', `${span(plan.memory.base, plan.memory.size)}  ${reg}`));
  out.push(line('kernel', `${span(l.kernel.address, l.kernel.size)}  entry ${hex(l.kernel.entry)}, text_offset ${hex(l.kernel.textOffset)}`));
  if (l.initrd !== undefined) out.push(line('initrd', `${span(l.initrd.address, l.initrd.size)}`));
  out.push(line('dtb', `${span(l.dtb.address, l.dtb.size)}  DTB ${plan.dtb.byteLength} bytes; SET_DTB_CONFIG ${hex(l.dtb.address)} size ${hex(l.dtb.size)}`));
  out.push(
    line(
      'boot',
      plan.bootContext === undefined
        ? `kernel at offset 0 of the DTB's region (variant A: no boot context)`
        : `SET_BOOT_CONTEXT PC=${hex(plan.bootContext.pc)} X0=${hex(plan.bootContext.x0)}`,
    ),
  );
  out.push(
    line(
      'console',
      plan.uart === undefined
        ? 'none'
        : `8250 UART at ${hex(plan.uart.address)}${plan.uart.spi === undefined ? '' : `, SPI ${plan.uart.spi}`}${plan.uart.irqLabel === undefined ? ', no doorbell' : `, irqfd on doorbell label ${plan.uart.irqLabel}`}`,
    ),
  );
  for (const d of plan.virtio) out.push(line('virtio', describeVirtio(d)));
  for (const n of plan.virtioNotes) out.push(line('virtio', n));
  if (plan.bootargs !== undefined) out.push(line('bootargs', plan.bootargs));
  for (const w of plan.warnings) out.push(line('warning', w));
  if (options.dts !== false) {
    out.push('');
    out.push(toDts(plan.tree).trimEnd());
  }
  return out.join('\n') + '\n';
}
