/**
 * The driver model's conversation with the RM at `VM_START`, in the order of
 * spec/gunyah-uapi.md §7 for each variant, over a synchronous rm-proto client.
 *
 * @module
 */
import { RM_AUTH, RM_REQUESTS, RM_VMID, RmError, type RmSyncClient, type SglEntry } from '@gunyah-ts/rm-proto';
import type { DriverModel, GuestMemBinding, UserRegion } from '@gunyah-ts/sys/fake';
import { ErrnoError, errnoValue } from './sys.js';

/** What the start sequence created (kept for teardown). */
export interface StartState {
  /** VMID from VM_ALLOC_VMID, once allocated. */
  vmid: number | undefined;
  /** Parcel handles created (MEM_LEND / MEM_SHARE). */
  readonly parcels: number[];
  /** VCPU resource labels and doorbell labels from VM_GET_HYP_RESOURCES. */
  resources: { readonly vcpuLabels: readonly number[]; readonly doorbellLabels: readonly number[] } | undefined;
}

/** Flags R/W/X (1/2/4, A and C user memory) → RM ACL rights (R 4, W 2, X 1). */
export function rightsFromUserFlags(flags: number): number {
  return ((flags & 1) !== 0 ? 4 : 0) | ((flags & 2) !== 0 ? 2 : 0) | ((flags & 4) !== 0 ? 1 : 0);
}

/** B map flags (R 0x10, W 0x20, X 0x40) → RM ACL rights. */
export function rightsFromBFlags(flags: number): number {
  return rightsFromUserFlags((flags >> 4) & 7);
}

/** An RM error as the driver's errno (spec §7.4), via rm-proto's mapping. */
export function rmErrno(e: unknown): ErrnoError {
  if (e instanceof RmError) return new ErrnoError(e.errno.errno === 0 ? (errnoValue('EBADMSG') ?? 74) : e.errno.errno, 'ioctl', 'VM_START', { cause: e });
  if (e instanceof ErrnoError) return e;
  return new ErrnoError(errnoValue('EBADMSG') ?? 74, 'ioctl', 'VM_START', { cause: e });
}

const BOOT_REG_ORDER = (a: number, b: number): number => a - b;

function parcel(
  rm: RmSyncClient,
  st: StartState,
  kind: 'MEM_LEND' | 'MEM_SHARE',
  vmid: number,
  rights: number,
  label: number,
  sgl: SglEntry[],
): number {
  const acl = kind === 'MEM_LEND' ? [{ vmid, rights }] : [{ vmid, rights }, { vmid: RM_VMID.HLOS, rights: 7 }];
  const { handle } = rm.call(kind, { memType: 0, flags: 0, label, acl, sgl, attrs: [] });
  st.parcels.push(handle);
  return handle;
}

function distribute(rm: RmSyncClient, st: StartState, vmid: number): void {
  const { resources } = rm.call('VM_GET_HYP_RESOURCES', { vmid });
  st.resources = {
    vcpuLabels: resources.filter((r) => r.type === 4).map((r) => r.resourceLabel),
    doorbellLabels: resources.filter((r) => r.type === 0).map((r) => r.resourceLabel),
  };
}

function authOf(model: DriverModel): number {
  if (model.auth === 'qtvm') throw new ErrnoError(errnoValue('EOPNOTSUPP') ?? 95, 'ioctl', 'VM_START');
  return model.auth === 'pvm' ? RM_AUTH.ANDROID : RM_AUTH.NONE;
}

/**
 * Runs the RM part of `VM_START` for `model`'s variant (spec §7.1–§7.3). Throws the errno the
 * driver returns: RM errors mapped per §7.4, `EINVAL`/`ENOENT` for DTB or firmware placement.
 * `onVmid` is called right after VM_ALLOC_VMID (the RM model needs the VM's memory accessor).
 *
 * @throws {ErrnoError} the `VM_START` errno
 */
