/**
 * The pieces of `@gunyah-ts/sys` the emulator uses, in one place.
 *
 * @internal
 * @module
 */
export {
  DEFAULT_IDENTIFY_RESULT,
  ErrnoError,
  EXIT_REASON,
  RESUME_ACTION,
  VCPU_RUN_OFFSETS,
  VM_EXIT_TYPE,
  VM_STATUS,
  answerGunyahSmcccCall,
  encodeMmioExitLayout,
  errnoValue,
  getBinding,
  type BindingModule,
  type GunyahIdentity,
  type MmioExitLayout,
} from '@gunyah-ts/sys';
export { rulesFor as rulesForVariant } from '@gunyah-ts/sys/fake';
