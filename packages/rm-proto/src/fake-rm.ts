/**
 * `FakeRm`: a reference RM model on {@link RmServer} that follows the public RM's behaviour for
 * the host link, as summarised in spec/gunyah-rm-protocol.md §6.3 (states, checks, error codes,
 * notification order). It serves tests and is a starting point for an emulator's RM.
 *
 * @module
 */
import {
  RM_ACL_RIGHTS,
  RM_AUTH,
  RM_EXIT_TYPE,
  RM_HOST_TYPE_GUNYAH_AARCH64,
  RM_MAX_LIST_ENTRIES,
  RM_MEM_FLAGS,
  RM_MEM_TYPE,
  RM_RESOURCE_TYPE,
  RM_STOP_FLAGS,
  RM_VM_STATUS,
  RM_VMID,
} from './constants.js';
import { RmError } from './errors.js';
import type { AclEntry, AttrEntry, HypResource, MemParcelCreateRequest, SglEntry } from './payloads.js';
import { RmServer, createSeqCounter, type RmRequestContext, type RmServerOptions } from './server.js';
import type { RmTransport, createSyncTransportPair } from './transport.js';

/** Options of {@link FakeRm}. */
export interface FakeRmOptions {
  /** VMID of the VM on the link, default 3 (HLOS). Only HLOS may allocate and configure VMs. */
  readonly callerVmid?: number;
  /** vCPUs each VM gets at VM_INIT, default 1. */
  readonly vcpus?: number;
  /** Capability ID of the first vCPU; later ones follow, default 0x1000. */
  readonly capIdBase?: bigint;
  /** VIRQ of the first vCPU; later ones follow, default 0x40 (0 = none). */
  readonly virqBase?: number;
  /**
   * Accept the v17-only requests VM_SET_BOOT_CONTEXT, VM_SET_DEMAND_PAGING and
   * VM_SET_ADDRESS_LAYOUT with a standard reply (default true). With false they get
   * UNIMPLEMENTED, as from the public RM (spec §9 item 1).
   */
  readonly v17Extensions?: boolean;
  /** First memparcel handle, default 0 (spec §9 item 6). */
  readonly firstHandle?: number;
  /** Passed to the server: problems that belong to no reply. */
  readonly onError?: (error: unknown) => void;
  /**
   * Serve inline ({@link RmServerOptions.synchronous}), for a {@link createSyncTransportPair}
   * link and an `RmSyncClient`; default false. Subclass hooks must then not return promises.
   */
  readonly synchronous?: boolean;
}

/** A VM as the fake RM sees it. */
export interface FakeRmVm {
  /** VMID. */
  readonly vmid: number;
  /** Owner VMID. */
  readonly owner: number;
  /** Current status ({@link RM_VM_STATUS}). */
  readonly status: number;
  /** Image parcel handle after VM_CONFIG_IMAGE. */
  readonly imageHandle: number | null;
  /** The VM_CONFIG_IMAGE request that configured the VM (null before it, and after a reset). */
  readonly image: ConfigImage | null;
  /** Boot registers set with VM_SET_BOOT_CONTEXT, keyed `regSet << 8 | regIndex`. */
  readonly bootContext: ReadonlyMap<number, bigint>;
}

/** What VM_CONFIG_IMAGE said about the image parcel (spec §4.2). */
export interface ConfigImage {
  /** Authentication mechanism. */
  readonly authMechanism: number;
  /** Image offset in the parcel. */
  readonly imageOffset: bigint;
  /** Image size. */
  readonly imageSize: bigint;
  /** DTB offset in the parcel. */
  readonly dtbOffset: bigint;
  /** DTB window size. */
  readonly dtbSize: bigint;
}

/** A memory parcel as the fake RM sees it. */
export interface FakeRmParcel {
  /** Handle. */
  readonly handle: number;
  /** Owner VMID. */
  readonly owner: number;
  /** How it was created. */
  readonly kind: 'MEM_LEND' | 'MEM_SHARE' | 'MEM_DONATE';
  /** mem_type. */
  readonly memType: number;
  /** Label. */
  readonly label: number;
  /** ACL. */
  readonly acl: readonly AclEntry[];
  /** Memory entries so far. */
  readonly sgl: readonly SglEntry[];
  /** Attributes. */
  readonly attrs: readonly AttrEntry[];
  /** False while MEM_APPEND batches are still expected. */
  readonly complete: boolean;
  /** VMs that currently have the parcel accepted (mapped). */
  readonly acceptedBy: ReadonlySet<number>;
}

