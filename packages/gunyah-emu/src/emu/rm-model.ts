/**
 * The emulator's Resource Manager: `FakeRm` (rm-proto) served synchronously, plus what the RM
 * does with the guest devicetree (spec/gunyah-rm-protocol.md §7): at VM_INIT it reads and
 * validates the VMM's DTB from the image parcel, at VM_GET_HYP_RESOURCES it hands out one vCPU
 * resource per CPU node and one doorbell per doorbell vdevice, and at VM_START it applies its
 * overlay (`/hypervisor`, `/memory`, `/chosen/kaslr-seed`, capabilities) inside the DTB window.
 *
 * Addresses: the emulator's "physical" address space is the guest IPA space, so parcel SGL
 * entries carry IPAs, and the RM reads and writes guest memory through an accessor the driver
 * registers per VM (design decision 4).
 *
 * @module
 */
import {
  FakeRm,
  RM_ERROR,
  RM_REQUESTS,
  RM_RESOURCE_TYPE,
  RM_VM_STATUS,
  RM_VMID,
  RmError,
  type FakeRmParcel,
  type FakeRmVm,
  type HypResource,
  type SglEntry,
  type SyncTransport,
} from '@gunyah-ts/rm-proto';
import { RmDtError, type RmMemoryRange, applyRmGuestOverlay, buildRmGuestOverlay, parseDtb, readGunyahVmConfig, readHeader, serializeDtb, type DeviceTree, type GunyahVmConfigInfo } from '@gunyah-ts/devicetree';

/** How the RM model reads and writes one VM's guest memory (IPA space). */
export interface GuestMemoryAccessor {
  /** Read `length` bytes at `ipa`; `undefined` when not backed. */
  read(ipa: bigint, length: number): Uint8Array | undefined;
  /** Write `bytes` at `ipa`; false when not backed. */
  write(ipa: bigint, bytes: Uint8Array): boolean;
}

/** A doorbell the guest receives, as the RM set it up. */
export interface RmDoorbell {
  /** `label`. */
  readonly label: number;
  /** Capability ID given to the host (DOORBELL_TX). */
  readonly capId: bigint;
  /** SPI number (INTID − 32) of the guest's interrupt. */
  readonly spi: number;
  /** Level-triggered (`interrupts` flags 4) rather than edge. */
  readonly level: boolean;
}

/** What the RM decided for a started VM (the emulator's execution layer builds KVM from it). */
export interface RmStartedVm {
  /** VMID. */
  readonly vmid: number;
  /** The guest devicetree after the overlay, as written into the DTB window. */
  readonly dtb: Uint8Array;
  /** The overlaid tree. */
  readonly tree: DeviceTree;
  /** The configuration parsed at VM_INIT. */
  readonly config: GunyahVmConfigInfo;
  /** GICv3 distributor base. */
  readonly gicdBase: bigint;
  /** GICv3 redistributor base. */
  readonly gicrBase: bigint;
  /** Doorbells by label. */
  readonly doorbells: ReadonlyMap<number, RmDoorbell>;
  /** IPA of the DTB. */
  readonly dtbAddress: bigint;
  /** Base IPA of the image parcel (the default entry point, spec uapi §7.1) plus the image offset. */
  readonly entry: bigint;
  /** Boot registers set with VM_SET_BOOT_CONTEXT, keyed `regSet << 8 | regIndex`. */
  readonly bootContext: ReadonlyMap<number, bigint>;
  /** Memory ranges the VM accepted (parcels and demand-paged ranges). */
  readonly memory: readonly RmMemoryRange[];
}

/** Options of {@link EmuRm}. */
export interface EmuRmOptions {
  /** Problems that belong to no reply. */
  readonly onError?: (error: unknown) => void;
  /** `kaslr-seed` source; default `crypto.getRandomValues`. */
  readonly kaslrSeed?: () => bigint;
}

interface VmExtra {
  accessor: GuestMemoryAccessor | undefined;
  config: GunyahVmConfigInfo | undefined;
  tree: DeviceTree | undefined;
  demandPaging: SglEntry[];
  layout: { base: bigint; size: bigint } | undefined;
  bootContext: Map<number, bigint>;
  started: RmStartedVm | undefined;
}

