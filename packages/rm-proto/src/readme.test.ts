// The README usage examples, run as written (imports adapted to the source tree).
import { describe, expect, it } from 'vitest';
import {
  FakeRm,
  RM_REQUESTS,
  RM_VM_STATUS,
  RmClient,
  RmError,
  RmReassembler,
  RmServer,
  createMemoryTransportPair,
  encodeMessage,
} from '../src/index.js';

describe('README examples', () => {
  it('client against FakeRm', async () => {
    const [hostEnd, rmEnd] = createMemoryTransportPair();
    new FakeRm(rmEnd);
    const rm = new RmClient(hostEnd, { timeoutMs: 5000 });
    const seen: number[] = [];
    rm.on('VM_STATUS', ({ vmStatus }) => seen.push(vmStatus));
    const { vmid } = await rm.call('VM_ALLOC_VMID', { vmid: 0 });
    const { handle } = await rm.call('MEM_LEND', {
      memType: 0, flags: 0, label: 0,
      acl: [{ vmid: vmid!, rights: 6 }],
      sgl: [{ address: 0x8_8000_0000n, size: 0x10_0000n }],
      attrs: [],
    });
    await rm.call('VM_CONFIG_IMAGE', {
      vmid: vmid!, authMechanism: 0, handle,
      imageOffset: 0n, imageSize: 0n, dtbOffset: 0x1000n, dtbSize: 0x10000n,
    });
    await rm.call('VM_INIT', { vmid: vmid! });
    expect(seen).toEqual([RM_VM_STATUS.INIT, RM_VM_STATUS.READY]);
    const e = await rm.call('VM_INIT', { vmid: vmid! }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(RmError);
    expect(e).toMatchObject({ rmErrorName: 'VM_STATE', errno: { name: 'EBADMSG', errno: 74 } });
  });

  it('a server for your own model, and the low-level API', async () => {
    const [vmEnd, transport] = createMemoryTransportPair();
    const ready = (vmid: number): boolean => vmid === 0x80;
    const server = new RmServer(transport, { callerVmid: 3 });
    server.handle('VM_START', ({ vmid }, ctx) => {
      if (!ready(vmid)) throw new RmError('VM_STATE');
      ctx.notify('VM_STATUS', { vmid, vmStatus: RM_VM_STATUS.RUNNING, osStatus: 0, appStatus: 0 });
      return {};
    });
    const client = new RmClient(vmEnd);
    const order: string[] = [];
    client.on('VM_STATUS', () => order.push('status'));
    await client.call('VM_START', { vmid: 0x80 }).then(() => order.push('reply'));
    expect(order).toEqual(['status', 'reply']);
    await expect(client.call('VM_START', { vmid: 0x81 })).rejects.toMatchObject({ rmErrorName: 'VM_STATE' });

    const fragments = encodeMessage({ type: 'request', seq: 0, msgId: RM_REQUESTS.VM_GET_VMID.id, payload: new Uint8Array(0) });
    expect([...(fragments[0] as Uint8Array)]).toEqual([0x21, 0x01, 0x00, 0x00, 0x24, 0x00, 0x00, 0x56]);
    const r = new RmReassembler();
    const { message, rejected, aborted } = r.push(fragments[0]!);
    expect([message?.msgId, rejected, aborted]).toEqual([0x56000024, null, null]);
  });
});