interface Vm {
  vmid: number;
  owner: number;
  status: number;
  imageHandle: number | null;
  image: ConfigImage | null;
  bootContext: Map<number, bigint>;
}

interface Parcel {
  handle: number;
  owner: number;
  kind: 'MEM_LEND' | 'MEM_SHARE' | 'MEM_DONATE';
  memType: number;
  label: number;
  acl: readonly AclEntry[];
  sgl: SglEntry[];
  attrs: readonly AttrEntry[];
  complete: boolean;
  acceptedBy: Set<number>;
}

const PAGE_MASK = 0xfffn;
const ADDR_LIMIT = 1n << 44n;
const MAX_PARCELS_PER_OWNER = 64;
const VALID_RIGHTS = new Set<number>([RM_ACL_RIGHTS.R, RM_ACL_RIGHTS.RX, RM_ACL_RIGHTS.RW, RM_ACL_RIGHTS.RWX]);

/**
 * A reference RM model for the host link. Implements VM allocation, memory parcels (lend, share,
 * donate, append, reclaim), VM_CONFIG_IMAGE, VM_SET_FIRMWARE_MEM, VM_INIT, VM_GET_HYP_RESOURCES,
 * VM_START, VM_STOP, VM_RESET, VM_DEALLOC_VMID, VM_GET_STATE, VM_GET_VMID, VM_HOST_GET_TYPE and
 * the v17 extensions, with the public RM's state checks and notification order (spec §6.3).
 * Guest-side requests (accept, release, console, IRQ lending) are not modelled: they get
 * UNIMPLEMENTED unless the caller registers handlers on {@link FakeRm.server}.
 *
 * @example
 * ```ts
 * const [hostEnd, rmEnd] = createMemoryTransportPair();
 * const rm = new FakeRm(rmEnd);
 * const client = new RmClient(hostEnd);
 * const { vmid } = await client.call('VM_ALLOC_VMID', { vmid: 0 }); // 0x80
 * ```
 */
export class FakeRm {
  /** The server the model's handlers are registered on; add or replace handlers here. */
  readonly server: RmServer;
  private readonly vms = new Map<number, Vm>();
  private readonly parcels = new Map<number, Parcel>();
  private readonly vcpus: number;
  private readonly capIdBase: bigint;
  private readonly virqBase: number;
  private nextHandle: number;

  /**
   * @param transport - the RM end of the host link.
   * @param options - model parameters.
   */
  constructor(transport: RmTransport, options: FakeRmOptions = {}) {
    this.server = new RmServer(transport, {
      callerVmid: options.callerVmid ?? RM_VMID.HLOS,
      nextNotificationSeq: createSeqCounter(),
      ...(options.onError === undefined ? {} : { onError: options.onError }),
      synchronous: options.synchronous ?? false,
    });
    this.vcpus = options.vcpus ?? 1;
    this.capIdBase = options.capIdBase ?? 0x1000n;
    this.virqBase = options.virqBase ?? 0x40;
    this.nextHandle = options.firstHandle ?? 0;
    this.register(options.v17Extensions ?? true);
  }

  /** A snapshot of a VM, or `undefined` when the VMID is not allocated. */
  vm(vmid: number): FakeRmVm | undefined {
    const vm = this.vms.get(vmid);
    return vm === undefined ? undefined : this.snapshot(vm);
  }

  /** A snapshot of a parcel, or `undefined` when the handle does not exist. */
  parcel(handle: number): FakeRmParcel | undefined {
    const p = this.parcels.get(handle);
    return p === undefined ? undefined : { ...p, sgl: [...p.sgl], acceptedBy: new Set(p.acceptedBy) };
  }

  /** Handles of every existing parcel. */
  parcelHandles(): number[] {
    return [...this.parcels.keys()];
  }

