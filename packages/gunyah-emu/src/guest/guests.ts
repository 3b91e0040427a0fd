/**
 * Ready-made test guests. Each returns a {@link GuestProgram} to copy at the guest's entry point;
 * the TSDoc of each lists the exits a VMM sees, in order.
 *
 * @module
 */

import { addImm, b, hvc, ldr, smc, str, subImm } from './a64.js';
import { AsmError } from './a64.js';
import { Assembler, type GuestProgram } from './program.js';

function checkAddr(v: bigint | number, what: string): bigint {
  const x = typeof v === 'bigint' ? v : Number.isSafeInteger(v) ? BigInt(v) : -1n;
  if (x < 0n || x >= 1n << 48n) throw new AsmError('IMM_RANGE', `${what} must be a guest-physical address below 2^48, got ${String(v)}`);
  return x;
}

/** Options of {@link tinyGuest}. */
export interface TinyGuestOptions {
  /** MMIO address (8-byte aligned, not backed by RAM); the guest also writes at `mmioAddr + 8`. */
  readonly mmioAddr: bigint | number;
  /** Address of an ioeventfd (4-byte write). */
  readonly ioeventAddr: bigint | number;
  /** The value written to `mmioAddr` first (default 0x42). */
  readonly firstValue?: number;
  /** The value written to `ioeventAddr` (default 1). */
  readonly ioeventValue?: number;
}

/**
 * The tiny guest. Exits, in order:
 * 1. MMIO write of `firstValue` (default 0x42), 8 bytes at `mmioAddr`;
 * 2. MMIO read, 8 bytes at `mmioAddr` (complete it with a value `v`);
 * 3. MMIO write of `v + 1`, 8 bytes at `mmioAddr + 8`;
 * then a 4-byte write of `ioeventValue` at `ioeventAddr` (an exit only if no ioeventfd matches),
 * and finally PSCI SYSTEM_OFF via `hvc #0`: a system event "shutdown".
 *
 * @throws {AsmError} IMM_RANGE for an address out of range or misaligned
 */
export function tinyGuest(o: TinyGuestOptions): GuestProgram {
  const mmio = checkAddr(o.mmioAddr, 'mmioAddr');
  const ioevent = checkAddr(o.ioeventAddr, 'ioeventAddr');
  if (mmio % 8n !== 0n) throw new AsmError('IMM_RANGE', 'mmioAddr must be 8-byte aligned');
  if (ioevent % 4n !== 0n) throw new AsmError('IMM_RANGE', 'ioeventAddr must be 4-byte aligned');
  return new Assembler()
    .mov(0, mmio)
    .mov(1, o.firstValue ?? 0x42)
    .emit(str('x', 1, 0, 0)) // MMIO write
    .emit(ldr('x', 2, 0, 0)) // MMIO read
    .emit(addImm(2, 2, 1))
    .emit(str('x', 2, 0, 8)) // MMIO write of read + 1
    .mov(3, ioevent)
    .mov(4, o.ioeventValue ?? 1, 'w')
    .emit(str('w', 4, 3, 0)) // ioeventfd
    .systemOff()
    .assemble();
}

/** Options of {@link smcccGuest}. */
export interface SmcccGuestOptions {
  /** The SMCCC function id to call (in w0). */
  readonly functionId: number;
  /** Where the guest stores the results x0…x3 (8 bytes each, at +0, +8, +16, +24). */
  readonly mmioAddr: bigint | number;
  /** Arguments x1…x3 (default none). */
  readonly args?: readonly (bigint | number)[];
  /** Conduit: `hvc #0` (default) or `smc #0`. */
  readonly conduit?: 'hvc' | 'smc';
}

/**
 * A guest that makes one SMCCC call and reports the results. Exits, in order: the call (a
 * `hypercall` exit when the VMM's SMCCC filter forwards it); four 8-byte MMIO writes of x0, x1,
 * x2, x3 at `mmioAddr + 0/8/16/24`; PSCI SYSTEM_OFF ("shutdown").
 *
 * @throws {AsmError} IMM_RANGE for a bad function id, argument or address
 */
export function smcccGuest(o: SmcccGuestOptions): GuestProgram {
  if (!Number.isInteger(o.functionId) || o.functionId < 0 || o.functionId > 0xffff_ffff) {
    throw new AsmError('IMM_RANGE', `functionId must be a u32, got ${String(o.functionId)}`);
  }
  const mmio = checkAddr(o.mmioAddr, 'mmioAddr');
  if (mmio % 8n !== 0n) throw new AsmError('IMM_RANGE', 'mmioAddr must be 8-byte aligned');
  const args = o.args ?? [];
  if (args.length > 3) throw new AsmError('IMM_RANGE', `at most 3 arguments, got ${args.length}`);
  const a = new Assembler().mov(0, o.functionId);
  args.forEach((v, i) => a.mov(i + 1, v));
  a.emit(o.conduit === 'smc' ? smc(0) : hvc(0)).mov(9, mmio);
  for (let r = 0; r < 4; r++) a.emit(str('x', r, 9, 8 * r));
  return a.systemOff(o.conduit ?? 'hvc').assemble();
}

/** Options of {@link storeLoopGuest}. */
export interface StoreLoopGuestOptions {
  /** Address stored to (8 bytes per store). */
  readonly addr: bigint | number;
  /** Number of stores (1 … 2^32 − 1). */
  readonly count: number;
}

/**
 * A guest that stores the countdown `count, count − 1, …, 1` to `addr` (8 bytes each), then
 * powers off. With no device at `addr` that is `count` MMIO exits; with an ioeventfd at `addr`
 * it is `count` eventfd signals and no exit. Used to measure the cost of an exit.
 *
 * @throws {AsmError} IMM_RANGE for a bad count or address
 */
export function storeLoopGuest(o: StoreLoopGuestOptions): GuestProgram {
  if (!Number.isInteger(o.count) || o.count < 1 || o.count > 0xffff_ffff) throw new AsmError('IMM_RANGE', `count must be 1..2^32-1, got ${String(o.count)}`);
  const addr = checkAddr(o.addr, 'addr');
  if (addr % 8n !== 0n) throw new AsmError('IMM_RANGE', 'addr must be 8-byte aligned');
  return new Assembler()
    .mov(0, addr)
    .mov(1, o.count)
    .label('loop')
    .emit(str('x', 1, 0, 0))
    .emit(subImm(1, 1, 1))
    .cbnz(1, 'loop')
    .systemOff()
    .assemble();
}

/** A guest that spins forever (`b .`): it never exits on its own. */
export function spinGuest(): GuestProgram {
  return new Assembler().label('spin').emit(b(0)).assemble();
}
