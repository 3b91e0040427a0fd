// EmuRm on its own: the guest devicetree at VM_INIT / VM_START, boot context numberings, errors.
import { describe, expect, it } from 'vitest';
import { RM_REQUESTS, RM_VM_STATUS, RmError, RmSyncClient, createSyncTransportPair } from '@gunyah-ts/rm-proto';
import { FdtNode, FdtProperty, buildGunyahVmDt, parseDtb, serializeDtb, DeviceTree } from '@gunyah-ts/devicetree';
import { EmuRm } from './rm-model.js';

const BASE = 0x8000_0000n;
const DTB_AT = 0x1000n;

function setup(dtb: Uint8Array) {
  const mem = new Uint8Array(0x20_0000);
  mem.set(dtb, Number(DTB_AT));
  const [h, r] = createSyncTransportPair();
  const rm = new EmuRm(r, { kaslrSeed: () => 7n });
  const c = new RmSyncClient(h);
  const { vmid } = c.call('VM_ALLOC_VMID', { vmid: 0 });
  const v = vmid as number;
  rm.attachMemory(v, {
    read: (ipa, len) => (ipa >= BASE && ipa + BigInt(len) <= BASE + BigInt(mem.length) ? mem.slice(Number(ipa - BASE), Number(ipa - BASE) + len) : undefined),
    write: (ipa, bytes) => {
      mem.set(bytes, Number(ipa - BASE));
      return true;
    },
  });
  const { handle } = c.call('MEM_LEND', { memType: 0, flags: 0, label: 0, acl: [{ vmid: v, rights: 7 }], sgl: [{ address: BASE, size: BigInt(mem.length) }], attrs: [] });
  c.call('VM_CONFIG_IMAGE', { vmid: v, authMechanism: 0, handle, imageOffset: 0n, imageSize: 0n, dtbOffset: DTB_AT, dtbSize: 0x1_0000n });
  return { rm, c, vmid: v, mem };
}

const code = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(RmError);
    return (e as RmError).rmErrorName;
  }
  return 'OK';
};

describe('EmuRm', () => {
  it('starts a VM: overlay written back, doorbells, GIC, entry, boot context of both numberings', () => {
    const { rm, c, vmid, mem } = setup(buildGunyahVmDt({ memory: { base: BASE, size: 0x20_0000n } }).dtb);
    c.call('VM_INIT', { vmid });
    c.call('VM_SET_BOOT_CONTEXT', { vmid, regSet: 1, regIndex: 0, value: 0x8000_1000n });
    const raw = c.callRaw(RM_REQUESTS.VM_SET_BOOT_CONTEXT_V15.id, RM_REQUESTS.VM_SET_BOOT_CONTEXT.request.encode({ vmid, regSet: 0, regIndex: 1, value: 5n }));
    expect(raw.rmErrorCode).toBe(0);
    expect(code(() => c.call('VM_SET_BOOT_CONTEXT', { vmid, regSet: 1, regIndex: 1, value: 0n }))).toBe('ARGUMENT_INVALID');
    expect(c.callRaw(RM_REQUESTS.VM_SET_BOOT_CONTEXT_V15.id, new Uint8Array(3)).rmErrorCode).not.toBe(0);
    const { resources } = c.call('VM_GET_HYP_RESOURCES', { vmid });
    expect(resources.map((r) => [r.type, r.resourceLabel])).toEqual([[4, 0], [0, 0]]);
    c.call('VM_START', { vmid });
    const s = rm.started(vmid)!;
    expect(s.gicdBase).toBe(0x3fff_0000n);
    expect(s.doorbells.get(0)).toMatchObject({ spi: 0, level: false });
    expect(s.entry).toBe(BASE);
    expect(s.dtbAddress).toBe(BASE + DTB_AT);
    expect(s.bootContext.get(0x100)).toBe(0x8000_1000n);
    expect(s.bootContext.get(0x001)).toBe(5n);
    const back = parseDtb(mem.slice(Number(DTB_AT), Number(DTB_AT) + s.dtb.length));
    expect(back.findNode('/hypervisor/qcom,gunyah-vm')?.property('qcom,owner-vmid')?.asU32()).toBe(3);
    expect(back.findNode('/chosen')?.property('kaslr-seed')?.asU64()).toBe(7n);
    expect(rm.vm(vmid)?.status).toBe(RM_VM_STATUS.RUNNING);
  });

  it('refuses a DT with /hypervisor at VM_START (DENIED) and garbage at VM_INIT (ARGUMENT_INVALID)', () => {
    const dt = buildGunyahVmDt({ memory: { base: BASE, size: 0x20_0000n } }).tree;
    const withHyp = new DeviceTree(dt.root.withChild(new FdtNode('hypervisor', [FdtProperty.strings('compatible', 'x')])));
    const a = setup(serializeDtb(withHyp));
    const init = code(() => a.c.call('VM_INIT', { vmid: a.vmid }));
    if (init === 'OK') expect(code(() => a.c.call('VM_START', { vmid: a.vmid }))).toBe('DENIED');
    else expect(init).toBe('ARGUMENT_INVALID');
    const b = setup(new Uint8Array(64).fill(0xee));
    expect(code(() => b.c.call('VM_INIT', { vmid: b.vmid }))).toBe('ARGUMENT_INVALID');
    expect(b.rm.vm(b.vmid)?.status).toBe(RM_VM_STATUS.INIT_FAILED);
  });

  it('demand paging and address layout only in INIT; unknown VMs are VMID_INVALID', () => {
    const { c, vmid, rm } = setup(buildGunyahVmDt({ memory: { base: BASE, size: 0x20_0000n } }).dtb);
    c.call('VM_SET_DEMAND_PAGING', { vmid, ranges: [{ address: BASE, size: 0x20_0000n }] });
    expect(code(() => c.call('VM_SET_DEMAND_PAGING', { vmid, ranges: [{ address: BASE + 1n, size: 0x1000n }] }))).toBe('ARGUMENT_INVALID');
    c.call('VM_SET_ADDRESS_LAYOUT', { vmid, rangeId: 0, base: BASE, size: 0x1000n });
    expect(rm.demandPaging(vmid)).toEqual([{ address: BASE, size: 0x20_0000n }]);
    c.call('VM_INIT', { vmid });
    expect(code(() => c.call('VM_SET_DEMAND_PAGING', { vmid, ranges: [] }))).toBe('VM_STATE');
    expect(code(() => c.call('VM_SET_ADDRESS_LAYOUT', { vmid: 0x99, rangeId: 0, base: 0n, size: 0n }))).toBe('VMID_INVALID');
  });
});