  /**
   * The hypervisor tells the RM that a VM stopped by itself (PSCI SYSTEM_OFF / SYSTEM_RESET, a
   * crash, a watchdog): a RUNNING or PAUSED VM becomes EXITED, and the RM notifies its owner with
   * VM_STATUS(EXITED) followed by VM_EXITED(exitType, reason), as the public RM does (spec §6.3).
   * Returns false (and sends nothing) when the VM does not exist or is not running or paused.
   * On a synchronous server the notifications are delivered before this returns.
   *
   * @param vmid - the VM.
   * @param exitType - `RM_EXIT_TYPE` value.
   * @param reason - exit reason words (default `[0]`).
   */
  vmExited(vmid: number, exitType: number, reason: readonly number[] = [0]): boolean {
    const vm = this.vms.get(vmid);
    if (vm === undefined || (vm.status !== RM_VM_STATUS.RUNNING && vm.status !== RM_VM_STATUS.PAUSED)) return false;
    vm.status = RM_VM_STATUS.EXITED;
    const report = (p: Promise<void>): void => {
      void p.catch(() => undefined); // transport failures reach onError through the server
    };
    report(this.server.notify('VM_STATUS', { vmid, vmStatus: RM_VM_STATUS.EXITED, osStatus: 0, appStatus: 0 }));
    report(this.server.notify('VM_EXITED', { vmid, exitType, reason }));
    return true;
  }

  /** Resolves when every received request has been served. */
  idle(): Promise<void> {
    return this.server.idle();
  }