const WORK_HEAP = 16 * 1024; // RM works in a 16 KiB heap buffer when the result fits (spec §7.2)
const MAX_DTB_WINDOW = 0x20_0000;
const CAP_VCPU_BASE = 0x1000n;
const CAP_DOORBELL_BASE = 0x2000n;

function rmFail(code: 'ARGUMENT_INVALID' | 'DENIED' | 'MEM_INVALID' | 'VM_STATE' | 'VMID_INVALID', cause?: unknown): never {
  throw new RmError(code, cause === undefined ? {} : { cause });
}

function parcelAddress(p: FakeRmParcel, offset: bigint): bigint | undefined {
  let left = offset;
  for (const e of p.sgl) {
    if (left < e.size) return e.address + left;
    left -= e.size;
  }
  return undefined;
}

/**
 * The emulator's RM model: a synchronous `FakeRm` (rm-proto) that knows the guest devicetree.
 *
 * @example
 * ```ts
 * const [hostEnd, rmEnd] = createSyncTransportPair();
 * const rm = new EmuRm(rmEnd);
 * const client = new RmSyncClient(hostEnd);
 * ```
 */
export class EmuRm extends FakeRm {
  readonly #extra = new Map<number, VmExtra>();
  readonly #seed: () => bigint;

  /**
   * @param transport - the RM end of a synchronous link.
   * @param options - error sink, seed source.
   */
  constructor(transport: SyncTransport, options: EmuRmOptions = {}) {
    super(transport, { synchronous: true, ...(options.onError === undefined ? {} : { onError: options.onError }) });
    this.#seed = options.kaslrSeed ?? (() => crypto.getRandomValues(new BigUint64Array(1))[0] ?? 0n);
    const s = this.server;
    s.handle('VM_SET_DEMAND_PAGING', (req) => {
      const x = this.#configurable(req.vmid, [RM_VM_STATUS.INIT]);
      for (const r of req.ranges) {
        if ((r.address & 0xfffn) !== 0n || (r.size & 0xfffn) !== 0n || r.size === 0n) rmFail('ARGUMENT_INVALID');
      }
      x.demandPaging.push(...req.ranges);
      return {};
    });
    s.handle('VM_SET_ADDRESS_LAYOUT', (req) => {
      const x = this.#configurable(req.vmid, [RM_VM_STATUS.INIT]);
      x.layout = { base: req.base, size: req.size };
      return {};
    });
    s.handle('VM_SET_BOOT_CONTEXT', (req) => {
      this.#setBoot(req);
      return {};
    });
    // v17 numbering (variant B): same payload as the ACK request (spec uapi §7, §8)
    s.handleRaw(RM_REQUESTS.VM_SET_BOOT_CONTEXT_V15.id, (payload) => {
      let req;
      try {
        req = RM_REQUESTS.VM_SET_BOOT_CONTEXT.request.decode(payload);
      } catch (cause) {
        throw new RmError('MSG_INVALID', { cause });
      }
      this.#setBoot(req);
      return new Uint8Array(0);
    });
  }

