/**
 * The Gunyah hypercall table (spec/gunyah-hypercalls.md §3) as data, with lookups by name,
 * number, SMCCC function ID and native `hvc` immediate.
 *
 * @module
 */

import { HypercallError, show } from './errors.js';
import {
  decodeHvcImmediate,
  encodeHvcImmediate,
  hypercallFunctionId,
  hypercallNumberOfFunctionId,
} from './smccc.js';

/** A calling form: `'smccc'` (`hvc #0`, x0 = function ID, §1.1) or `'native'` (`hvc #0x6000+n`, §1.2). */
export type CallingForm = 'smccc' | 'native';

/** Register width the spec gives for an argument or result; everything else is a full 64-bit register. */
export type RegisterType = 'u32' | 'bool';

/**
 * Whether Linux issues a hypercall (spec §3 "Linux" column):
 * `'yes'` (upstream series and Android), `'no'`, `'android-guest'` (only Android guest kernels),
 * `'android'` (only Android kernels).
 */
export type LinuxUse = 'yes' | 'no' | 'android-guest' | 'android';

/**
 * Where a hypercall is known to exist:
 * - `'open-source'`: defined in a `.hvc` file of the 12/2023 open-source hypervisor;
 * - `'build-option'`: defined there, but only present when the hypervisor is built with the module;
 * - `'documented'`: listed in the API document only (no `.hvc` file; watchdog, §3.10);
 * - `'android'`: used by Android kernels, absent from the 12/2023 open-source tree.
 */
export type Availability = 'open-source' | 'build-option' | 'documented' | 'android';

/**
 * One row of {@link HYPERCALLS}: a hypercall as spec §3 gives it. `I` and `O` are the literal input
 * and output name tuples, so argument objects can be typed per call.
 */
export interface HypercallRow<I extends readonly string[] = readonly string[], O extends readonly string[] = readonly string[]> {
  /** Hypercall number (SMCCC ID `0xC6008000 | call`, native immediate `0x6000 + call`). */
  readonly call: number;
  /** Section of spec/gunyah-hypercalls.md that lists the call. */
  readonly section: string;
  /** Input names in order: x1.. under SMCCC, x0.. natively. `res0` must be 0, `res1` all-ones. */
  readonly inputs: I;
  /** Output names in order from x0 (both forms). `error` is a Gunyah error code. */
  readonly outputs: O;
  /** Calling forms the call is known in. */
  readonly forms: readonly CallingForm[];
  /** Whether Linux issues it. */
  readonly linux: LinuxUse;
  /** Where the call is known to exist. */
  readonly availability: Availability;
  /** Inputs/outputs the spec gives as u32 or bool; the others are full registers. */
  readonly types: { readonly [name: string]: RegisterType };
  /** The Linux wrapper's name where it differs (`bell_send`, `msgq_send`, …). */
  readonly linuxName: string | undefined;
  /** `false` where the spec does not give all inputs and outputs (watchdog). */
  readonly signatureComplete: boolean;
}

interface RowOptions {
  readonly forms?: readonly CallingForm[];
  readonly linux?: LinuxUse;
  readonly availability?: Availability;
  readonly types?: { readonly [name: string]: RegisterType };
  readonly linuxName?: string;
  readonly signatureComplete?: boolean;
}

function hc<const I extends readonly string[], const O extends readonly string[]>(
  call: number,
  section: string,
  inputs: I,
  outputs: O,
  options: RowOptions = {},
): HypercallRow<I, O> {
  return Object.freeze({
    call,
    section,
    inputs,
    outputs,
    forms: options.forms ?? BOTH,
    linux: options.linux ?? 'no',
    availability: options.availability ?? 'open-source',
    types: options.types ?? {},
    linuxName: options.linuxName,
    signatureComplete: options.signatureComplete ?? true,
  });
}

const BOTH = ['smccc', 'native'] as const;
const ERR = ['error'] as const;
const ERR_CAP = ['error', 'new_cap'] as const;
const CREATE = ['src_partition', 'cspace', 'res0'] as const;

/**
 * Every numbered Gunyah hypercall of spec §3, keyed by the hypervisor's name; see
 * {@link HypercallRow} for the fields. Inputs and outputs are listed in register order.
 *
 * Reserved numbers 0x16 and 0x1E are in {@link RESERVED_HYPERCALL_NUMBERS}; calls without a public
 * number are in {@link UNNUMBERED_HYPERCALLS}.
 */
