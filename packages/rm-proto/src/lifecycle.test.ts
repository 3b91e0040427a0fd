// Client ↔ FakeRm conversations over the in-memory transport: the full VM lifecycle of the
// issue, the v17 flow of spec §6.1, and the state checks of spec §6.3.
import { describe, expect, it } from 'vitest';
import {
  FakeRm,
  RM_EXIT_TYPE,
  RM_STOP_REASON_FORCE_STOP,
  RM_VM_STATUS,
  RmClient,
  RmError,
  createMemoryTransportPair,
  type FakeRmOptions,
  type RmMessage,
} from '../src/index.js';

function setup(options: FakeRmOptions = {}) {
  const [hostEnd, rmEnd] = createMemoryTransportPair();
  const rm = new FakeRm(rmEnd, options);
  const client = new RmClient(hostEnd);
  const log: string[] = [];
  client.onNotification((e) => {
    const v = e.value as unknown as Record<string, unknown>;
    if (e.name === 'VM_STATUS') log.push(`VM_STATUS ${String(v.vmStatus)}`);
    else log.push(`${String(e.name)}`);
  });
  const call: RmClient['call'] = async (name, req, opts) => {
    const reply = await client.call(name, req, opts);
    log.push(`← ${name}`);
    return reply;
  };
  return { rm, client, log, call };
}

const acl = (vmid: number, rights = 6) => ({ vmid, rights });
const page = (address: bigint, size = 0x1000n) => ({ address, size });
const status = (n: number): string => `VM_STATUS ${n}`;
const rmCode = async (p: Promise<unknown>): Promise<string> => {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(RmError);
  return (e as RmError).rmErrorName;
};

