import { guestAddress, type GuestAddress } from '../address.js';
import { LayoutError } from './errors.js';
import { ARM64_KERNEL_ALIGNMENT } from './image.js';

/** Default guest-physical base of RAM, as the Linux Gunyah sample VMM uses: 0x8000_0000. */
export const DEFAULT_GUEST_BASE = 0x8000_0000n as GuestAddress;
/** Default RAM size of the Linux Gunyah sample VMM: 100 MiB. */
export const DEFAULT_MEM_SIZE = 100 * 1024 * 1024;
/**
 * Default room reserved for the DTB (64 KiB, the sample VMM's window). The Resource Manager applies
 * its overlay inside the size given to `SET_DTB_CONFIG` (spec/gunyah-uapi.md §3.2), so reserve more
 * than the DTB itself.
 */
export const DEFAULT_DTB_RESERVED_SIZE = 0x1_0000;
/** The largest DTB the arm64 boot protocol accepts: 2 MiB. */
export const MAX_DTB_SIZE = 0x20_0000;

const GIB = 1n << 30n;
const INITRD_WINDOW = 32n * GIB;

/** What the planner needs to know about the kernel (an {@link Arm64ImageHeader} fits). */
export interface KernelLayoutInfo {
  /** Offset above the 2 MiB-aligned base (the header's effective `text_offset`). */
  readonly textOffset: number;
  /** Bytes the kernel needs from its load address (BSS included); 0 for a legacy image. */
  readonly imageSize: number;
}

/** Input of {@link planLayout}. Offsets are relative to `base`. */
export interface LayoutOptions {
  /** RAM size in bytes (a multiple of `pageSize`). Default {@link DEFAULT_MEM_SIZE}. */
  readonly memSize?: number;
  /** RAM base (2 MiB aligned: Gunyah's `base-address`). Default {@link DEFAULT_GUEST_BASE}. */
  readonly base?: GuestAddress | bigint | number;
  /** The kernel header. */
  readonly kernel: KernelLayoutInfo;
  /** Size of the (decompressed) kernel file: required for legacy images, checked for others. */
  readonly kernelFileSize?: number;
  /** Offset of the kernel's 2 MiB-aligned base from `base` (default 0: the start of RAM). */
  readonly kernelOffset?: number;
  /** Size of the initrd in bytes; 0 or left out for none. */
  readonly initrdSize?: number;
  /** Where to put the initrd (page aligned); default: just below the DTB. */
  readonly initrdOffset?: number;
  /** Size of the DTB itself, when known (checked against the reserved size). */
  readonly dtbSize?: number;
  /**
   * Bytes reserved for the DTB and the Resource Manager's overlay: the size for `SET_DTB_CONFIG`
   * (page multiple, ≤ 2 MiB). Default {@link DEFAULT_DTB_RESERVED_SIZE}, grown to fit `dtbSize`
   * plus one page.
   */
  readonly dtbReservedSize?: number;
  /** Where to put the DTB (page aligned); default: at the top of RAM, inside one 2 MiB block. */
  readonly dtbOffset?: number;
  /** Page size for alignment (default 4096; pass `pageSize()` from `@gunyah-ts/sys`). */
  readonly pageSize?: number;
}

/** One placed object. */
export interface PlacedRange {
  /** First guest address. */
  readonly address: GuestAddress;
  /** Bytes reserved. */
  readonly size: number;
  /** One past the last address. */
  readonly end: bigint;
}

/** The result of {@link planLayout}: where everything goes. */
export interface LayoutPlan {
  /** The RAM range. */
  readonly memory: PlacedRange;
  /** The kernel. */
  readonly kernel: PlacedRange & {
    /** Address the Image is copied to (= `address`): the 2 MiB-aligned base + `textOffset`. */
    readonly loadAddress: GuestAddress;
    /** Where the boot vCPU starts: the load address. */
    readonly entry: GuestAddress;
    /** The effective `text_offset` used. */
    readonly textOffset: number;
  };
  /** The DTB window: `address` and `size` go to `SET_DTB_CONFIG`; x0 = `address` at entry. */
  readonly dtb: PlacedRange;
  /** The initrd, when one was planned (for `/chosen/linux,initrd-start` and `-end`). */
  readonly initrd: PlacedRange | undefined;
  /**
   * Whether the entry point is the start of RAM. Without a boot-context PC override (variant A has
   * none) Gunyah starts the vCPU there (spec/gunyah-vm-devicetree.md §7), so variant A needs `true`.
   */
  readonly entryAtBase: boolean;
  /** Page size the plan was aligned to. */
  readonly pageSize: number;
}

function nonNeg(v: number | undefined, what: string, dflt: number): number {
  const n = v ?? dflt;
  if (!Number.isSafeInteger(n) || n < 0) throw new LayoutError('INVALID_OPTION', `${what} ${String(v)} is not a non-negative safe integer`);
  return n;
}

function hex(v: bigint | number): string {
  return `0x${v.toString(16)}`;
}

function roundUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