export const HYPERCALLS = {
  // §3.1 identification, partitions, objects
  /** `0x00` hypervisor_identify(—) → api_info, flags0, flags1, flags2. Spec §3.1. */
  hypervisor_identify: hc(0x00, '3.1', [], ['api_info', 'flags0', 'flags1', 'flags2'], { linux: 'yes' }),
  /** `0x01` partition_create_partition(src_partition, cspace, res0) → error, new_cap. Spec §3.1. */
  partition_create_partition: hc(0x01, '3.1', CREATE, ERR_CAP),
  /** `0x02` partition_create_cspace(src_partition, cspace, res0) → error, new_cap. Spec §3.1. */
  partition_create_cspace: hc(0x02, '3.1', CREATE, ERR_CAP),
  /** `0x03` partition_create_addrspace(src_partition, cspace, res0) → error, new_cap. Spec §3.1. */
  partition_create_addrspace: hc(0x03, '3.1', CREATE, ERR_CAP),
  /** `0x04` partition_create_memextent(src_partition, cspace, res0) → error, new_cap. Spec §3.1. */
  partition_create_memextent: hc(0x04, '3.1', CREATE, ERR_CAP),
  /** `0x05` partition_create_thread(src_partition, cspace, res0) → error, new_cap. Spec §3.1. */
  partition_create_thread: hc(0x05, '3.1', CREATE, ERR_CAP),
  /** `0x06` partition_create_doorbell(src_partition, cspace, res0) → error, new_cap. Spec §3.1. */
  partition_create_doorbell: hc(0x06, '3.1', CREATE, ERR_CAP),
  /** `0x07` partition_create_msgqueue(src_partition, cspace, res0) → error, new_cap. Spec §3.1. */
  partition_create_msgqueue: hc(0x07, '3.1', CREATE, ERR_CAP),
  /** `0x09` partition_create_watchdog(src_partition, cspace, res0) → error, new_cap. Spec §3.1. */
  partition_create_watchdog: hc(0x09, '3.1', CREATE, ERR_CAP, { availability: 'build-option' }),
  /** `0x0a` partition_create_vic(src_partition, cspace, res0) → error, new_cap. Spec §3.1. */
  partition_create_vic: hc(0x0a, '3.1', CREATE, ERR_CAP),
  /** `0x0b` partition_create_vpm_group(src_partition, cspace, res0) → error, new_cap. Spec §3.1. */
  partition_create_vpm_group: hc(0x0b, '3.1', CREATE, ERR_CAP),
  /** `0x0c` object_activate(cap, res0) → error. Spec §3.1. */
  object_activate: hc(0x0c, '3.1', ['cap', 'res0'], ERR),
  /** `0x0d` object_activate_from(cspace, cap, res0) → error. Spec §3.1. */
  object_activate_from: hc(0x0d, '3.1', ['cspace', 'cap', 'res0'], ERR),
  /** `0x0e` object_reset(cap, res0) → error. Spec §3.1. */
  object_reset: hc(0x0e, '3.1', ['cap', 'res0'], ERR),
  /** `0x0f` object_reset_from(cspace, cap, res0) → error. Spec §3.1. */
  object_reset_from: hc(0x0f, '3.1', ['cspace', 'cap', 'res0'], ERR),
  // §3.2 doorbells
  /** `0x10` doorbell_bind_virq(doorbell, vic, virq_info, res0) → error. Spec §3.2. */
  doorbell_bind_virq: hc(0x10, '3.2', ['doorbell', 'vic', 'virq_info', 'res0'], ERR),
  /** `0x11` doorbell_unbind_virq(doorbell, res0) → error. Spec §3.2. */
  doorbell_unbind_virq: hc(0x11, '3.2', ['doorbell', 'res0'], ERR),
  /** `0x12` doorbell_send(doorbell, new_flags, res0) → error, old_flags. Spec §3.2. */
  doorbell_send: hc(0x12, '3.2', ['doorbell', 'new_flags', 'res0'], ['error', 'old_flags'], { linux: 'yes', linuxName: 'bell_send' }),
  /** `0x13` doorbell_receive(doorbell, clear_flags, res0) → error, old_flags. Spec §3.2. */
  doorbell_receive: hc(0x13, '3.2', ['doorbell', 'clear_flags', 'res0'], ['error', 'old_flags']),
  /** `0x14` doorbell_reset(doorbell, res0) → error. Spec §3.2. */
  doorbell_reset: hc(0x14, '3.2', ['doorbell', 'res0'], ERR),
  /** `0x15` doorbell_mask(doorbell, enable_mask, ack_mask, res0) → error. Spec §3.2. */
  doorbell_mask: hc(0x15, '3.2', ['doorbell', 'enable_mask', 'ack_mask', 'res0'], ERR, { linux: 'yes', linuxName: 'bell_set_mask' }),
  // §3.3 message queues
  /** `0x17` msgqueue_bind_send_virq(mq, vic, virq_info, res0) → error. Spec §3.3. */
  msgqueue_bind_send_virq: hc(0x17, '3.3', ['mq', 'vic', 'virq_info', 'res0'], ERR),
  /** `0x18` msgqueue_bind_receive_virq(mq, vic, virq_info, res0) → error. Spec §3.3. */
  msgqueue_bind_receive_virq: hc(0x18, '3.3', ['mq', 'vic', 'virq_info', 'res0'], ERR),
  /** `0x19` msgqueue_unbind_send_virq(mq, res0) → error. Spec §3.3. */
  msgqueue_unbind_send_virq: hc(0x19, '3.3', ['mq', 'res0'], ERR),
  /** `0x1a` msgqueue_unbind_receive_virq(mq, res0) → error. Spec §3.3. */
  msgqueue_unbind_receive_virq: hc(0x1a, '3.3', ['mq', 'res0'], ERR),
  /** `0x1b` msgqueue_send(mq, size, buffer, send_flags, res0) → error, not_full. Spec §3.3. */
  msgqueue_send: hc(0x1b, '3.3', ['mq', 'size', 'buffer', 'send_flags', 'res0'], ['error', 'not_full'], { linux: 'yes', types: { not_full: 'bool' }, linuxName: 'msgq_send' }),
  /** `0x1c` msgqueue_receive(mq, buffer, buffer_size, res0) → error, size, not_empty. Spec §3.3. */
  msgqueue_receive: hc(0x1c, '3.3', ['mq', 'buffer', 'buffer_size', 'res0'], ['error', 'size', 'not_empty'], { linux: 'yes', types: { not_empty: 'bool' }, linuxName: 'msgq_recv' }),
  /** `0x1d` msgqueue_flush(mq, res0) → error. Spec §3.3. */
  msgqueue_flush: hc(0x1d, '3.3', ['mq', 'res0'], ERR),
  /** `0x1f` msgqueue_configure_send(mq, not_full_threshold, not_full_holdoff, res1) → error. Spec §3.3. */
  msgqueue_configure_send: hc(0x1f, '3.3', ['mq', 'not_full_threshold', 'not_full_holdoff', 'res1'], ERR),
  /** `0x20` msgqueue_configure_receive(mq, not_empty_threshold, not_empty_holdoff, res1) → error. Spec §3.3. */
  msgqueue_configure_receive: hc(0x20, '3.3', ['mq', 'not_empty_threshold', 'not_empty_holdoff', 'res1'], ERR),
  /** `0x21` msgqueue_configure(mq, create_info, res0) → error. Spec §3.3. */
  msgqueue_configure: hc(0x21, '3.3', ['mq', 'create_info', 'res0'], ERR),
  // §3.4 capability spaces
  /** `0x22` cspace_delete_cap_from(cspace, cap, res0) → error. Spec §3.4. */
  cspace_delete_cap_from: hc(0x22, '3.4', ['cspace', 'cap', 'res0'], ERR),
  /** `0x23` cspace_copy_cap_from(src_cspace, src_cap, dest_cspace, rights_mask, res0) → error, new_cap. Spec §3.4. */
  cspace_copy_cap_from: hc(0x23, '3.4', ['src_cspace', 'src_cap', 'dest_cspace', 'rights_mask', 'res0'], ERR_CAP, { types: { rights_mask: 'u32' } }),
  /** `0x24` cspace_revoke_cap_from(src_cspace, src_cap, res0) → error. Spec §3.4. */
  cspace_revoke_cap_from: hc(0x24, '3.4', ['src_cspace', 'src_cap', 'res0'], ERR),
  /** `0x25` cspace_configure(cspace, max_caps, res0) → error. Spec §3.4. */
  cspace_configure: hc(0x25, '3.4', ['cspace', 'max_caps', 'res0'], ERR),
  // §3.5 interrupts
  /** `0x26` hwirq_bind_virq(hwirq, vic, virq_info, res0) → error. Spec §3.5. */
  hwirq_bind_virq: hc(0x26, '3.5', ['hwirq', 'vic', 'virq_info', 'res0'], ERR),
  /** `0x27` hwirq_unbind_virq(hwirq, res0) → error. Spec §3.5. */
  hwirq_unbind_virq: hc(0x27, '3.5', ['hwirq', 'res0'], ERR),
  /** `0x28` vic_configure(vic, max_vcpus, max_virqs, vic_options, max_msis) → error. Spec §3.5. */
  vic_configure: hc(0x28, '3.5', ['vic', 'max_vcpus', 'max_virqs', 'vic_options', 'max_msis'], ERR),
  /** `0x29` vic_attach_vcpu(vic, vcpu, index, res0) → error. Spec §3.5. */
  vic_attach_vcpu: hc(0x29, '3.5', ['vic', 'vcpu', 'index', 'res0'], ERR),
  // §3.6 address spaces
  /** `0x2a` addrspace_attach_thread(addrspace, thread, res0) → error. Spec §3.6. */
  addrspace_attach_thread: hc(0x2a, '3.6', ['addrspace', 'thread', 'res0'], ERR),
  /** `0x2b` addrspace_map(addrspace, memextent, vbase, map_attrs, map_flags, offset, size) → error. Spec §3.6. */
  addrspace_map: hc(0x2b, '3.6', ['addrspace', 'memextent', 'vbase', 'map_attrs', 'map_flags', 'offset', 'size'], ERR, { linux: 'yes', types: { map_attrs: 'u32', map_flags: 'u32' } }),
  /** `0x2c` addrspace_unmap(addrspace, memextent, vbase, map_flags, offset, size) → error. Spec §3.6. */
  addrspace_unmap: hc(0x2c, '3.6', ['addrspace', 'memextent', 'vbase', 'map_flags', 'offset', 'size'], ERR, { linux: 'yes' }),
  /** `0x2d` addrspace_update_access(addrspace, memextent, vbase, access_attrs, map_flags, offset, size) → error. Spec §3.6. */
  addrspace_update_access: hc(0x2d, '3.6', ['addrspace', 'memextent', 'vbase', 'access_attrs', 'map_flags', 'offset', 'size'], ERR),
  /** `0x2e` addrspace_configure(addrspace, vmid, res0) → error. Spec §3.6. */
  addrspace_configure: hc(0x2e, '3.6', ['addrspace', 'vmid', 'res0'], ERR),
  /** `0x2f` addrspace_attach_vdma(addrspace, dma_device, index, res0) → error. Spec §3.6. */
  addrspace_attach_vdma: hc(0x2f, '3.6', ['addrspace', 'dma_device', 'index', 'res0'], ERR),
  // §3.7 memory extents
  /** `0x30` memextent_modify(memextent, flags, offset, size) → error. Spec §3.7. */
  memextent_modify: hc(0x30, '3.7', ['memextent', 'flags', 'offset', 'size'], ERR),
  /** `0x31` memextent_configure(memextent, phys_base, size, attributes, res0) → error. Spec §3.7. */
  memextent_configure: hc(0x31, '3.7', ['memextent', 'phys_base', 'size', 'attributes', 'res0'], ERR),
  /** `0x32` memextent_configure_derive(memextent, parent, offset, size, attributes, res0) → error. Spec §3.7. */
  memextent_configure_derive: hc(0x32, '3.7', ['memextent', 'parent', 'offset', 'size', 'attributes', 'res0'], ERR),
  // §3.8 vCPUs, scheduling, power (0x34..0x47)
  /** `0x34` vcpu_configure(vcpu, vcpu_options, res0) → error. Spec §3.8. */
  vcpu_configure: hc(0x34, '3.8', ['vcpu', 'vcpu_options', 'res0'], ERR),
  /** `0x38` vcpu_poweron(vcpu, entry_point, context, flags) → error. Spec §3.8. */
  vcpu_poweron: hc(0x38, '3.8', ['vcpu', 'entry_point', 'context', 'flags'], ERR),
  /** `0x39` vcpu_poweroff(vcpu, flags) → error. Spec §3.8. */
  vcpu_poweroff: hc(0x39, '3.8', ['vcpu', 'flags'], ERR),
  /** `0x3a` vcpu_kill(vcpu, res0) → error. Spec §3.8. */
  vcpu_kill: hc(0x3a, '3.8', ['vcpu', 'res0'], ERR),
  /** `0x3b` scheduler_yield(control, arg1, res0) → error. Spec §3.8. */
  scheduler_yield: hc(0x3b, '3.8', ['control', 'arg1', 'res0'], ERR),
  /** `0x3c` vpm_group_attach_vcpu(vpm_group, vcpu, index, res0) → error. Spec §3.9. */
  vpm_group_attach_vcpu: hc(0x3c, '3.9', ['vpm_group', 'vcpu', 'index', 'res0'], ERR),
  /** `0x3d` vcpu_set_affinity(vcpu, cpu_index, res1) → error. Spec §3.8. */
  vcpu_set_affinity: hc(0x3d, '3.8', ['vcpu', 'cpu_index', 'res1'], ERR),
  /** `0x3e` cspace_attach_thread(cspace, thread, res0) → error. Spec §3.4. */
  cspace_attach_thread: hc(0x3e, '3.4', ['cspace', 'thread', 'res0'], ERR),
  /** `0x3f` trace_update_class_flags(set_flags, clear_flags, res0) → error, flags. Spec §3.11. */
  trace_update_class_flags: hc(0x3f, '3.11', ['set_flags', 'clear_flags', 'res0'], ['error', 'flags']),
  // §3.10 watchdog: API document only, native registers, outputs not given
  /** `0x40` watchdog_attach_vcpu(watchdog, vcpu, res0) → —. Spec §3.10. */
  watchdog_attach_vcpu: hc(0x40, '3.10', ['watchdog', 'vcpu', 'res0'], [], { forms: ['native'], availability: 'documented', signatureComplete: false }),
  /** `0x41` watchdog_bind_virq(watchdog, vic, virq_info, bind_flags) → —. Spec §3.10. */
  watchdog_bind_virq: hc(0x41, '3.10', ['watchdog', 'vic', 'virq_info', 'bind_flags'], [], { forms: ['native'], availability: 'documented', signatureComplete: false }),
  /** `0x42` watchdog_unbind_virq(watchdog) → —. Spec §3.10. */
  watchdog_unbind_virq: hc(0x42, '3.10', ['watchdog'], [], { forms: ['native'], availability: 'documented', signatureComplete: false }),
  /** `0x43` vpm_group_bind_virq(vpm_group, vic, virq_info, res0) → error. Spec §3.9. */
  vpm_group_bind_virq: hc(0x43, '3.9', ['vpm_group', 'vic', 'virq_info', 'res0'], ERR),
  /** `0x44` vpm_group_unbind_virq(vpm_group, res0) → error. Spec §3.9. */
  vpm_group_unbind_virq: hc(0x44, '3.9', ['vpm_group', 'res0'], ERR),
  /** `0x45` vpm_group_get_state(vpm_group, res0) → error, vpm_state. Spec §3.9. */
  vpm_group_get_state: hc(0x45, '3.9', ['vpm_group', 'res0'], ['error', 'vpm_state']),
  /** `0x46` vcpu_set_priority(vcpu, priority) → error. Spec §3.8. */
  vcpu_set_priority: hc(0x46, '3.8', ['vcpu', 'priority'], ERR),
  /** `0x47` vcpu_set_timeslice(vcpu, timeslice) → error. Spec §3.8. */
  vcpu_set_timeslice: hc(0x47, '3.8', ['vcpu', 'timeslice'], ERR),
  /** `0x48` partition_create_virtio_mmio(src_partition, cspace, res0) → error, new_cap. Spec §3.1. */
  partition_create_virtio_mmio: hc(0x48, '3.1', CREATE, ERR_CAP, { availability: 'build-option' }),
  // §3.11 virtio-mmio backend
  /** `0x49` virtio_mmio_configure(vio, memextent, vqs_num, flags, device_type) → error. Spec §3.11. */
  virtio_mmio_configure: hc(0x49, '3.11', ['vio', 'memextent', 'vqs_num', 'flags', 'device_type'], ERR),
  /** `0x4a` virtio_mmio_backend_bind_virq(vio, vic, virq, res0) → error. Spec §3.11. */
  virtio_mmio_backend_bind_virq: hc(0x4a, '3.11', ['vio', 'vic', 'virq', 'res0'], ERR),
  /** `0x4b` virtio_mmio_backend_unbind_virq(vio, res0) → error. Spec §3.11. */
  virtio_mmio_backend_unbind_virq: hc(0x4b, '3.11', ['vio', 'res0'], ERR),
  /** `0x4c` virtio_mmio_frontend_bind_virq(vio, vic, virq, res0) → error. Spec §3.11. */
  virtio_mmio_frontend_bind_virq: hc(0x4c, '3.11', ['vio', 'vic', 'virq', 'res0'], ERR),
  /** `0x4d` virtio_mmio_frontend_unbind_virq(vio, res0) → error. Spec §3.11. */
  virtio_mmio_frontend_unbind_virq: hc(0x4d, '3.11', ['vio', 'res0'], ERR),
  /** `0x4e` virtio_mmio_backend_assert_virq(vio, interrupt_status, res0) → error. Spec §3.11. */
  virtio_mmio_backend_assert_virq: hc(0x4e, '3.11', ['vio', 'interrupt_status', 'res0'], ERR, { types: { interrupt_status: 'u32' } }),
  /** `0x4f` virtio_mmio_backend_set_dev_features(vio, sel, features, res0) → error. Spec §3.11. */
  virtio_mmio_backend_set_dev_features: hc(0x4f, '3.11', ['vio', 'sel', 'features', 'res0'], ERR, { types: { features: 'u32' } }),
  /** `0x50` virtio_mmio_backend_set_queue_num_max(vio, sel, max, res0) → error. Spec §3.11. */
  virtio_mmio_backend_set_queue_num_max: hc(0x50, '3.11', ['vio', 'sel', 'max', 'res0'], ERR, { types: { max: 'u32' } }),
  /** `0x51` virtio_mmio_backend_get_drv_features(vio, sel, res0) → error, drv_feat. Spec §3.11. */
  virtio_mmio_backend_get_drv_features: hc(0x51, '3.11', ['vio', 'sel', 'res0'], ['error', 'drv_feat'], { types: { drv_feat: 'u32' } }),
  /** `0x52` virtio_mmio_backend_get_queue_info(vio, sel, res0) → error, num, ready, desc, drv, dev. Spec §3.11. */
  virtio_mmio_backend_get_queue_info: hc(0x52, '3.11', ['vio', 'sel', 'res0'], ['error', 'num', 'ready', 'desc', 'drv', 'dev']),
  /** `0x53` virtio_mmio_backend_get_notification(vio, res0) → error, vqs_bitmap, reason. Spec §3.11. */
  virtio_mmio_backend_get_notification: hc(0x53, '3.11', ['vio', 'res0'], ['error', 'vqs_bitmap', 'reason']),
  /** `0x54` virtio_mmio_backend_acknowledge_reset(vio, res0) → error. Spec §3.11. */
  virtio_mmio_backend_acknowledge_reset: hc(0x54, '3.11', ['vio', 'res0'], ERR),
  /** `0x55` virtio_mmio_backend_update_status(vio, val, res0) → error. Spec §3.11. */
  virtio_mmio_backend_update_status: hc(0x55, '3.11', ['vio', 'val', 'res0'], ERR, { types: { val: 'u32' } }),
  /** `0x56` vic_bind_msi_source(vic, msi_source, res0) → error. Spec §3.5. */
  vic_bind_msi_source: hc(0x56, '3.5', ['vic', 'msi_source', 'res0'], ERR),
  /** `0x57` prng_get_entropy(num_bytes, res0) → error, data0, data1, data2, data3. Spec §3.11. */
  prng_get_entropy: hc(0x57, '3.11', ['num_bytes', 'res0'], ['error', 'data0', 'data1', 'data2', 'data3'], { types: { data0: 'u32', data1: 'u32', data2: 'u32', data3: 'u32' } }),
  /** `0x58` watchdog_configure(watchdog) → —. Spec §3.10. */
  watchdog_configure: hc(0x58, '3.10', ['watchdog'], [], { forms: ['native'], availability: 'documented', signatureComplete: false }),
  /** `0x59` cspace_revoke_caps_from(src_cspace, master_cap, res0) → error. Spec §3.4. */
  cspace_revoke_caps_from: hc(0x59, '3.4', ['src_cspace', 'master_cap', 'res0'], ERR),
  /** `0x5a` addrspace_lookup(addrspace, memextent, vbase, size, res0) → error, offset, size, map_attrs. Spec §3.6. */
  addrspace_lookup: hc(0x5a, '3.6', ['addrspace', 'memextent', 'vbase', 'size', 'res0'], ['error', 'offset', 'size', 'map_attrs']),
  /** `0x5b` addrspace_configure_info_area(addrspace, info_area_memextent, ipa, res0) → error. Spec §3.6. */
  addrspace_configure_info_area: hc(0x5b, '3.6', ['addrspace', 'info_area_memextent', 'ipa', 'res0'], ERR),
  /** `0x5c` vcpu_bind_virq(vcpu, vic, virq_info, virq_type, res0) → error. Spec §3.8. */
  vcpu_bind_virq: hc(0x5c, '3.8', ['vcpu', 'vic', 'virq_info', 'virq_type', 'res0'], ERR),
  /** `0x5d` vcpu_unbind_virq(vcpu, virq_type, res0) → error. Spec §3.8. */
  vcpu_unbind_virq: hc(0x5d, '3.8', ['vcpu', 'virq_type', 'res0'], ERR),
  /** `0x5e` virtio_input_configure(vio, devids, prop_bits, num_evtypes, num_absaxes, res0) → error. Spec §3.11. */
  virtio_input_configure: hc(0x5e, '3.11', ['vio', 'devids', 'prop_bits', 'num_evtypes', 'num_absaxes', 'res0'], ERR),
  /** `0x5f` virtio_input_set_data(vio, sel, subsel, size, data, res0) → error. Spec §3.11. */
  virtio_input_set_data: hc(0x5f, '3.11', ['vio', 'sel', 'subsel', 'size', 'data', 'res0'], ERR),
  /** `0x60` addrspace_configure_vmmio(addrspace, vbase, size, op, res0) → error. Spec §3.6. */
  addrspace_configure_vmmio: hc(0x60, '3.6', ['addrspace', 'vbase', 'size', 'op', 'res0'], ERR, { linux: 'android-guest' }),
  /** `0x61` memextent_donate(options, from, to, offset, size, res0) → error. Spec §3.7. */
  memextent_donate: hc(0x61, '3.7', ['options', 'from', 'to', 'offset', 'size', 'res0'], ERR, { linux: 'yes', types: { options: 'u32' } }),
  /** `0x62` addrspace_attach_vdevice(addrspace, vdevice, index, vbase, size, flags) → error. Spec §3.6. */
  addrspace_attach_vdevice: hc(0x62, '3.6', ['addrspace', 'vdevice', 'index', 'vbase', 'size', 'flags'], ERR),
  /** `0x63` watchdog_manage(watchdog, operation) → —. Spec §3.10. */
  watchdog_manage: hc(0x63, '3.10', ['watchdog', 'operation'], [], { forms: ['native'], availability: 'documented', signatureComplete: false }),
  /** `0x64` vcpu_register_write(vcpu, register_set, index, value, res0) → error. Spec §3.8. */
  vcpu_register_write: hc(0x64, '3.8', ['vcpu', 'register_set', 'index', 'value', 'res0'], ERR),
  /** `0x65` vcpu_run(vcpu, resume_data0, resume_data1, resume_data2, res0) → error, state, state_data0, state_data1, state_data2. Spec §3.8. */
  vcpu_run: hc(0x65, '3.8', ['vcpu', 'resume_data0', 'resume_data1', 'resume_data2', 'res0'], ['error', 'state', 'state_data0', 'state_data1', 'state_data2'], { linux: 'yes' }),
  /** `0x66` vpm_group_configure(vpm_group, flags, res0) → error. Spec §3.9. */
  vpm_group_configure: hc(0x66, '3.9', ['vpm_group', 'flags', 'res0'], ERR),
  /** `0x67` vgic_set_mpidr_mapping(vic, mask, aff0_shift, aff1_shift, aff2_shift, aff3_shift, mt) → error. Spec §3.5. */
  vgic_set_mpidr_mapping: hc(0x67, '3.5', ['vic', 'mask', 'aff0_shift', 'aff1_shift', 'aff2_shift', 'aff3_shift', 'mt'], ERR),
  /** `0x68` vcpu_run_check(vcpu, res0) → error, state, data0, data1, data2. Spec §3.8. */
  vcpu_run_check: hc(0x68, '3.8', ['vcpu', 'res0'], ['error', 'state', 'data0', 'data1', 'data2']),
  /** `0x6a` addrspace_find_info_area(res0) → error, ipa, size. Spec §3.6. */
  addrspace_find_info_area: hc(0x6a, '3.6', ['res0'], ['error', 'ipa', 'size'], { forms: ['smccc'], linux: 'android', availability: 'android' }),
} as const;

