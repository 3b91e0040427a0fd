/**
 * A tiny AArch64 assembler and ready-made test guests for the KVM layer's end-to-end tests.
 *
 * @module
 */
export {
  AsmError,
  A64_COND,
  addImm,
  b,
  bCond,
  cbnz,
  cbz,
  cmpImm,
  hvc,
  ldr,
  movImm,
  movk,
  movz,
  nop,
  ret,
  smc,
  str,
  subImm,
  subsImm,
  wfi,
  type A64Cond,
  type AccessSize,
  type AsmErrorCode,
  type RegWidth,
} from './a64.js';
export { Assembler, PSCI_SYSTEM_OFF, type GuestProgram } from './program.js';
export {
  smcccGuest,
  spinGuest,
  storeLoopGuest,
  tinyGuest,
  type SmcccGuestOptions,
  type StoreLoopGuestOptions,
  type TinyGuestOptions,
} from './guests.js';
