import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { Peer, hex, replyPayload, tick, toHex } from '../test/helpers.js';
import {
  RM_ERROR,
  RM_NOTIFICATIONS,
  RM_REQUESTS,
  RmError,
  RmServer,
  createMemoryTransportPair,
  createSeqCounter,
  type RmServerOptions,
} from '../src/index.js';

function setup(options: RmServerOptions = {}) {
  const [vmEnd, rmEnd] = createMemoryTransportPair();
  const server = new RmServer(rmEnd, options);
  const vm = new Peer(vmEnd);
  return { server, vm, vmEnd, rmEnd };
}

const code = (payload: Uint8Array): number => new DataView(payload.buffer, payload.byteOffset).getUint32(0, true);

describe('RmServer', () => {
  it('answers an unhandled request UNIMPLEMENTED, echoing seq and msg_id', async () => {
    const { vm } = setup();
    await vm.send('request', 42, 0x56000021, new Uint8Array(4));
    const reply = await vm.message(0);
    expect(reply).toMatchObject({ type: 'reply', seq: 42, msgId: 0x56000021 });
    expect(toHex(reply.payload)).toBe('ffffffff');
  });

  it('dispatches to a typed handler and encodes its reply (spec §8 vector 2)', async () => {
    const { server, vm } = setup();
    server.handle('VM_ALLOC_VMID', ({ vmid }) => ({ vmid: vmid === 0 ? 0x80 : null }));
    await vm.send('request', 0, RM_REQUESTS.VM_ALLOC_VMID.id, new Uint8Array(4));
    await vm.message(0);
    expect(toHex(vm.fragments[0] as Uint8Array)).toBe('21020000010000560000000080000000');
  });

  it('answers MSG_INVALID when the request does not decode', async () => {
    const { server, vm } = setup();
    const handler = vi.fn(() => ({}));
    server.handle('VM_START', handler);
    await vm.send('request', 1, RM_REQUESTS.VM_START.id, new Uint8Array(5));
    expect(code((await vm.message(0)).payload)).toBe(RM_ERROR.MSG_INVALID);
    expect(handler).not.toHaveBeenCalled();
  });

  it('turns a thrown RmError into its error reply with trailing bytes', async () => {
    const { server, vm } = setup();
    server.handle('VM_SET_FIRMWARE_MEM', () => {
      throw new RmError('VM_STATE', { extra: Uint8Array.of(5, 0, 0, 0) });
    });
    await vm.send('request', 1, RM_REQUESTS.VM_SET_FIRMWARE_MEM.id, new Uint8Array(24));
    expect(toHex((await vm.message(0)).payload)).toBe('1400000005000000');
  });

  it('answers DENIED for an unexpected handler exception and reports it', async () => {
    const onError = vi.fn();
    const { server, vm } = setup({ onError });
    server.handle('VM_GET_VMID', () => {
      throw new TypeError('model bug');
    });
    await vm.send('request', 1, RM_REQUESTS.VM_GET_VMID.id, new Uint8Array(0));
    expect(code((await vm.message(0)).payload)).toBe(RM_ERROR.DENIED);
    expect(onError).toHaveBeenCalledWith(expect.any(TypeError));
  });

  it('serves requests one at a time in arrival order', async () => {
    const { server, vm } = setup();
    const log: string[] = [];
    server.handle('VM_START', async ({ vmid }) => {
      log.push(`start ${vmid}`);
      await new Promise((r) => setTimeout(r, 20));
      log.push(`end ${vmid}`);
      return {};
    });
    await vm.send('request', 1, RM_REQUESTS.VM_START.id, Uint8Array.of(1, 0, 0, 0));
    await vm.send('request', 2, RM_REQUESTS.VM_START.id, Uint8Array.of(2, 0, 0, 0));
    await vm.message(1);
    expect(log).toEqual(['start 1', 'end 1', 'start 2', 'end 2']);
    expect(vm.messages.map((m) => m.seq)).toEqual([1, 2]);
  });

  it('sends ctx.notify notifications before the reply and afterReply work after it', async () => {
    const { server, vm } = setup();
    server.handle('VM_RESET', ({ vmid }, ctx) => {
      ctx.notify('VM_STATUS', { vmid, vmStatus: 10, osStatus: 0, appStatus: 0 });
      ctx.afterReply(async () => {
        await tick();
        ctx.notify('VM_STATUS', { vmid, vmStatus: 11, osStatus: 0, appStatus: 0 });
      });
      return {};
    });
    server.handle('VM_GET_VMID', () => ({ vmid: 3 }));
    await vm.send('request', 7, RM_REQUESTS.VM_RESET.id, Uint8Array.of(0x80, 0, 0, 0));
    await vm.send('request', 8, RM_REQUESTS.VM_GET_VMID.id, new Uint8Array(0));
    await vm.message(3);
    expect(vm.messages.map((m) => `${m.type}:${m.seq}`)).toEqual(['notification:0', 'reply:7', 'notification:1', 'reply:8']);
    expect(toHex(vm.fragments[2] as Uint8Array)).toBe('2103010008001056800000000b000000');
  });

  it('fragments a large reply exactly as spec §8 vector 12', async () => {
    const { server, vm } = setup();
    server.handle('VM_GET_HYP_RESOURCES', () => ({
      resources: Array.from({ length: 6 }, (_, i) => ({
        type: 4, partnerVmid: 0, resourceHandle: 0, resourceLabel: i, capId: 0x100n + BigInt(i), virqHandle: 0, virq: 0x40 + i, base: 0n, size: 0n,
      })),
    }));
    await vm.send('request', 4, RM_REQUESTS.VM_GET_HYP_RESOURCES.id, Uint8Array.of(0x80, 0, 0, 0));
    await vm.message(0);
    expect(vm.fragments.map((f) => f.byteLength)).toEqual([240, 48]);
    expect(toHex(vm.fragments[1] as Uint8Array)).toBe('210404002000005600000000050000000501000000000000000000004500000000000000000000000000000000000000');
  });

  it('answers NOMEM when the reply exceeds the 14616-byte limit', async () => {
    const onError = vi.fn();
    const { server, vm } = setup({ onError });
    server.handleRaw(0x56000007, () => new Uint8Array(14613));
    await vm.send('request', 1, 0x56000007, new Uint8Array(0));
    expect(code((await vm.message(0)).payload)).toBe(RM_ERROR.NOMEM);
    expect(onError.mock.calls[0]?.[0]).toMatchObject({ code: 'MESSAGE_TOO_LARGE' });
  });

  it('ignores replies and notifications from the VM, and bad fragments, reporting them', async () => {
    const onError = vi.fn();
    const { vm, vmEnd, server } = setup({ onError });
    await vm.send('reply', 1, 0x56000001, new Uint8Array(4));
    await vm.send('notification', 1, 0x56100008, new Uint8Array(8));
    await vmEnd.send(hex('2201000001000056'), { push: true });
    await server.idle();
    await tick();
    expect(vm.messages).toHaveLength(0);
    expect(onError.mock.calls.map(([e]) => e.code)).toEqual(['UNEXPECTED_TYPE', 'UNEXPECTED_TYPE', 'BAD_API_VERSION']);
  });

  it('numbers notifications from a shared counter across links', async () => {
    const counter = createSeqCounter();
    const a = setup({ nextNotificationSeq: counter });
    const b = setup({ nextNotificationSeq: counter });
    await a.server.notify('VM_SHUTDOWN', { stopReason: 1 });
    await b.server.notify('VM_SHUTDOWN', { stopReason: 2 });
    await a.server.notify('VM_SHUTDOWN', { stopReason: 3 });
    expect((await a.vm.message(1)).seq).toBe(2);
    expect((await b.vm.message(0)).seq).toBe(1);
  });

  it('handleRaw serves IDs outside the catalogue; unhandle restores UNIMPLEMENTED', async () => {
    const { server, vm } = setup();
    server.handleRaw(0x5600ffff, (payload, ctx) => {
      expect(ctx.name).toBeNull();
      expect(ctx.callerVmid).toBe(3);
      return payload.slice().reverse();
    });
    await vm.send('request', 1, 0x5600ffff, Uint8Array.of(1, 2, 3));
    expect(toHex((await vm.message(0)).payload)).toBe(toHex(replyPayload(0, Uint8Array.of(3, 2, 1))));
    server.unhandle(0x5600ffff);
    await vm.send('request', 2, 0x5600ffff, Uint8Array.of(1));
    expect(code((await vm.message(1)).payload)).toBe(RM_ERROR.UNIMPLEMENTED);
  });

  it('ctx.notify throws FIELD_OUT_OF_RANGE for a payload that does not encode (reply DENIED)', async () => {
    const onError = vi.fn();
    const { server, vm } = setup({ onError });
    server.handle('VM_START', (_r, ctx) => {
      ctx.notify('VM_STATUS', { vmid: 0x10000, vmStatus: 3, osStatus: 0, appStatus: 0 });
      return {};
    });
    await vm.send('request', 1, RM_REQUESTS.VM_START.id, new Uint8Array(4));
    expect(code((await vm.message(0)).payload)).toBe(RM_ERROR.DENIED);
    expect(onError.mock.calls[0]?.[0]).toMatchObject({ code: 'FIELD_OUT_OF_RANGE' });
    expect(RM_NOTIFICATIONS.VM_STATUS.id).toBe(0x56100008);
  });

  it('stops serving after close', async () => {
    const { server, vm } = setup();
    server.close();
    await vm.send('request', 1, RM_REQUESTS.VM_GET_VMID.id, new Uint8Array(0));
    await tick();
    expect(vm.messages).toHaveLength(0);
  });

  it('survives arbitrary inbound fragments and still answers the next request (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ minLength: 1, maxLength: 240 }), { maxLength: 12 }), async (garbage) => {
        const errors: unknown[] = [];
        const { server, vm, vmEnd } = setup({ onError: (e) => errors.push(e) });
        server.handle('VM_GET_VMID', () => ({ vmid: 3 }));
        for (const g of garbage) await vmEnd.send(g, { push: false });
        await server.idle();
        await tick();
        const before = vm.messages.length; // garbage that happened to form requests was answered
        expect(vm.messages.every((m) => m.type === 'reply')).toBe(true);
        await vm.send('request', 0xbeef, RM_REQUESTS.VM_GET_VMID.id, new Uint8Array(0));
        const reply = await vm.message(before);
        expect(reply).toMatchObject({ type: 'reply', seq: 0xbeef });
        expect(toHex(reply.payload)).toBe('0000000003000000');
        for (const e of errors) expect(e).toHaveProperty('code');
      }),
      { numRuns: 40 },
    );
  });
});
