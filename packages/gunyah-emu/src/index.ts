/**
 * `@gunyah-ts/emu`: Gunyah emulated on Linux KVM (arm64). The KVM layer it runs guests on is
 * available as `@gunyah-ts/emu/kvm`; a tiny arm64 assembler for test guests as `@gunyah-ts/emu/guest`.
 *
 * @packageDocumentation
 */
export { Kvm, KvmError, type KvmErrorCode } from './kvm/index.js';