  private register(v17: boolean): void {
    const s = this.server;
    s.handle('VM_GET_VMID', (_r, ctx) => ({ vmid: ctx.callerVmid }));
    s.handle('VM_HOST_GET_TYPE', () => ({ hostType: RM_HOST_TYPE_GUNYAH_AARCH64 }));
    s.handle('VM_ALLOC_VMID', ({ vmid }, ctx) => this.alloc(vmid, ctx));
    s.handle('VM_DEALLOC_VMID', ({ vmid }, ctx) => {
      const vm = this.owned(vmid, ctx, 'VMID_INVALID', 'DENIED');
      this.expectState(vm, RM_VM_STATUS.LOAD, RM_VM_STATUS.RESET);
      this.vms.delete(vmid);
      return {};
    });
    for (const kind of ['MEM_LEND', 'MEM_SHARE', 'MEM_DONATE'] as const) {
      s.handle(kind, (req, ctx) => ({ handle: this.createParcel(kind, req, ctx) }));
    }
    s.handle('MEM_APPEND', ({ handle, flags, sgl }, ctx) => {
      const p = this.parcels.get(handle);
      if (p === undefined) throw new RmError('HANDLE_INVALID');
      if (p.owner !== ctx.callerVmid || p.complete) throw new RmError('DENIED');
      if (sgl.length > RM_MAX_LIST_ENTRIES) throw new RmError('NORESOURCE');
      this.checkSgl(sgl);
      p.sgl.push(...sgl);
      if ((flags & 1) !== 0) p.complete = true;
      return {};
    });
    s.handle('MEM_RECLAIM', ({ handle, flags }, ctx) => {
      const p = this.parcels.get(handle);
      if (p === undefined) throw new RmError('HANDLE_INVALID');
      if (p.owner !== ctx.callerVmid) throw new RmError('DENIED');
      if (p.acceptedBy.size > 0) throw new RmError('MEM_INUSE');
      if (p.memType === RM_MEM_TYPE.IO && (flags & RM_MEM_FLAGS.SANITIZE) !== 0) throw new RmError('ARGUMENT_INVALID');
      this.parcels.delete(handle);
      return {};
    });
    s.handle('VM_CONFIG_IMAGE', (req, ctx) => {
      this.hlosOnly(ctx);
      const vm = this.owned(req.vmid, ctx, 'VMID_INVALID', 'DENIED');
      this.expectState(vm, RM_VM_STATUS.LOAD, RM_VM_STATUS.RESET);
      try {
        const p = this.parcels.get(req.handle);
        if (p === undefined || !p.acl.some((e) => e.vmid === req.vmid)) throw new RmError('MEM_INVALID');
        const size = p.sgl.reduce((sum, e) => sum + e.size, 0n);
        if (req.imageOffset + req.imageSize > size || req.dtbOffset + req.dtbSize > size) throw new RmError('ARGUMENT_INVALID');
        if (req.authMechanism > RM_AUTH.ANDROID) throw new RmError('ARGUMENT_INVALID');
        vm.imageHandle = req.handle;
        vm.image = {
          authMechanism: req.authMechanism,
          imageOffset: req.imageOffset,
          imageSize: req.imageSize,
          dtbOffset: req.dtbOffset,
          dtbSize: req.dtbSize,
        };
        this.setStatus(vm, req.authMechanism === RM_AUTH.PLATFORM ? RM_VM_STATUS.AUTH : RM_VM_STATUS.INIT, ctx);
      } catch (error) {
        this.setStatus(vm, RM_VM_STATUS.INIT_FAILED, ctx);
        throw error;
      }
      return {};
    });
    s.handle('VM_SET_FIRMWARE_MEM', (req, ctx) => {
      const vm = this.owned(req.vmid, ctx, 'DENIED', 'DENIED');
      this.expectState(vm, RM_VM_STATUS.INIT);
      if (!this.parcels.has(req.handle)) throw new RmError('MEM_INVALID');
      return {};
    });
    s.handle('VM_INIT', ({ vmid }, ctx) => {
      this.hlosOnly(ctx);
      const vm = this.owned(vmid, ctx, 'VMID_INVALID', 'DENIED');
      this.expectState(vm, RM_VM_STATUS.INIT);
      try {
        this.initVm(this.snapshot(vm), this.parcelSnapshot(vm.imageHandle));
      } catch (error) {
        this.setStatus(vm, RM_VM_STATUS.INIT_FAILED, ctx);
        throw error;
      }
      this.setStatus(vm, RM_VM_STATUS.READY, ctx);
      return {};
    });
    if (v17) {
      s.handle('VM_SET_BOOT_CONTEXT', (req, ctx) => {
        const vm = this.owned(req.vmid, ctx, 'VMID_INVALID', 'DENIED');
        this.expectState(vm, RM_VM_STATUS.INIT, RM_VM_STATUS.READY);
        const max = [31, 0, 2][req.regSet];
        if (max === undefined || req.regIndex > max) throw new RmError('ARGUMENT_INVALID');
        vm.bootContext.set((req.regSet << 8) | req.regIndex, req.value);
        return {};
      });
      s.handle('VM_SET_DEMAND_PAGING', (req, ctx) => {
        this.expectState(this.owned(req.vmid, ctx, 'VMID_INVALID', 'DENIED'), RM_VM_STATUS.INIT);
        return {};
      });
      s.handle('VM_SET_ADDRESS_LAYOUT', (req, ctx) => {
        this.expectState(this.owned(req.vmid, ctx, 'VMID_INVALID', 'DENIED'), RM_VM_STATUS.INIT);
        return {};
      });
    }
    s.handle('VM_GET_HYP_RESOURCES', ({ vmid }, ctx) => {
      const vm = this.vms.get(vmid);
      if (vm === undefined) throw new RmError('ARGUMENT_INVALID');
      if (vm.imageHandle === null) throw new RmError('NORESOURCE');
      return { resources: this.vmResources(this.snapshot(vm), ctx.callerVmid) };
    });
    s.handle('VM_START', ({ vmid }, ctx) => {
      const vm = this.owned(vmid, ctx, 'VMID_INVALID', 'DENIED');
      this.expectState(vm, RM_VM_STATUS.READY);
      try {
        this.startVm(this.snapshot(vm));
      } catch (error) {
        this.setStatus(vm, RM_VM_STATUS.INIT_FAILED, ctx);
        throw error;
      }
      // RM accepts and maps every complete parcel whose ACL names the VM
      for (const p of this.parcels.values()) {
        if (p.complete && p.acl.some((e) => e.vmid === vmid)) p.acceptedBy.add(vmid);
      }
      this.setStatus(vm, RM_VM_STATUS.RUNNING, ctx);
      return {};
    });
    s.handle('VM_STOP', ({ vmid, flags }, ctx) => {
      const vm = this.owned(vmid, ctx, 'VMID_INVALID', 'VMID_INVALID');
      this.expectState(vm, RM_VM_STATUS.RUNNING, RM_VM_STATUS.PAUSED);
      if ((flags & RM_STOP_FLAGS.FORCE) !== 0) {
        this.setStatus(vm, RM_VM_STATUS.EXITED, ctx);
        ctx.notify('VM_EXITED', { vmid, exitType: RM_EXIT_TYPE.VM_STOP_FORCED, reason: [0] });
      }
      // non-forced: RM sends VM_SHUTDOWN to the VM itself, on a link this model does not have
      return {};
    });
    s.handle('VM_RESET', ({ vmid }, ctx) => {
      const vm = this.owned(vmid, ctx, 'VMID_INVALID', 'VMID_INVALID');
      this.expectState(vm, RM_VM_STATUS.EXITED, RM_VM_STATUS.READY, RM_VM_STATUS.INIT_FAILED);
      this.setStatus(vm, RM_VM_STATUS.RESETTING, ctx);
      ctx.afterReply(() => {
        for (const p of this.parcels.values()) {
          if (!p.acceptedBy.delete(vmid)) continue;
          ctx.notify('MEM_RELEASED', { handle: p.handle, vmid, memInfoTag: 0 });
        }
        vm.imageHandle = null;
        vm.image = null;
        vm.bootContext.clear();
        this.setStatus(vm, RM_VM_STATUS.RESET, ctx);
      });
      return {};
    });
    s.handle('VM_GET_STATE', ({ vmid }, ctx) => {
      const vm = this.vms.get(vmid === 0 ? ctx.callerVmid : vmid);
      if (vm === undefined) throw new RmError('NORESOURCE');
      if (vm.owner !== ctx.callerVmid && vm.vmid !== ctx.callerVmid) throw new RmError('DENIED');
      return { vmStatus: vm.status, osStatus: 0, appStatus: 0 };
    });
  }