export function runStartSequence(rm: RmSyncClient, model: DriverModel, st: StartState, onVmid: (vmid: number) => void): void {
  const variant = model.rules.variant;
  const ps = BigInt(model.host.pageSize);
  const dtb = model.dtbConfig ?? { guestPhysAddr: 0n, size: 0n };
  try {
    const auth = authOf(model);
    const { vmid: got } = rm.call('VM_ALLOC_VMID', { vmid: 0 });
    const vmid = got ?? 0;
    st.vmid = vmid;
    onVmid(vmid);
    if (variant === 'A') {
      // §7.1: every region becomes a parcel, then the DTB's region is the image parcel
      const handles = new Map<UserRegion, number>();
      for (const r of model.regions) {
        if (r.afterStart) continue;
        const h = parcel(rm, st, r.mode === 'lend' ? 'MEM_LEND' : 'MEM_SHARE', vmid, rightsFromUserFlags(r.flags), r.label, [{ address: r.guestPhysAddr, size: r.memorySize }]);
        handles.set(r, h);
      }
      const r = model.regions.find((x) => !x.afterStart && dtb.guestPhysAddr >= x.guestPhysAddr && dtb.guestPhysAddr < x.guestPhysAddr + x.memorySize);
      if (r === undefined) throw new ErrnoError(errnoValue('EINVAL') ?? 22, 'ioctl', 'VM_START');
      rm.call('VM_CONFIG_IMAGE', { vmid, authMechanism: auth, handle: handles.get(r) ?? 0, imageOffset: 0n, imageSize: 0n, dtbOffset: dtb.guestPhysAddr - r.guestPhysAddr, dtbSize: dtb.size });
      if (model.fwConfig !== undefined) {
        const fw = model.fwConfig;
        const fr = model.regions.find((x) => !x.afterStart && fw.guestPhysAddr >= x.guestPhysAddr && fw.guestPhysAddr + fw.size <= x.guestPhysAddr + x.memorySize);
        if (fr === undefined) throw new ErrnoError(errnoValue('EINVAL') ?? 22, 'ioctl', 'VM_START');
        rm.call('VM_SET_FIRMWARE_MEM', { vmid, handle: handles.get(fr) ?? 0, fwOffset: fw.guestPhysAddr - fr.guestPhysAddr, fwSize: fw.size });
      }
      rm.call('VM_INIT', { vmid });
      distribute(rm, st, vmid);
      rm.call('VM_START', { vmid });
      return;
    }
    if (variant === 'B') {
      // §7.2: the DTB pages of their guest_memfd binding, lent (the B tree forces lend)
      const first = (dtb.guestPhysAddr / ps) * ps;
      const size = (dtb.size / ps) * ps;
      const b = model.bindings.find((x) => first >= x.guestAddr && first + size <= x.guestAddr + x.size) as GuestMemBinding;
      const handle = parcel(rm, st, 'MEM_LEND', vmid, rightsFromBFlags(b.flags), 0, [{ address: first, size }]);
      rm.call('VM_CONFIG_IMAGE', { vmid, authMechanism: auth, handle, imageOffset: 0n, imageSize: 0n, dtbOffset: dtb.guestPhysAddr - first, dtbSize: dtb.size });
      const lend = model.bindings.filter((x) => (x.flags & 7) !== 2).map((x) => ({ address: x.guestAddr, size: x.size }));
      rm.call('VM_SET_DEMAND_PAGING', { vmid, ranges: lend });
      rm.call('VM_SET_ADDRESS_LAYOUT', { vmid, rangeId: 0, base: first, size });
      rm.call('VM_INIT', { vmid });
      for (const [reg, value] of [...model.bootContext].sort((x, y) => BOOT_REG_ORDER(x[0], y[0]))) {
        const payload = RM_REQUESTS.VM_SET_BOOT_CONTEXT.request.encode({ vmid, regSet: reg >> 8, regIndex: reg & 0xff, value });
        const raw = rm.callRaw(RM_REQUESTS.VM_SET_BOOT_CONTEXT_V15.id, payload);
        if (raw.rmErrorCode !== 0) throw new RmError(raw.rmErrorCode, { msgId: RM_REQUESTS.VM_SET_BOOT_CONTEXT_V15.id, extra: raw.data });
      }
      distribute(rm, st, vmid);
      rm.call('VM_START', { vmid });
      return;
    }
    // C (§7.3): the DTB pages of their user-memory binding, lent or shared as the binding was made
    const page = (dtb.guestPhysAddr / ps) * ps;
    const r = model.regions.find((x) => page >= x.guestPhysAddr && page < x.guestPhysAddr + x.memorySize) as UserRegion;
    const regionEnd = r.guestPhysAddr + r.memorySize;
    let end = ((dtb.guestPhysAddr + dtb.size + ps - 1n) / ps) * ps;
    if (end > regionEnd) end = regionEnd;
    const handle = parcel(rm, st, r.mode === 'lend' ? 'MEM_LEND' : 'MEM_SHARE', vmid, rightsFromUserFlags(r.flags), r.label, [{ address: page, size: end - page }]);
    let fwRegion: UserRegion | undefined;
    let fwHandle: number | undefined;
    let fwOffset = 0n;
    if (model.fwConfig !== undefined && model.fwConfig.size > 0n) {
      const fw = model.fwConfig;
      const fwPage = (fw.guestPhysAddr / ps) * ps;
      fwRegion = model.regions.find((x) => fwPage >= x.guestPhysAddr && fwPage < x.guestPhysAddr + x.memorySize) as UserRegion;
      let fwEnd = ((fw.guestPhysAddr + fw.size + ps - 1n) / ps) * ps;
      if (fwEnd > fwRegion.guestPhysAddr + fwRegion.memorySize) fwEnd = fwRegion.guestPhysAddr + fwRegion.memorySize;
      fwHandle = parcel(rm, st, fwRegion.mode === 'lend' ? 'MEM_LEND' : 'MEM_SHARE', vmid, rightsFromUserFlags(fwRegion.flags), fwRegion.label, [{ address: fwPage, size: fwEnd - fwPage }]);
      fwOffset = fw.guestPhysAddr - fwPage;
    }
    rm.call('VM_CONFIG_IMAGE', { vmid, authMechanism: auth, handle, imageOffset: 0n, imageSize: 0n, dtbOffset: dtb.guestPhysAddr - page, dtbSize: dtb.size });
    if (auth === RM_AUTH.ANDROID && fwHandle !== undefined) {
      rm.call('VM_SET_FIRMWARE_MEM', { vmid, handle: fwHandle, fwOffset, fwSize: model.fwConfig?.size ?? 0n });
    }
    // Emulator choice (README): a protected VM (DTB binding lent) lists its lend bindings, as C
    // does; a non-protected one lists every binding, as C+ does, so the RM can describe shared RAM.
    const protectedVm = r.mode === 'lend';
    const paged = model.regions.filter((x) => !x.afterStart && x !== fwRegion && (!protectedVm || x.mode === 'lend'));
    rm.call('VM_SET_DEMAND_PAGING', { vmid, ranges: paged.map((x) => ({ address: x.guestPhysAddr, size: x.memorySize })) });
    rm.call('VM_SET_ADDRESS_LAYOUT', { vmid, rangeId: 0, base: page, size: end - page });
    rm.call('VM_INIT', { vmid });
    if (auth !== RM_AUTH.ANDROID) {
      for (const [reg, value] of [...model.bootContext].sort((x, y) => BOOT_REG_ORDER(x[0], y[0]))) {
        rm.call('VM_SET_BOOT_CONTEXT', { vmid, regSet: reg >> 8, regIndex: reg & 0xff, value });
      }
    }
    distribute(rm, st, vmid);
    rm.call('VM_START', { vmid });
  } catch (e) {
    throw rmErrno(e);
  }
}
