import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { HypercallError } from './errors.js';
import {
  HYPERCALLS,
  HYPERCALL_LIST,
  RESERVED_HYPERCALL_NUMBERS,
  UNNUMBERED_HYPERCALLS,
  findHypercallByHvcImmediate,
  findHypercallByName,
  findHypercallByNumber,
  findHypercallBySmcccId,
  getHypercall,
  type HypercallName,
} from './table.js';

// Rows transcribed from spec/gunyah-hypercalls.md §3 tables (number, SMCCC ID column, name,
// section, Inputs column, Outputs column). Watchdog rows (§3.10) have no SMCCC ID and no outputs.
type SpecRow = readonly [number, number | null, string, string, string, string | null];
const SPEC_ROWS: readonly SpecRow[] = [
  [0x00, 0xC6008000, 'hypervisor_identify', '3.1', '—', 'api_info, flags0, flags1, flags2'],
  [0x01, 0xC6008001, 'partition_create_partition', '3.1', 'src_partition cap, cspace cap, res0', 'error, new_cap'],
  [0x02, 0xC6008002, 'partition_create_cspace', '3.1', 'src_partition cap, cspace cap, res0', 'error, new_cap'],
  [0x03, 0xC6008003, 'partition_create_addrspace', '3.1', 'src_partition cap, cspace cap, res0', 'error, new_cap'],
  [0x04, 0xC6008004, 'partition_create_memextent', '3.1', 'src_partition cap, cspace cap, res0', 'error, new_cap'],
  [0x05, 0xC6008005, 'partition_create_thread', '3.1', 'src_partition cap, cspace cap, res0', 'error, new_cap'],
  [0x06, 0xC6008006, 'partition_create_doorbell', '3.1', 'src_partition cap, cspace cap, res0', 'error, new_cap'],
  [0x07, 0xC6008007, 'partition_create_msgqueue', '3.1', 'src_partition cap, cspace cap, res0', 'error, new_cap'],
  [0x09, 0xC6008009, 'partition_create_watchdog', '3.1', 'src_partition cap, cspace cap, res0', 'error, new_cap'],
  [0x0A, 0xC600800A, 'partition_create_vic', '3.1', 'src_partition cap, cspace cap, res0', 'error, new_cap'],
  [0x0B, 0xC600800B, 'partition_create_vpm_group', '3.1', 'src_partition cap, cspace cap, res0', 'error, new_cap'],
  [0x48, 0xC6008048, 'partition_create_virtio_mmio', '3.1', 'src_partition cap, cspace cap, res0', 'error, new_cap'],
  [0x0C, 0xC600800C, 'object_activate', '3.1', 'cap, res0', 'error'],
  [0x0D, 0xC600800D, 'object_activate_from', '3.1', 'cspace, cap, res0', 'error'],
  [0x0E, 0xC600800E, 'object_reset', '3.1', 'cap, res0', 'error'],
  [0x0F, 0xC600800F, 'object_reset_from', '3.1', 'cspace, cap, res0', 'error'],
  [0x10, 0xC6008010, 'doorbell_bind_virq', '3.2', 'doorbell, vic, virq_info, res0', 'error'],
  [0x11, 0xC6008011, 'doorbell_unbind_virq', '3.2', 'doorbell, res0', 'error'],
  [0x12, 0xC6008012, 'doorbell_send', '3.2', 'doorbell, new_flags (u64), res0', 'error, old_flags'],
  [0x13, 0xC6008013, 'doorbell_receive', '3.2', 'doorbell, clear_flags (u64, non-zero), res0', 'error, old_flags'],
  [0x14, 0xC6008014, 'doorbell_reset', '3.2', 'doorbell, res0', 'error'],
  [0x15, 0xC6008015, 'doorbell_mask', '3.2', 'doorbell, enable_mask, ack_mask, res0', 'error'],
  [0x17, 0xC6008017, 'msgqueue_bind_send_virq', '3.3', 'mq, vic, virq_info, res0', 'error'],
  [0x18, 0xC6008018, 'msgqueue_bind_receive_virq', '3.3', 'mq, vic, virq_info, res0', 'error'],
  [0x19, 0xC6008019, 'msgqueue_unbind_send_virq', '3.3', 'mq, res0', 'error'],
  [0x1A, 0xC600801A, 'msgqueue_unbind_receive_virq', '3.3', 'mq, res0', 'error'],
  [0x1B, 0xC600801B, 'msgqueue_send', '3.3', 'mq, size, buffer VA, send_flags, res0', 'error, not_full (bool)'],
  [0x1C, 0xC600801C, 'msgqueue_receive', '3.3', 'mq, buffer VA, buffer size, res0', 'error, size received, not_empty (bool)'],
  [0x1D, 0xC600801D, 'msgqueue_flush', '3.3', 'mq, res0', 'error'],
  [0x1F, 0xC600801F, 'msgqueue_configure_send', '3.3', 'mq, not_full threshold, not_full holdoff (µs), res1 (**all-ones**)', 'error'],
  [0x20, 0xC6008020, 'msgqueue_configure_receive', '3.3', 'mq, not_empty threshold, not_empty holdoff (µs), res1 (**all-ones**)', 'error'],
  [0x21, 0xC6008021, 'msgqueue_configure', '3.3', 'mq, create_info, res0', 'error'],
  [0x22, 0xC6008022, 'cspace_delete_cap_from', '3.4', 'cspace, cap, res0', 'error'],
  [0x23, 0xC6008023, 'cspace_copy_cap_from', '3.4', 'src_cspace, src_cap, dest_cspace, rights_mask (u32), res0', 'error, new_cap'],
  [0x24, 0xC6008024, 'cspace_revoke_cap_from', '3.4', 'src_cspace, src_cap, res0', 'error'],
  [0x25, 0xC6008025, 'cspace_configure', '3.4', 'cspace, max_caps, res0', 'error'],
  [0x3E, 0xC600803E, 'cspace_attach_thread', '3.4', 'cspace, thread, res0', 'error'],
  [0x59, 0xC6008059, 'cspace_revoke_caps_from', '3.4', 'src_cspace, master_cap, res0', 'error'],
  [0x26, 0xC6008026, 'hwirq_bind_virq', '3.5', 'hwirq, vic, virq_info, res0', 'error'],
  [0x27, 0xC6008027, 'hwirq_unbind_virq', '3.5', 'hwirq, res0', 'error'],
  [0x28, 0xC6008028, 'vic_configure', '3.5', 'vic, max_vcpus, max_virqs, vic_options, max_msis', 'error'],
  [0x29, 0xC6008029, 'vic_attach_vcpu', '3.5', 'vic, vcpu, index, res0', 'error'],
  [0x56, 0xC6008056, 'vic_bind_msi_source', '3.5', 'vic, msi_source, res0', 'error'],
  [0x67, 0xC6008067, 'vgic_set_mpidr_mapping', '3.5', 'vic, mask, aff0_shift, aff1_shift, aff2_shift, aff3_shift, mt', 'error'],
  [0x2A, 0xC600802A, 'addrspace_attach_thread', '3.6', 'addrspace, thread, res0', 'error'],
  [0x2B, 0xC600802B, 'addrspace_map', '3.6', 'addrspace, memextent, vbase (IPA), map_attrs (u32), map_flags (u32), offset, size', 'error'],
  [0x2C, 0xC600802C, 'addrspace_unmap', '3.6', 'addrspace, memextent, vbase, map_flags, offset, size', 'error'],
  [0x2D, 0xC600802D, 'addrspace_update_access', '3.6', 'addrspace, memextent, vbase, access_attrs, map_flags, offset, size', 'error'],
  [0x2E, 0xC600802E, 'addrspace_configure', '3.6', 'addrspace, vmid, res0', 'error'],
  [0x2F, 0xC600802F, 'addrspace_attach_vdma', '3.6', 'addrspace, dma_device, index, res0', 'error'],
  [0x5A, 0xC600805A, 'addrspace_lookup', '3.6', 'addrspace, memextent, vbase, size, res0', 'error, offset, size, map_attrs'],
  [0x5B, 0xC600805B, 'addrspace_configure_info_area', '3.6', 'addrspace, info_area memextent, ipa, res0', 'error'],
  [0x60, 0xC6008060, 'addrspace_configure_vmmio', '3.6', 'addrspace, vbase, size, op (0 add, 1 remove), res0', 'error'],
  [0x62, 0xC6008062, 'addrspace_attach_vdevice', '3.6', 'addrspace, vdevice, index, vbase, size, flags', 'error'],
  [0x6A, 0xC600806A, 'addrspace_find_info_area', '3.6', 'res0', 'error, ipa, size'],
  [0x30, 0xC6008030, 'memextent_modify', '3.7', 'memextent, flags, offset, size', 'error'],
  [0x31, 0xC6008031, 'memextent_configure', '3.7', 'memextent, phys_base, size, attributes, res0', 'error'],
  [0x32, 0xC6008032, 'memextent_configure_derive', '3.7', 'memextent, parent, offset, size, attributes, res0', 'error'],
  [0x61, 0xC6008061, 'memextent_donate', '3.7', 'options (u32), from, to, offset, size, res0', 'error'],
  [0x34, 0xC6008034, 'vcpu_configure', '3.8', 'vcpu, vcpu_options (u64), res0', 'error'],
  [0x38, 0xC6008038, 'vcpu_poweron', '3.8', 'vcpu, entry_point IPA, context (→ guest x0), flags', 'error'],
  [0x39, 0xC6008039, 'vcpu_poweroff', '3.8', 'vcpu, flags (bit 0 last_vcpu)', 'error'],
  [0x3A, 0xC600803A, 'vcpu_kill', '3.8', 'vcpu, res0', 'error'],
  [0x3B, 0xC600803B, 'scheduler_yield', '3.8', 'control, arg1, res0', 'error'],
  [0x3D, 0xC600803D, 'vcpu_set_affinity', '3.8', 'vcpu, cpu index, res1 (**all-ones**)', 'error'],
  [0x46, 0xC6008046, 'vcpu_set_priority', '3.8', 'vcpu, priority', 'error'],
  [0x47, 0xC6008047, 'vcpu_set_timeslice', '3.8', 'vcpu, timeslice (ns)', 'error'],
  [0x5C, 0xC600805C, 'vcpu_bind_virq', '3.8', 'vcpu, vic, virq_info, virq_type (0 halt, 1 vcpu_run_wakeup), res0', 'error'],
  [0x5D, 0xC600805D, 'vcpu_unbind_virq', '3.8', 'vcpu, virq_type, res0', 'error'],
  [0x64, 0xC6008064, 'vcpu_register_write', '3.8', 'vcpu, register_set, index, value, res0', 'error'],
  [0x65, 0xC6008065, 'vcpu_run', '3.8', 'vcpu, resume_data0, resume_data1, resume_data2, res0', 'error, state, state_data0, state_data1, state_data2'],
  [0x68, 0xC6008068, 'vcpu_run_check', '3.8', 'vcpu, res0', 'error, state, data0, data1, data2'],
  [0x3C, 0xC600803C, 'vpm_group_attach_vcpu', '3.9', 'vpm_group, vcpu, index, res0', 'error'],
  [0x43, 0xC6008043, 'vpm_group_bind_virq', '3.9', 'vpm_group, vic, virq_info, res0', 'error'],
  [0x44, 0xC6008044, 'vpm_group_unbind_virq', '3.9', 'vpm_group, res0', 'error'],
  [0x45, 0xC6008045, 'vpm_group_get_state', '3.9', 'vpm_group, res0', 'error, vpm_state'],
  [0x66, 0xC6008066, 'vpm_group_configure', '3.9', 'vpm_group, flags, res0', 'error'],
  [0x40, null, 'watchdog_attach_vcpu', '3.10', 'watchdog, vcpu, res0', null],
  [0x41, null, 'watchdog_bind_virq', '3.10', 'watchdog, vic, virq_info, bind option flags', null],
  [0x42, null, 'watchdog_unbind_virq', '3.10', 'watchdog, …', null],
  [0x58, null, 'watchdog_configure', '3.10', 'watchdog, …', null],
  [0x63, null, 'watchdog_manage', '3.10', 'watchdog, operation', null],
  [0x49, 0xC6008049, 'virtio_mmio_configure', '3.11', 'vio, memextent, vqs_num, flags, device_type', 'error'],
  [0x4A, 0xC600804A, 'virtio_mmio_backend_bind_virq', '3.11', 'vio, vic, virq, res0', 'error'],
  [0x4B, 0xC600804B, 'virtio_mmio_backend_unbind_virq', '3.11', 'vio, res0', 'error'],
  [0x4C, 0xC600804C, 'virtio_mmio_frontend_bind_virq', '3.11', 'vio, vic, virq, res0', 'error'],
  [0x4D, 0xC600804D, 'virtio_mmio_frontend_unbind_virq', '3.11', 'vio, res0', 'error'],
  [0x4E, 0xC600804E, 'virtio_mmio_backend_assert_virq', '3.11', 'vio, interrupt_status (u32), res0', 'error'],
  [0x4F, 0xC600804F, 'virtio_mmio_backend_set_dev_features', '3.11', 'vio, sel, features (u32), res0', 'error'],
  [0x50, 0xC6008050, 'virtio_mmio_backend_set_queue_num_max', '3.11', 'vio, sel, max (u32), res0', 'error'],
  [0x51, 0xC6008051, 'virtio_mmio_backend_get_drv_features', '3.11', 'vio, sel, res0', 'error, drv_feat (u32)'],
  [0x52, 0xC6008052, 'virtio_mmio_backend_get_queue_info', '3.11', 'vio, sel, res0', 'error, num, ready, desc (u64), drv (u64), dev (u64)'],
  [0x53, 0xC6008053, 'virtio_mmio_backend_get_notification', '3.11', 'vio, res0', 'error, vqs_bitmap, reason'],
  [0x54, 0xC6008054, 'virtio_mmio_backend_acknowledge_reset', '3.11', 'vio, res0', 'error'],
  [0x55, 0xC6008055, 'virtio_mmio_backend_update_status', '3.11', 'vio, val (u32), res0', 'error'],
  [0x57, 0xC6008057, 'prng_get_entropy', '3.11', 'num_bytes, res0', 'error, data0..data3 (u32 each)'],
  [0x5E, 0xC600805E, 'virtio_input_configure', '3.11', 'vio, devids, prop_bits, num_evtypes, num_absaxes, res0', 'error'],
  [0x5F, 0xC600805F, 'virtio_input_set_data', '3.11', 'vio, sel, subsel, size, data VA, res0', 'error'],
  [0x3F, 0xC600803F, 'trace_update_class_flags', '3.11', 'set_flags, clear_flags, res0', 'error, flags'],
];