/** Name of a numbered Gunyah hypercall (a key of {@link HYPERCALLS}). */
export type HypercallName = keyof typeof HYPERCALLS;

/**
 * Hypercall numbers the API document lists as reserved: 0x16 (doorbell halt) and 0x1E (message
 * queue halt) (spec §3.2, §3.3). They have no entry in {@link HYPERCALLS}.
 */
export const RESERVED_HYPERCALL_NUMBERS = [0x16, 0x1e] as const;

/**
 * Hypercalls declared in public sources without a public call number (spec §3.11, §6 item 6): the
 * vRTC calls and Android's `addrspc_modify_pages`. They cannot be encoded.
 */
export const UNNUMBERED_HYPERCALLS = [
  'partition_create_vrtc',
  'vrtc_configure',
  'vrtc_set_time_base',
  'vrtc_attach_addrspace',
  'addrspc_modify_pages',
] as const;

/** One hypercall with everything the spec gives about it, derived from {@link HYPERCALLS}. */
export interface HypercallDescriptor {
  /** Hypervisor name, e.g. `'doorbell_send'`. */
  readonly name: HypercallName;
  /** Hypercall number. */
  readonly callNumber: number;
  /** `0xC6008000 | callNumber` when the call is known in the SMCCC form, else `undefined`. */
  readonly smcccFunctionId: number | undefined;
  /** `0x6000 + callNumber` when the call is known in the native form, else `undefined`. */
  readonly hvcImmediate: number | undefined;
  /** Calling forms the call is known in. */
  readonly forms: readonly CallingForm[];
  /** Input names in register order; `res0` must be zero and `res1` all-ones. */
  readonly inputs: readonly string[];
  /** Output names in register order (x0 first). */
  readonly outputs: readonly string[];
  /** Inputs/outputs the spec gives as 32-bit or boolean. */
  readonly types: { readonly [name: string]: RegisterType };
  /** Whether x0 on return is a Gunyah error code (false for `hypervisor_identify`). */
  readonly hasErrorOutput: boolean;
  /** Whether the spec gives all inputs and outputs (false for the watchdog calls). */
  readonly signatureComplete: boolean;
  /** Whether Linux issues it. */
  readonly linux: LinuxUse;
  /** Where the call is known to exist. */
  readonly availability: Availability;
  /** The Linux wrapper name where it differs (`bell_send`, `msgq_send`, …). */
  readonly linuxName: string | undefined;
  /** Section of spec/gunyah-hypercalls.md. */
  readonly section: string;
}