function range(address: bigint, size: number): PlacedRange {
  return { address: address as GuestAddress, size, end: address + BigInt(size) };
}

/**
 * Plan where the kernel, initrd and DTB go in one RAM range, with the defaults of the Linux Gunyah
 * sample VMM (base 0x8000_0000) and the rules of the arm64 boot protocol (spec/gunyah-vm-devicetree.md
 * §7–§7.1):
 *
 * - kernel at `base + kernelOffset + textOffset` (`kernelOffset` 2 MiB aligned, default 0), reserving
 *   `image_size` bytes (the file size for legacy images); entry = load address;
 * - DTB window at the top of RAM: page aligned (hence 8-byte aligned), ≤ 2 MiB, inside one 2 MiB block;
 * - initrd just below the DTB, page aligned, in the same 1 GiB-aligned 32 GiB window as the kernel;
 * - nothing overlaps and everything lies inside RAM.
 *
 * @example
 * ```ts
 * const plan = planLayout({ memSize: 256 << 20, kernel: header, initrdSize: st.size });
 * // plan.kernel.entry, plan.dtb.address / plan.dtb.size (SET_DTB_CONFIG), plan.initrd
 * ```
 * @throws {LayoutError} INVALID_OPTION, MISALIGNED, DOES_NOT_FIT, OVERLAP, DTB_TOO_LARGE,
 *   DTB_CROSSES_2MIB, INITRD_WINDOW
 */