// Calls the spec's "Linux" columns mark as issued by Linux (§3.1–§3.8).
const SPEC_LINUX: Readonly<Record<string, string>> = {
  hypervisor_identify: 'yes',
  doorbell_send: 'yes',
  doorbell_mask: 'yes',
  msgqueue_send: 'yes',
  msgqueue_receive: 'yes',
  addrspace_map: 'yes',
  addrspace_unmap: 'yes',
  memextent_donate: 'yes',
  vcpu_run: 'yes',
  addrspace_configure_vmmio: 'android-guest',
  addrspace_find_info_area: 'android',
};

/** Splits a spec Inputs/Outputs cell into items: parenthesised notes dropped, `data0..data3` expanded. */
function specItems(cell: string): string[] {
  if (cell === '—') return [];
  return cell
    .replace(/\([^)]*\)/g, '')
    .split(',')
    .map((s) => s.trim())
    .flatMap((s) => (s.startsWith('data0..data3') ? ['data0', 'data1', 'data2', 'data3'] : [s]));
}

describe('hypercall table vs spec §3', () => {
  it('has exactly the spec rows', () => {
    expect(HYPERCALL_LIST.map((d) => d.name).sort()).toEqual(SPEC_ROWS.map((r) => r[2]).sort());
    expect(HYPERCALL_LIST).toHaveLength(99);
  });

  it.each(SPEC_ROWS)('call %d (%s)', (num, smccc, name, section, inputs, outputs) => {
    const d = findHypercallByName(name);
    expect(d).toBeDefined();
    if (d === undefined) return;
    expect(d.callNumber).toBe(num);
    expect(d.section).toBe(section);
    expect(d.smcccFunctionId).toBe(smccc ?? undefined);
    if (smccc !== null) expect(smccc).toBe((0xc6008000 | num) >>> 0);
    expect(d.linux).toBe(SPEC_LINUX[name] ?? 'no');
    // inputs: same count (when the spec gives them all), and each name starts with the spec's first word
    const items = specItems(inputs);
    const complete = !items.includes('…');
    expect(d.signatureComplete).toBe(complete && outputs !== null);
    const given = items.filter((i) => i !== '…');
    if (complete) expect(d.inputs).toHaveLength(given.length);
    given.forEach((item, i) => {
      const word = item.split(/\s+/)[0] as string;
      expect(d.inputs[i]?.startsWith(word === 'bind' ? 'bind' : word)).toBe(true);
    });
    // reserved inputs in the same positions
    expect(d.inputs.map((x) => (x === 'res0' || x === 'res1' ? x : '-'))).toEqual(
      complete ? given.map((x) => (x.startsWith('res0') ? 'res0' : x.startsWith('res1') ? 'res1' : '-')) : d.inputs.map((x) => (x === 'res0' || x === 'res1' ? x : '-')),
    );
    if (outputs === null) {
      expect(d.outputs).toEqual([]);
    } else {
      const outs = specItems(outputs);
      expect(d.outputs).toHaveLength(outs.length);
      outs.forEach((item, i) => expect(d.outputs[i]?.startsWith(item.split(/\s+/)[0] as string)).toBe(true));
      expect(d.hasErrorOutput).toBe(outs[0] === 'error');
    }
  });

  it('forms: SMCCC where the spec gives an ID; native for all but the Android-only 0x6A', () => {
    for (const [num, smccc, name] of SPEC_ROWS) {
      const d = getHypercall(name as HypercallName);
      expect(d.forms.includes('smccc')).toBe(smccc !== null);
      expect(d.forms.includes('native')).toBe(name !== 'addrspace_find_info_area');
      expect(d.hvcImmediate).toBe(name === 'addrspace_find_info_area' ? undefined : 0x6000 + num);
    }
  });

  it('pins the spec register-mapping example for doorbell_send (§1.2)', () => {
    const d = getHypercall('doorbell_send');
    expect(d.smcccFunctionId).toBe(0xc6008012);
    expect(d.hvcImmediate).toBe(0x6012);
    expect(d.inputs).toEqual(['doorbell', 'new_flags', 'res0']);
    expect(d.outputs).toEqual(['error', 'old_flags']);
  });

  it('records the Linux wrapper names and spec types', () => {
    expect(getHypercall('doorbell_send').linuxName).toBe('bell_send');
    expect(getHypercall('doorbell_mask').linuxName).toBe('bell_set_mask');
    expect(getHypercall('msgqueue_send').linuxName).toBe('msgq_send');
    expect(getHypercall('msgqueue_receive').linuxName).toBe('msgq_recv');
    expect(getHypercall('memextent_donate').types).toEqual({ options: 'u32' });
    expect(getHypercall('addrspace_map').types).toEqual({ map_attrs: 'u32', map_flags: 'u32' });
    expect(getHypercall('msgqueue_send').types).toEqual({ not_full: 'bool' });
  });

  it('availability: build options, documented-only watchdog, Android-only 0x6A', () => {
    expect(getHypercall('partition_create_watchdog').availability).toBe('build-option');
    expect(getHypercall('partition_create_virtio_mmio').availability).toBe('build-option');
    expect(getHypercall('watchdog_manage').availability).toBe('documented');
    expect(getHypercall('addrspace_find_info_area').availability).toBe('android');
    expect(getHypercall('vcpu_run').availability).toBe('open-source');
  });

  it('memextent_donate is 0x61, not the 0x6033 of the API document (§3.7)', () => {
    expect(getHypercall('memextent_donate').callNumber).toBe(0x61);
    expect(findHypercallByNumber(0x33)).toBeUndefined();
  });

  it('leaves the reserved numbers 0x16 and 0x1E out', () => {
    expect(RESERVED_HYPERCALL_NUMBERS).toEqual([0x16, 0x1e]);
    expect(findHypercallByNumber(0x16)).toBeUndefined();
    expect(findHypercallByNumber(0x1e)).toBeUndefined();
    expect(findHypercallBySmcccId(0xc6008016)).toBeUndefined();
    expect(findHypercallByHvcImmediate(0x601e)).toBeUndefined();
  });

  it('lists the unnumbered calls and never encodes them (§6 item 6)', () => {
    expect(UNNUMBERED_HYPERCALLS).toEqual([
      'partition_create_vrtc',
      'vrtc_configure',
      'vrtc_set_time_base',
      'vrtc_attach_addrspace',
      'addrspc_modify_pages',
    ]);
    for (const n of UNNUMBERED_HYPERCALLS) expect(findHypercallByName(n)).toBeUndefined();
  });

  it('numbers and names are unique; every call fits the native range', () => {
    expect(new Set(HYPERCALL_LIST.map((d) => d.callNumber)).size).toBe(HYPERCALL_LIST.length);
    for (const d of HYPERCALL_LIST) expect(d.callNumber).toBeLessThanOrEqual(0x1ff);
    expect(Object.keys(HYPERCALLS)).toHaveLength(HYPERCALL_LIST.length);
  });

  it('no call has more than 8 inputs or outputs (§1.1)', () => {
    for (const d of HYPERCALL_LIST) {
      expect(d.inputs.length).toBeLessThanOrEqual(8);
      expect(d.outputs.length).toBeLessThanOrEqual(8);
    }
  });
});