function describe(name: HypercallName): HypercallDescriptor {
  const row: HypercallRow = HYPERCALLS[name];
  const forms = row.forms;
  return Object.freeze({
    name,
    callNumber: row.call,
    smcccFunctionId: forms.includes('smccc') ? hypercallFunctionId(row.call) : undefined,
    hvcImmediate: forms.includes('native') ? encodeHvcImmediate(row.call) : undefined,
    forms,
    inputs: row.inputs,
    outputs: row.outputs,
    types: row.types,
    hasErrorOutput: row.outputs[0] === 'error',
    signatureComplete: row.signatureComplete,
    linux: row.linux,
    availability: row.availability,
    linuxName: row.linuxName,
    section: row.section,
  });
}

/** Every hypercall of {@link HYPERCALLS} as a {@link HypercallDescriptor}, sorted by call number. */
export const HYPERCALL_LIST: readonly HypercallDescriptor[] = Object.freeze(
  (Object.keys(HYPERCALLS) as HypercallName[]).map(describe).sort((a, b) => a.callNumber - b.callNumber),
);

const byName = new Map<string, HypercallDescriptor>(HYPERCALL_LIST.map((d) => [d.name, d]));
const byNumber = new Map<number, HypercallDescriptor>(HYPERCALL_LIST.map((d) => [d.callNumber, d]));