  #setBoot(req: { vmid: number; regSet: number; regIndex: number; value: bigint }): void {
    const x = this.#configurable(req.vmid, [RM_VM_STATUS.INIT, RM_VM_STATUS.READY]);
    const max = [31, 0, 2][req.regSet];
    if (max === undefined || req.regIndex > max) rmFail('ARGUMENT_INVALID');
    x.bootContext.set((req.regSet << 8) | req.regIndex, req.value);
  }

  #configurable(vmid: number, states: number[]): VmExtra {
    const vm = this.vm(vmid);
    if (vm === undefined) rmFail('VMID_INVALID');
    if (vm.owner !== RM_VMID.HLOS) rmFail('DENIED');
    if (!states.includes(vm.status)) rmFail('VM_STATE');
    return this.#x(vmid);
  }

  #x(vmid: number): VmExtra {
    let x = this.#extra.get(vmid);
    if (x === undefined) {
      x = { accessor: undefined, config: undefined, tree: undefined, demandPaging: [], layout: undefined, bootContext: new Map(), started: undefined };
      this.#extra.set(vmid, x);
    }
    return x;
  }

  /** Registers how the RM reaches VM `vmid`'s memory (the driver does this after VM_ALLOC_VMID). */
  attachMemory(vmid: number, accessor: GuestMemoryAccessor): void {
    this.#x(vmid).accessor = accessor;
  }

  /** Forgets everything about `vmid` (after VM_DEALLOC_VMID). */
  forget(vmid: number): void {
    this.#extra.delete(vmid);
  }

  /** What the RM decided at VM_START for `vmid`, or `undefined` before a successful start. */
  started(vmid: number): RmStartedVm | undefined {
    return this.#extra.get(vmid)?.started;
  }

  /** Demand-paged ranges registered for `vmid` (VM_SET_DEMAND_PAGING). */
  demandPaging(vmid: number): readonly SglEntry[] {
    return this.#extra.get(vmid)?.demandPaging ?? [];
  }

  #dtbWindow(vm: FakeRmVm): { address: bigint; size: number } {
    const image = vm.image;
    const handle = vm.imageHandle;
    const parcel = handle === null ? undefined : this.parcel(handle);
    if (image === null || parcel === undefined) rmFail('MEM_INVALID');
    const address = parcelAddress(parcel, image.dtbOffset);
    if (address === undefined) rmFail('ARGUMENT_INVALID');
    const size = image.dtbSize > BigInt(MAX_DTB_WINDOW) ? MAX_DTB_WINDOW : Number(image.dtbSize);
    return { address, size };
  }

  #readDtb(vm: FakeRmVm, x: VmExtra): { tree: DeviceTree; address: bigint; window: number } {
    if (x.accessor === undefined) rmFail('MEM_INVALID');
    const { address, size } = this.#dtbWindow(vm);
    if (size < 40) rmFail('ARGUMENT_INVALID');
    const bytes = x.accessor.read(address, size);
    if (bytes === undefined) rmFail('MEM_INVALID');
    try {
      const header = readHeader(bytes, size); // totalsize must fit the window (spec §7.2)
      return { tree: parseDtb(bytes.subarray(0, header.totalsize)), address, window: size };
    } catch (cause) {
      rmFail('ARGUMENT_INVALID', cause);
    }
  }

  /** VM_INIT: read and validate the VMM's devicetree as the RM does (spec §7.1). */
  protected override initVm(vm: FakeRmVm): void {
    const x = this.#x(vm.vmid);
    const { tree } = this.#readDtb(vm, x);
    try {
      x.config = readGunyahVmConfig(tree);
    } catch (cause) {
      rmFail('ARGUMENT_INVALID', cause);
    }
    x.tree = tree;
  }

  /** VM_GET_HYP_RESOURCES: a vCPU per CPU node (label = index), a DOORBELL_TX per doorbell (label). */
  protected override vmResources(vm: FakeRmVm, callerVmid: number): HypResource[] {
    const config = this.#extra.get(vm.vmid)?.config;
    if (vm.owner !== callerVmid || config === undefined) return [];
    const out: HypResource[] = [];
    const base = { partnerVmid: 0, resourceHandle: 0, virqHandle: 0, virq: 0, base: 0n, size: 0n };
    config.cpus.forEach((_, i) => out.push({ ...base, type: RM_RESOURCE_TYPE.VCPU, resourceLabel: i, capId: CAP_VCPU_BASE + BigInt(i) }));
    config.vdevices
      .filter((d) => d.type === 'doorbell')
      .forEach((d, i) => out.push({ ...base, type: RM_RESOURCE_TYPE.DOORBELL_TX, partnerVmid: vm.vmid, resourceLabel: d.label ?? 0, capId: CAP_DOORBELL_BASE + BigInt(i) }));
    return out;
  }

  /** VM_START: apply the overlay inside the DTB window and record what execution needs (spec §7.2). */
  protected override startVm(vm: FakeRmVm): void {
    const x = this.#x(vm.vmid);
    if (x.config === undefined || x.accessor === undefined) rmFail('VM_STATE');
    const { tree, address, window } = this.#readDtb(vm, x);
    const memory: { base: bigint; size: bigint }[] = [];
    for (const h of this.parcelHandles()) {
      const p = this.parcel(h);
      if (p === undefined || !p.complete || !p.acl.some((e) => e.vmid === vm.vmid)) continue;
      for (const e of p.sgl) memory.push({ base: e.address, size: e.size });
    }
    for (const e of x.demandPaging) memory.push({ base: e.address, size: e.size });
    const bells = x.config.vdevices.filter((d) => d.type === 'doorbell' || d.type === 'doorbell-source');
    const options = {
      vmid: vm.vmid,
      ownerVmid: vm.owner,
      memory,
      kaslrSeed: this.#seed() & 0xffff_ffff_ffff_ffffn,
      vcpuCapIds: x.config.cpus.map((_, i) => CAP_VCPU_BASE + BigInt(i)),
      doorbellCapIds: bells.map((_, i) => CAP_DOORBELL_BASE + BigInt(i)),
    };
    let out: Uint8Array;
    let guest: DeviceTree;
    try {
      const original = serializeDtb(tree).length;
      const overlay = serializeDtb(buildRmGuestOverlay(tree, options)).length;
      const estimate = Math.ceil(original / 4) * 4 + overlay;
      if (estimate > WORK_HEAP && window < 2 * estimate) rmFail('ARGUMENT_INVALID');
      guest = applyRmGuestOverlay(tree, options);
      out = serializeDtb(guest);
    } catch (cause) {
      if (cause instanceof RmError) throw cause;
      if (cause instanceof RmDtError && cause.code === 'HYPERVISOR_EXISTS') rmFail('DENIED', cause);
      rmFail('ARGUMENT_INVALID', cause);
    }
    if (out.length > window) rmFail('ARGUMENT_INVALID');
    if (!x.accessor.write(address, out)) rmFail('MEM_INVALID');
    const gic = guest.findNode(x.config.gicPath);
    const ac = guest.root.property('#address-cells')?.asU32() ?? 2;
    const sc = guest.root.property('#size-cells')?.asU32() ?? 1;
    const reg = gic?.property('reg');
    let gicdBase = 0n;
    let gicrBase = 0n;
    if (reg !== undefined && reg.value.length >= 2 * (ac + sc) * 4) {
      const cells = reg.asCellNumbers(1);
      const num = (at: number, n: number): bigint => cells.slice(at, at + n).reduce((a, c) => (a << 32n) | c, 0n);
      gicdBase = num(0, ac);
      gicrBase = num(ac + sc, ac);
    } else {
      rmFail('ARGUMENT_INVALID');
    }
    const doorbells = new Map<number, RmDoorbell>();
    let nextVirq = 960;
    bells.forEach((b, i) => {
      if (b.type !== 'doorbell' || b.label === undefined) return;
      const irq = b.interrupts ?? [0, nextVirq++ - 32, 1];
      if (irq.length < 3 || irq[0] !== 0) return; // only SPIs reach KVM's irqfd routing
      doorbells.set(b.label, { label: b.label, capId: CAP_DOORBELL_BASE + BigInt(i), spi: irq[1] ?? 0, level: ((irq[2] ?? 0) & 0xf) === 4 || ((irq[2] ?? 0) & 0xf) === 8 });
    });
    const image = vm.image;
    const parcel = vm.imageHandle === null ? undefined : this.parcel(vm.imageHandle);
    const entry = parcel === undefined || image === null ? 0n : (parcelAddress(parcel, image.imageOffset) ?? 0n);
    x.started = {
      vmid: vm.vmid,
      dtb: out,
      tree: guest,
      config: x.config,
      gicdBase,
      gicrBase,
      doorbells,
      dtbAddress: address,
      entry,
      bootContext: new Map(x.bootContext),
      memory,
    };
  }

  /** The error code the RM answers for a DT it refuses at VM_INIT. */
  static readonly DT_REFUSED = RM_ERROR.ARGUMENT_INVALID;
}