describe('VM lifecycle against FakeRm', () => {
  it('alloc → share/lend → config → init → resources → start → stop → reset → reclaim → dealloc', async () => {
    const { rm, client, log, call } = setup({ vcpus: 2 });

    const { vmid } = await call('VM_ALLOC_VMID', { vmid: 0 });
    expect(vmid).toBe(0x80);
    const guest = vmid as number;
    expect(rm.vm(guest)?.status).toBe(RM_VM_STATUS.LOAD);

    const { vmid: host } = await call('VM_GET_VMID', {});
    expect(host).toBe(3);
    const shared = await call('MEM_SHARE', {
      memType: 0, flags: 0, label: 1, acl: [acl(guest), acl(host, 7)], sgl: [page(0x8_8000_0000n, 0x10_0000n)], attrs: [],
    });
    const dtb = await call('MEM_LEND', {
      memType: 0, flags: 2, label: 0, acl: [acl(guest, 7)], sgl: [page(0x8_9000_0000n)], attrs: [],
    });
    expect([shared.handle, dtb.handle]).toEqual([0, 1]);
    expect(rm.parcel(dtb.handle)?.complete).toBe(false);
    await call('MEM_APPEND', { handle: dtb.handle, flags: 1, sgl: [page(0x8_9000_1000n, 0x3000n)] });
    expect(rm.parcel(dtb.handle)?.complete).toBe(true);

    await call('VM_CONFIG_IMAGE', {
      vmid: guest, authMechanism: 0, handle: dtb.handle, imageOffset: 0n, imageSize: 0n, dtbOffset: 0x1000n, dtbSize: 0x3000n,
    });
    await call('VM_INIT', { vmid: guest });
    const { resources } = await call('VM_GET_HYP_RESOURCES', { vmid: guest });
    expect(resources.map((r) => [r.type, r.resourceLabel, r.capId, r.virq])).toEqual([
      [4, 0, 0x1000n, 0x40],
      [4, 1, 0x1001n, 0x41],
    ]);
    await call('VM_START', { vmid: guest });
    expect(await client.call('VM_GET_STATE', { vmid: guest })).toEqual({ vmStatus: RM_VM_STATUS.RUNNING, osStatus: 0, appStatus: 0 });
    expect(await rmCode(client.call('MEM_RECLAIM', { handle: shared.handle, flags: 0 }))).toBe('MEM_INUSE');

    const exited: unknown[] = [];
    client.on('VM_EXITED', (e) => exited.push(e));
    await call('VM_STOP', { vmid: guest, flags: 1, stopReason: RM_STOP_REASON_FORCE_STOP });
    expect(exited).toEqual([{ vmid: guest, exitType: RM_EXIT_TYPE.VM_STOP_FORCED, reason: [0] }]);

    const reset = new Promise<RmMessage>((resolve) => {
      const off = client.on('VM_STATUS', (s, m) => {
        if (s.vmStatus === RM_VM_STATUS.RESET) {
          off();
          resolve(m);
        }
      });
    });
    await call('VM_RESET', { vmid: guest });
    await reset;
    await call('MEM_RECLAIM', { handle: shared.handle, flags: 0 });
    await call('MEM_RECLAIM', { handle: dtb.handle, flags: 0 });
    await call('VM_DEALLOC_VMID', { vmid: guest });
    expect(rm.vm(guest)).toBeUndefined();
    expect(rm.parcelHandles()).toEqual([]);

    expect(log).toEqual([
      '← VM_ALLOC_VMID',
      '← VM_GET_VMID',
      '← MEM_SHARE',
      '← MEM_LEND',
      '← MEM_APPEND',
      status(RM_VM_STATUS.INIT),
      '← VM_CONFIG_IMAGE',
      status(RM_VM_STATUS.READY),
      '← VM_INIT',
      '← VM_GET_HYP_RESOURCES',
      status(RM_VM_STATUS.RUNNING),
      '← VM_START',
      status(RM_VM_STATUS.EXITED),
      'VM_EXITED',
      '← VM_STOP',
      status(RM_VM_STATUS.RESETTING),
      '← VM_RESET',
      'MEM_RELEASED',
      'MEM_RELEASED',
      status(RM_VM_STATUS.RESET),
      '← MEM_RECLAIM',
      '← MEM_RECLAIM',
      '← VM_DEALLOC_VMID',
    ]);
  });

  it('runs the v17 start sequence of spec §6.1 including the UNCONFIRMED v17 requests', async () => {
    const { rm, call } = setup();
    const { vmid } = await call('VM_ALLOC_VMID', { vmid: 0 });
    const guest = vmid as number;
    const { handle } = await call('MEM_LEND', { memType: 0, flags: 0, label: 0, acl: [acl(guest, 7)], sgl: [page(0x9_0000_0000n, 0x20_0000n)], attrs: [] });
    await call('VM_CONFIG_IMAGE', { vmid: guest, authMechanism: 0, handle, imageOffset: 0n, imageSize: 0n, dtbOffset: 0x1000n, dtbSize: 0x10_0000n });
    await call('VM_SET_DEMAND_PAGING', { vmid: guest, ranges: [page(0x8000_0000n, 0x1000_0000n)] });
    await call('VM_SET_ADDRESS_LAYOUT', { vmid: guest, rangeId: 0, base: 0x8000_0000n, size: 0x20_0000n });
    await call('VM_INIT', { vmid: guest });
    await call('VM_SET_BOOT_CONTEXT', { vmid: guest, regSet: 0, regIndex: 0, value: 0x8010_0000n });
    await call('VM_SET_BOOT_CONTEXT', { vmid: guest, regSet: 1, regIndex: 0, value: 0x8020_0000n });
    expect(await rmCode(call('VM_SET_BOOT_CONTEXT', { vmid: guest, regSet: 1, regIndex: 1, value: 0n }))).toBe('ARGUMENT_INVALID');
    await call('VM_GET_HYP_RESOURCES', { vmid: guest });
    await call('VM_START', { vmid: guest });
    expect(rm.vm(guest)?.bootContext).toEqual(new Map([[0x000, 0x8010_0000n], [0x100, 0x8020_0000n]]));
  });

  it('VM_SET_FIRMWARE_MEM needs state INIT and an existing parcel', async () => {
    const { call } = setup();
    const guest = (await call('VM_ALLOC_VMID', { vmid: 0 })).vmid as number;
    const { handle } = await call('MEM_LEND', { memType: 0, flags: 0, label: 0, acl: [acl(guest)], sgl: [page(0x1000n, 0x4000n)], attrs: [] });
    const fw = { vmid: guest, handle, fwOffset: 0x2000n, fwSize: 0x2000n };
    expect(await rmCode(call('VM_SET_FIRMWARE_MEM', fw))).toBe('VM_STATE');
    await call('VM_CONFIG_IMAGE', { vmid: guest, authMechanism: 2, handle, imageOffset: 0n, imageSize: 0n, dtbOffset: 0n, dtbSize: 0x1000n });
    expect(await rmCode(call('VM_SET_FIRMWARE_MEM', { ...fw, handle: 99 }))).toBe('MEM_INVALID');
    await call('VM_SET_FIRMWARE_MEM', fw);
    expect(await rmCode(call('VM_SET_FIRMWARE_MEM', { ...fw, vmid: 0x99 }))).toBe('DENIED');
  });

  it('without v17 extensions answers the v17-only requests UNIMPLEMENTED, like the public RM', async () => {
    const { call } = setup({ v17Extensions: false });
    const { vmid } = await call('VM_ALLOC_VMID', { vmid: 0 });
    const e = await call('VM_SET_BOOT_CONTEXT', { vmid: vmid as number, regSet: 1, regIndex: 0, value: 0n }).catch((x: unknown) => x);
    expect(e).toMatchObject({ rmErrorName: 'UNIMPLEMENTED', errno: { name: 'EOPNOTSUPP' } });
  });

  it('enforces the states of spec §6.3 with VM_STATE (Linux -EBADMSG)', async () => {
    const { call, client } = setup();
    const { vmid } = await call('VM_ALLOC_VMID', { vmid: 0 });
    const guest = vmid as number;
    expect(await rmCode(call('VM_START', { vmid: guest }))).toBe('VM_STATE');
    expect(await rmCode(call('VM_INIT', { vmid: guest }))).toBe('VM_STATE');
    expect(await rmCode(call('VM_STOP', { vmid: guest, flags: 1, stopReason: 3 }))).toBe('VM_STATE');
    expect(await rmCode(call('VM_RESET', { vmid: guest }))).toBe('VM_STATE');
    expect(await rmCode(call('VM_GET_HYP_RESOURCES', { vmid: guest }))).toBe('NORESOURCE');
    const e = await client.call('VM_START', { vmid: guest }).catch((x: unknown) => x as RmError);
    expect((e as RmError).errno.name).toBe('EBADMSG');
  });

  it('a failed VM_CONFIG_IMAGE sends VM_STATUS(INIT_FAILED) before the error; reset then dealloc works', async () => {
    const { call, log } = setup();
    const { vmid } = await call('VM_ALLOC_VMID', { vmid: 0 });
    const guest = vmid as number;
    expect(await rmCode(call('VM_CONFIG_IMAGE', { vmid: guest, authMechanism: 0, handle: 77, imageOffset: 0n, imageSize: 0n, dtbOffset: 0n, dtbSize: 0x1000n }))).toBe('MEM_INVALID');
    expect(log.at(-1)).toBe(status(RM_VM_STATUS.INIT_FAILED));
    expect(await rmCode(call('VM_DEALLOC_VMID', { vmid: guest }))).toBe('VM_STATE');
    await call('VM_RESET', { vmid: guest });
    await call('VM_DEALLOC_VMID', { vmid: guest });
  });

  it('checks VM_CONFIG_IMAGE ranges against the parcel and the auth mechanism', async () => {
    const { call } = setup();
    const guest = (await call('VM_ALLOC_VMID', { vmid: 0 })).vmid as number;
    const { handle } = await call('MEM_LEND', { memType: 0, flags: 0, label: 0, acl: [acl(guest)], sgl: [page(0x1000n)], attrs: [] });
    const base = { vmid: guest, authMechanism: 0, handle, imageOffset: 0n, imageSize: 0n, dtbOffset: 0n, dtbSize: 0x2000n };
    expect(await rmCode(call('VM_CONFIG_IMAGE', base))).toBe('ARGUMENT_INVALID');
    const guest2 = (await call('VM_ALLOC_VMID', { vmid: 0 })).vmid as number;
    expect(guest2).toBe(0x81);
    expect(await rmCode(call('VM_CONFIG_IMAGE', { ...base, vmid: guest2, dtbSize: 0x1000n }))).toBe('MEM_INVALID'); // not in ACL
  });

  it('validates memory parcels like the public RM', async () => {
    const { call } = setup();
    const create = (kind: 'MEM_LEND' | 'MEM_SHARE' | 'MEM_DONATE', over: object) =>
      rmCode(call(kind, { memType: 0, flags: 0, label: 0, acl: [acl(0x80)], sgl: [page(0x1000n)], attrs: [], ...over }));
    expect(await create('MEM_LEND', { acl: [] })).toBe('ARGUMENT_INVALID');
    expect(await create('MEM_LEND', { sgl: [] })).toBe('ARGUMENT_INVALID');
    expect(await create('MEM_LEND', { acl: [acl(0x80), acl(0x80)] })).toBe('ARGUMENT_INVALID');
    expect(await create('MEM_LEND', { acl: [acl(0x80, 2)] })).toBe('ARGUMENT_INVALID'); // W only
    expect(await create('MEM_LEND', { acl: [acl(3)] })).toBe('ARGUMENT_INVALID'); // owner in a LEND ACL
    expect(await create('MEM_SHARE', {})).toBe('ARGUMENT_INVALID'); // owner missing from a SHARE ACL
    expect(await create('MEM_DONATE', { acl: [acl(0x80, 6)] })).toBe('ARGUMENT_INVALID'); // donate needs RWX
    expect(await create('MEM_LEND', { sgl: [page(0x1001n)] })).toBe('ARGUMENT_INVALID');
    expect(await create('MEM_LEND', { sgl: [page(1n << 44n)] })).toBe('ARGUMENT_INVALID');
    expect(await create('MEM_LEND', { memType: 1, acl: [acl(0x80, 7)] })).toBe('ARGUMENT_INVALID'); // X on IO
    expect(await create('MEM_LEND', { sgl: Array(513).fill(page(0x1000n)) })).toBe('NORESOURCE');
    expect(await rmCode(call('MEM_APPEND', { handle: 9, flags: 1, sgl: [] }))).toBe('HANDLE_INVALID');
    const { handle } = await call('MEM_DONATE', { memType: 0, flags: 0, label: 0, acl: [acl(0x80, 7)], sgl: [page(0x1000n)], attrs: [] });
    expect(await rmCode(call('MEM_APPEND', { handle, flags: 1, sgl: [] }))).toBe('DENIED'); // complete already
    expect(await rmCode(call('MEM_RECLAIM', { handle: handle + 1, flags: 0 }))).toBe('HANDLE_INVALID');
  });

  it('limits an owner to 64 parcels; handles count on from firstHandle, skipping ones in use', async () => {
    const { call } = setup({ firstHandle: 0xfffffffd });
    const lend = () => call('MEM_LEND', { memType: 0, flags: 0, label: 0, acl: [acl(0x80)], sgl: [page(0x1000n)], attrs: [] });
    const handles: number[] = [];
    for (let i = 0; i < 64; i++) handles.push((await lend()).handle);
    expect(handles.slice(0, 4)).toEqual([0xfffffffd, 0xfffffffe, 0, 1]); // 0xFFFFFFFF is never a handle
    expect(await rmCode(lend())).toBe('DENIED');
    await call('MEM_RECLAIM', { handle: 1, flags: 0 });
    expect((await lend()).handle).toBe(62);
  });

  it('allocates dynamic VMIDs 0x80…0xBE lowest first, then NORESOURCE; reserved VMIDs get a standard reply', async () => {
    const { call } = setup();
    const ids: number[] = [];
    for (let i = 0; i < 63; i++) ids.push((await call('VM_ALLOC_VMID', { vmid: 0 })).vmid as number);
    expect(ids[0]).toBe(0x80);
    expect(ids.at(-1)).toBe(0xbe);
    expect(await rmCode(call('VM_ALLOC_VMID', { vmid: 0 }))).toBe('NORESOURCE');
    await call('VM_DEALLOC_VMID', { vmid: 0x90 });
    expect((await call('VM_ALLOC_VMID', { vmid: 0 })).vmid).toBe(0x90);
    expect(await call('VM_ALLOC_VMID', { vmid: 45 })).toEqual({ vmid: null });
    expect(await rmCode(call('VM_ALLOC_VMID', { vmid: 45 }))).toBe('NORESOURCE');
    expect(await rmCode(call('VM_DEALLOC_VMID', { vmid: 0xc0 }))).toBe('VMID_INVALID'); // UNCONFIRMED choice (spec §9 item 9)
  });

  it('only the host may allocate and configure VMs', async () => {
    const { call } = setup({ callerVmid: 0x80 });
    expect(await rmCode(call('VM_ALLOC_VMID', { vmid: 0 }))).toBe('DENIED');
  });

  it('answers guest-side requests it does not model with UNIMPLEMENTED', async () => {
    const { call } = setup();
    expect(await rmCode(call('VM_CONSOLE_OPEN', { vmid: 0 }))).toBe('UNIMPLEMENTED');
    expect(await call('VM_HOST_GET_TYPE', {})).toEqual({ hostType: 0x01000164 });
  });
});