/**
 * Returns the descriptor of a hypercall by its hypervisor name.
 *
 * @param name - a key of {@link HYPERCALLS}.
 * @throws {HypercallError} UNKNOWN_HYPERCALL if the name is not in the table (only reachable from
 *   untyped callers).
 */
export function getHypercall(name: HypercallName): HypercallDescriptor {
  const d = byName.get(name);
  if (d === undefined) throw new HypercallError('UNKNOWN_HYPERCALL', `unknown hypercall name: ${show(name)}`, name);
  return d;
}

/**
 * Looks a hypercall up by name; unlike {@link getHypercall} it accepts any string.
 *
 * @param name - a hypervisor hypercall name.
 * @returns the descriptor, or `undefined` when the name is not in the table.
 */
export function findHypercallByName(name: string): HypercallDescriptor | undefined {
  return byName.get(name);
}

/**
 * Looks a hypercall up by its number.
 *
 * @param callNumber - the hypercall number.
 * @returns the descriptor, or `undefined` for a number that is not in the table (including the
 *   reserved 0x16 and 0x1E).
 */
export function findHypercallByNumber(callNumber: number): HypercallDescriptor | undefined {
  return byNumber.get(callNumber);
}

/**
 * Looks a hypercall up by its SMCCC function ID (the value of W0 in an `hvc #0` call).
 *
 * Only fast, SMC64, owner-6, class-0b10 IDs can name a hypercall; the SVE hint (bit 16) is ignored.
 * Calls that are not known in the SMCCC form (watchdog) are not found.
 *
 * @param functionId - the function ID as a u32 `number` or `bigint`.
 * @returns the descriptor, or `undefined` when the ID is well formed but names no hypercall (Gunyah
 *   answers such IDs with "unknown function", -1).
 * @throws {HypercallError} NOT_U32 if `functionId` is not a u32.
 * @throws {HypercallError} SMCCC_RESERVED_BITS if bits 23:17 are set.
 *
 * @example
 * ```ts
 * findHypercallBySmcccId(0xc6008065)?.name; // 'vcpu_run'
 * ```
 */