describe('lookups', () => {
  it('finds by SMCCC ID, immediate and number', () => {
    expect(findHypercallBySmcccId(0xc6008065)?.name).toBe('vcpu_run');
    expect(findHypercallBySmcccId(0xc6008065n)?.name).toBe('vcpu_run');
    expect(findHypercallByHvcImmediate(0x6065)?.name).toBe('vcpu_run');
    expect(findHypercallByNumber(0x65)?.name).toBe('vcpu_run');
    expect(findHypercallBySmcccId(0xc600806a)?.name).toBe('addrspace_find_info_area');
    expect(findHypercallByHvcImmediate(0x606a)).toBeUndefined();
    expect(findHypercallByHvcImmediate(0x6040)?.name).toBe('watchdog_attach_vcpu');
    expect(findHypercallBySmcccId(0xc6008040)).toBeUndefined();
  });

  it('ignores the SVE hint but rejects non-hypercall IDs', () => {
    expect(findHypercallBySmcccId(0xc6018012)?.name).toBe('doorbell_send');
    expect(findHypercallBySmcccId(0x86008012)).toBeUndefined(); // SMC32
    expect(findHypercallBySmcccId(0x46008012)).toBeUndefined(); // yielding
    expect(findHypercallBySmcccId(0xc5008012)).toBeUndefined(); // owner 5
    expect(findHypercallBySmcccId(0xc600c012)).toBeUndefined(); // service class
    expect(findHypercallBySmcccId(0xc6000012)).toBeUndefined(); // platform class
  });

  it('throws typed errors for malformed IDs and immediates', () => {
    expect(() => findHypercallBySmcccId(0xc6fe8012)).toThrow(expect.objectContaining({ code: 'SMCCC_RESERVED_BITS' }));
    expect(() => findHypercallBySmcccId(-1)).toThrow(expect.objectContaining({ code: 'NOT_U32' }));
    expect(() => findHypercallBySmcccId(2 ** 32)).toThrow(expect.objectContaining({ code: 'NOT_U32' }));
    expect(() => findHypercallByHvcImmediate(0)).toThrow(expect.objectContaining({ code: 'NOT_GUNYAH_IMMEDIATE' }));
    expect(() => findHypercallByHvcImmediate(0x6200)).toThrow(expect.objectContaining({ code: 'NOT_GUNYAH_IMMEDIATE' }));
    expect(() => findHypercallByHvcImmediate(0x10000)).toThrow(expect.objectContaining({ code: 'NOT_U16' }));
    expect(() => getHypercall('nope' as HypercallName)).toThrow(expect.objectContaining({ code: 'UNKNOWN_HYPERCALL' }));
  });

  it('fuzz: any u32 gives a descriptor whose ID matches, undefined, or a typed error', () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0x3fff }).map((n) => (0xc6008000 | n) >>> 0)), (id) => {
        try {
          const d = findHypercallBySmcccId(id);
          if (d !== undefined) expect(d.smcccFunctionId).toBe((id & ~0x10000) >>> 0);
        } catch (e) {
          expect(e).toBeInstanceOf(HypercallError);
        }
      }),
    );
  });

  it('fuzz: any value as an immediate gives a descriptor, undefined or a typed error', () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: -10, max: 0x1ffff }), fc.double()), (imm) => {
        try {
          const d = findHypercallByHvcImmediate(imm);
          if (d !== undefined) expect(d.hvcImmediate).toBe(imm);
        } catch (e) {
          expect(e).toBeInstanceOf(HypercallError);
        }
      }),
    );
  });
});