  /**
   * Hook run by VM_INIT after the state check: a model validates the VM's configuration here
   * (e.g. parse the devicetree in the image parcel). Throw an {@link RmError} to fail: the VM goes
   * to INIT_FAILED (with its VM_STATUS notification) and the reply carries the error.
   * The default accepts every VM.
   */
  protected initVm(_vm: FakeRmVm, _image: FakeRmParcel | undefined): void {}

  /**
   * Hook answering VM_GET_HYP_RESOURCES for a configured VM. The default gives the VM's owner one
   * vCPU resource per configured vCPU (labels 0…n−1) and others nothing.
   */
  protected vmResources(vm: FakeRmVm, callerVmid: number): HypResource[] {
    const resources: HypResource[] = [];
    if (vm.owner !== callerVmid) return resources;
    for (let i = 0; i < this.vcpus; i++) {
      resources.push({
        type: RM_RESOURCE_TYPE.VCPU,
        partnerVmid: 0,
        resourceHandle: 0,
        resourceLabel: i,
        capId: this.capIdBase + BigInt(i),
        virqHandle: 0,
        virq: this.virqBase === 0 ? 0 : this.virqBase + i,
        base: 0n,
        size: 0n,
      });
    }
    return resources;
  }

  /**
   * Hook run by VM_START after the state check and before the VM's parcels are accepted (e.g.
   * apply the devicetree overlay). Throw an {@link RmError} to fail: the VM goes to INIT_FAILED.
   */
  protected startVm(_vm: FakeRmVm): void {}

  private snapshot(vm: Vm): FakeRmVm {
    return { ...vm, bootContext: new Map(vm.bootContext) };
  }

  private parcelSnapshot(handle: number | null): FakeRmParcel | undefined {
    return handle === null ? undefined : this.parcel(handle);
  }

  private alloc(vmid: number, ctx: RmRequestContext): { vmid: number | null } {
    this.hlosOnly(ctx);
    let id = vmid;
    if (vmid === 0) {
      id = -1;
      for (let v = RM_VMID.DYNAMIC_BASE; v <= RM_VMID.DYNAMIC_LAST; v++) {
        if (!this.vms.has(v)) {
          id = v;
          break;
        }
      }
      if (id < 0) throw new RmError('NORESOURCE');
    } else if (vmid >= 64 || this.vms.has(vmid)) {
      throw new RmError('NORESOURCE');
    }
    this.vms.set(id, { vmid: id, owner: ctx.callerVmid, status: RM_VM_STATUS.LOAD, imageHandle: null, image: null, bootContext: new Map() });
    return { vmid: vmid === 0 ? id : null };
  }