export function findHypercallBySmcccId(functionId: number | bigint): HypercallDescriptor | undefined {
  const n = hypercallNumberOfFunctionId(functionId);
  if (n === undefined) return undefined;
  const d = byNumber.get(n);
  return d !== undefined && d.forms.includes('smccc') ? d : undefined;
}

/**
 * Looks a hypercall up by its native `hvc` immediate.
 *
 * @param immediate - the 16-bit `hvc` immediate.
 * @returns the descriptor, or `undefined` when the immediate is in Gunyah's range but names no
 *   hypercall known in the native form (Gunyah answers ERROR_UNIMPLEMENTED).
 * @throws {HypercallError} NOT_U16 if `immediate` is not 0–0xFFFF.
 * @throws {HypercallError} NOT_GUNYAH_IMMEDIATE if it is outside 0x6000–0x61FF.
 */
export function findHypercallByHvcImmediate(immediate: number): HypercallDescriptor | undefined {
  const n = decodeHvcImmediate(immediate);
  const d = byNumber.get(n);
  return d !== undefined && d.forms.includes('native') ? d : undefined;
}

/**
 * Returns the descriptor of a hypercall (known in `form`, when given), or throws.
 *
 * @internal
 */
export function requireHypercall(key: HypercallName | number, form?: CallingForm): HypercallDescriptor {
  const d = typeof key === 'number' ? byNumber.get(key) : byName.get(key);
  if (d === undefined) throw new HypercallError('UNKNOWN_HYPERCALL', `unknown hypercall: ${show(key)}`, key);
  if (form !== undefined && !d.forms.includes(form)) {
    throw new HypercallError('FORM_NOT_AVAILABLE', `${d.name} is not known in the ${form} form`, key);
  }
  return d;
}