export function planLayout(options: LayoutOptions): LayoutPlan {
  const page = nonNeg(options.pageSize, 'pageSize', 4096);
  if (page === 0 || (page & (page - 1)) !== 0 || page > ARM64_KERNEL_ALIGNMENT) {
    throw new LayoutError('INVALID_OPTION', `page size ${page} is not a power of two up to 2 MiB`);
  }
  let base: GuestAddress;
  try {
    base = guestAddress(options.base ?? DEFAULT_GUEST_BASE);
  } catch {
    throw new LayoutError('INVALID_OPTION', `base ${String(options.base)} is not a guest address`);
  }
  if (base % BigInt(ARM64_KERNEL_ALIGNMENT) !== 0n) {
    throw new LayoutError('MISALIGNED', `RAM base ${hex(base)} is not 2 MiB aligned (Gunyah's base-address must be)`);
  }
  const memSize = nonNeg(options.memSize, 'memSize', DEFAULT_MEM_SIZE);
  if (memSize === 0 || memSize % page !== 0) throw new LayoutError('MISALIGNED', `memory size ${memSize} is not a positive multiple of the page size ${page}`);
  const memEnd = base + BigInt(memSize);
  if (memEnd > 1n << 64n) throw new LayoutError('DOES_NOT_FIT', `RAM [${hex(base)}, +${hex(memSize)}) runs past 2^64`);

  // Kernel.
  const textOffset = nonNeg(options.kernel.textOffset, 'kernel textOffset', 0);
  const imageSize = nonNeg(options.kernel.imageSize, 'kernel imageSize', 0);
  const fileSize = options.kernelFileSize === undefined ? undefined : nonNeg(options.kernelFileSize, 'kernelFileSize', 0);
  let kernelBytes: number;
  if (imageSize === 0) {
    if (fileSize === undefined || fileSize === 0) {
      throw new LayoutError('INVALID_OPTION', 'a legacy Image (image_size 0) needs kernelFileSize to be planned');
    }
    kernelBytes = fileSize;
  } else {
    if (fileSize !== undefined && fileSize > imageSize) {
      throw new LayoutError('INVALID_OPTION', `kernel file of ${fileSize} bytes is larger than its image_size ${imageSize}`);
    }
    kernelBytes = imageSize;
  }
  kernelBytes = roundUp(kernelBytes, page);
  const kernelOffset = nonNeg(options.kernelOffset, 'kernelOffset', 0);
  if (kernelOffset % ARM64_KERNEL_ALIGNMENT !== 0) {
    throw new LayoutError('MISALIGNED', `kernel offset ${hex(kernelOffset)} is not 2 MiB aligned (the Image needs a 2 MiB-aligned base)`);
  }
  const loadAddress = (base + BigInt(kernelOffset) + BigInt(textOffset)) as GuestAddress;
  const kernel = range(loadAddress, kernelBytes);
  if (kernel.end > memEnd) {
    throw new LayoutError('DOES_NOT_FIT', `kernel [${hex(kernel.address)}, ${hex(kernel.end)}) does not fit in RAM [${hex(base)}, ${hex(memEnd)})`);
  }

  // DTB.
  const dtbSize = options.dtbSize === undefined ? undefined : nonNeg(options.dtbSize, 'dtbSize', 0);
  if (dtbSize !== undefined && dtbSize > MAX_DTB_SIZE) throw new LayoutError('DTB_TOO_LARGE', `DTB of ${dtbSize} bytes is above the 2 MiB limit`);
  const dflt = Math.max(DEFAULT_DTB_RESERVED_SIZE, dtbSize === undefined ? 0 : roundUp(dtbSize, page) + page);
  const dtbReserved = options.dtbReservedSize === undefined ? Math.min(roundUp(dflt, page), MAX_DTB_SIZE) : nonNeg(options.dtbReservedSize, 'dtbReservedSize', 0);
  if (dtbReserved === 0 || dtbReserved % page !== 0) {
    throw new LayoutError('MISALIGNED', `DTB reserved size ${dtbReserved} is not a positive multiple of the page size ${page}`);
  }
  if (dtbReserved > MAX_DTB_SIZE) throw new LayoutError('DTB_TOO_LARGE', `DTB reserved size ${hex(dtbReserved)} is above the 2 MiB limit`);
  if (dtbSize !== undefined && dtbSize > dtbReserved) {
    throw new LayoutError('DTB_TOO_LARGE', `DTB of ${dtbSize} bytes does not fit the ${dtbReserved} bytes reserved for it`);
  }
  let dtbAddr: bigint;
  const block = BigInt(ARM64_KERNEL_ALIGNMENT);
  if (options.dtbOffset !== undefined) {
    const off = nonNeg(options.dtbOffset, 'dtbOffset', 0);
    if (off % page !== 0) throw new LayoutError('MISALIGNED', `DTB offset ${hex(off)} is not page aligned`);
    dtbAddr = base + BigInt(off);
  } else {
    if (BigInt(dtbReserved) > memEnd - kernel.end) {
      throw new LayoutError('DOES_NOT_FIT', `no room for a ${dtbReserved}-byte DTB window above the kernel (ends ${hex(kernel.end)}) in RAM ending ${hex(memEnd)}`);
    }
    dtbAddr = memEnd - BigInt(dtbReserved);
    dtbAddr -= dtbAddr % BigInt(page);
    const lastBlock = (dtbAddr + BigInt(dtbReserved) - 1n) / block;
    if (dtbAddr / block !== lastBlock) dtbAddr = lastBlock * block - BigInt(dtbReserved);
  }
  const dtb = range(dtbAddr, dtbReserved);
  if (dtb.address / block !== (dtb.end - 1n) / block) {
    throw new LayoutError('DTB_CROSSES_2MIB', `DTB window [${hex(dtb.address)}, ${hex(dtb.end)}) crosses a 2 MiB boundary`);
  }

  // Initrd.
  const initrdSize = nonNeg(options.initrdSize, 'initrdSize', 0);
  let initrd: PlacedRange | undefined;
  if (initrdSize > 0) {
    let addr: bigint;
    if (options.initrdOffset !== undefined) {
      const off = nonNeg(options.initrdOffset, 'initrdOffset', 0);
      if (off % page !== 0) throw new LayoutError('MISALIGNED', `initrd offset ${hex(off)} is not page aligned`);
      addr = base + BigInt(off);
    } else {
      const below = dtb.address - BigInt(initrdSize);
      addr = below - (below % BigInt(page));
      if (addr < kernel.end) {
        throw new LayoutError(
          'DOES_NOT_FIT',
          `initrd of ${initrdSize} bytes does not fit between the kernel (ends ${hex(kernel.end)}) and the DTB (at ${hex(dtb.address)}); RAM of ${memSize} bytes is too small`,
        );
      }
    }
    initrd = range(addr, initrdSize);
  }

  // Everything inside RAM, nothing overlapping.
  const items: [string, PlacedRange][] = [['kernel', kernel], ['DTB', dtb]];
  if (initrd !== undefined) items.push(['initrd', initrd]);
  for (const [name, r] of items) {
    if (r.address < base || r.end > memEnd) {
      throw new LayoutError('DOES_NOT_FIT', `${name} [${hex(r.address)}, ${hex(r.end)}) is not inside RAM [${hex(base)}, ${hex(memEnd)})`);
    }
  }
  for (let i = 0; i < items.length; i++) {
    for (let j = i + 1; j < items.length; j++) {
      const [an, a] = items[i] as [string, PlacedRange];
      const [bn, b] = items[j] as [string, PlacedRange];
      if (a.address < b.end && b.address < a.end) {
        throw new LayoutError('OVERLAP', `${an} [${hex(a.address)}, ${hex(a.end)}) overlaps ${bn} [${hex(b.address)}, ${hex(b.end)})`);
      }
    }
  }
  if (initrd !== undefined) {
    const lo = kernel.address < initrd.address ? kernel.address : initrd.address;
    const hi = kernel.end > initrd.end ? kernel.end : initrd.end;
    if (hi > (lo / GIB) * GIB + INITRD_WINDOW) {
      throw new LayoutError('INITRD_WINDOW', `kernel and initrd span [${hex(lo)}, ${hex(hi)}), more than one 1 GiB-aligned 32 GiB window`);
    }
  }
  return {
    memory: range(base, memSize),
    kernel: { ...kernel, loadAddress, entry: loadAddress, textOffset },
    dtb,
    initrd,
    entryAtBase: loadAddress === base,
    pageSize: page,
  };
}