  private createParcel(kind: Parcel['kind'], req: MemParcelCreateRequest, ctx: RmRequestContext): number {
    const owner = ctx.callerVmid;
    if (req.acl.length === 0 || req.sgl.length === 0) throw new RmError('ARGUMENT_INVALID');
    if (req.acl.length > RM_MAX_LIST_ENTRIES || req.sgl.length > RM_MAX_LIST_ENTRIES || req.attrs.length > RM_MAX_LIST_ENTRIES) {
      throw new RmError('NORESOURCE');
    }
    if (kind === 'MEM_DONATE' && req.acl.length !== 1) throw new RmError('ARGUMENT_INVALID');
    if (req.memType > RM_MEM_TYPE.IO) throw new RmError('ARGUMENT_INVALID');
    const io = req.memType === RM_MEM_TYPE.IO;
    if (io && (req.flags & RM_MEM_FLAGS.SANITIZE) !== 0) throw new RmError('ARGUMENT_INVALID');
    const seen = new Set<number>();
    for (const e of req.acl) {
      if (seen.has(e.vmid) || !VALID_RIGHTS.has(e.rights) || (io && (e.rights & RM_ACL_RIGHTS.X) !== 0)) {
        throw new RmError('ARGUMENT_INVALID');
      }
      if (kind === 'MEM_DONATE' && e.rights !== (io ? RM_ACL_RIGHTS.RW : RM_ACL_RIGHTS.RWX)) throw new RmError('ARGUMENT_INVALID');
      seen.add(e.vmid);
    }
    if (seen.has(owner) !== (kind === 'MEM_SHARE')) throw new RmError('ARGUMENT_INVALID');
    this.checkSgl(req.sgl);
    let owned = 0;
    for (const p of this.parcels.values()) if (p.owner === owner) owned++;
    if (owned >= MAX_PARCELS_PER_OWNER) throw new RmError('DENIED');
    let handle = this.nextHandle;
    while (this.parcels.has(handle) || handle === 0xffffffff) handle = (handle + 1) >>> 0;
    this.nextHandle = (handle + 1) >>> 0;
    this.parcels.set(handle, {
      handle,
      owner,
      kind,
      memType: req.memType,
      label: req.label,
      acl: req.acl,
      sgl: [...req.sgl],
      attrs: req.attrs,
      complete: (req.flags & RM_MEM_FLAGS.APPEND) === 0,
      acceptedBy: new Set(),
    });
    return handle;
  }

  private checkSgl(sgl: readonly SglEntry[]): void {
    for (const e of sgl) {
      if ((e.address & PAGE_MASK) !== 0n || (e.size & PAGE_MASK) !== 0n || e.size === 0n || e.address + e.size > ADDR_LIMIT) {
        throw new RmError('ARGUMENT_INVALID');
      }
    }
  }

  private hlosOnly(ctx: RmRequestContext): void {
    if (ctx.callerVmid !== RM_VMID.HLOS) throw new RmError('DENIED');
  }

  private owned(vmid: number, ctx: RmRequestContext, missing: 'VMID_INVALID' | 'DENIED', notOwner: 'VMID_INVALID' | 'DENIED'): Vm {
    const vm = this.vms.get(vmid);
    if (vm === undefined) throw new RmError(missing);
    if (vm.owner !== ctx.callerVmid) throw new RmError(notOwner);
    return vm;
  }

  private expectState(vm: Vm, ...states: number[]): void {
    if (!states.includes(vm.status)) throw new RmError('VM_STATE');
  }

  private setStatus(vm: Vm, status: number, ctx: RmRequestContext): void {
    vm.status = status;
    ctx.notify('VM_STATUS', { vmid: vm.vmid, vmStatus: status, osStatus: 0, appStatus: 0 });
  }
}
