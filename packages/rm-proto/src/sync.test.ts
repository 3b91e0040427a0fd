// The synchronous RM link: RmServer({ synchronous: true }), createSyncTransportPair, RmSyncClient,
// and FakeRm.vmExited (spec/gunyah-rm-protocol.md §1, §6.3).
import { describe, expect, it } from 'vitest';
import {
  FakeRm,
  RM_ERROR,
  RM_EXIT_TYPE,
  RM_REQUESTS,
  RM_STOP_FLAGS,
  RM_VM_STATUS,
  RmClient,
  RmClientError,
  RmError,
  RmReassembler,
  RmServer,
  RmSyncClient,
  RmTransportError,
  createMemoryTransportPair,
  createSyncTransportPair,
  encodeMessage,
} from '../src/index.js';

function syncSetup(vcpus = 1) {
  const [hostEnd, rmEnd] = createSyncTransportPair();
  const errors: unknown[] = [];
  const rm = new FakeRm(rmEnd, { synchronous: true, vcpus, onError: (e) => errors.push(e) });
  const client = new RmSyncClient(hostEnd, { onError: (e) => errors.push(e) });
  const log: string[] = [];
  client.onNotification((e) => {
    const v = e.value as unknown as Record<string, unknown>;
    log.push(e.name === 'VM_STATUS' ? `VM_STATUS ${String(v.vmStatus)}` : e.name === 'VM_EXITED' ? `VM_EXITED ${String(v.exitType)}` : String(e.name));
  });
  const call: RmSyncClient['call'] = (name, req) => {
    const reply = client.call(name, req);
    log.push(`← ${name}`);
    return reply;
  };
  return { rm, client, log, call, errors, hostEnd, rmEnd };
}

function startVm(call: RmSyncClient['call']) {
  const { vmid } = call('VM_ALLOC_VMID', { vmid: 0 });
  const guest = vmid as number;
  const { handle } = call('MEM_LEND', { memType: 0, flags: 0, label: 0, acl: [{ vmid: guest, rights: 7 }], sgl: [{ address: 0x8000_0000n, size: 0x20_0000n }], attrs: [] });
  call('VM_CONFIG_IMAGE', { vmid: guest, authMechanism: 0, handle, imageOffset: 0n, imageSize: 0n, dtbOffset: 0x1000n, dtbSize: 0x1000n });
  call('VM_INIT', { vmid: guest });
  call('VM_START', { vmid: guest });
  return { guest, handle };
}

describe('createSyncTransportPair', () => {
  it('delivers a copy before send returns, and validates sizes', () => {
    const [a, b] = createSyncTransportPair();
    const got: Uint8Array[] = [];
    b.onReceive((m) => got.push(m));
    const msg = new Uint8Array([1, 2, 3]);
    a.send(msg, { push: true });
    expect(got).toHaveLength(1);
    msg[0] = 9;
    expect([...got[0]!]).toEqual([1, 2, 3]);
    expect(a.sent).toBe(1);
    const code = (f: () => void) => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(RmTransportError);
        return (e as RmTransportError).code;
      }
      return 'none';
    };
    expect(code(() => a.send(new Uint8Array(0), { push: false }))).toBe('EMPTY_MESSAGE');
    expect(code(() => a.send(new Uint8Array(241), { push: false }))).toBe('MESSAGE_TOO_LARGE');
    expect(code(() => b.send(new Uint8Array(1), { push: false }))).toBe('NO_RECEIVER');
    a.send(new Uint8Array(240), { push: false });
    expect(got).toHaveLength(2);
    a.close();
    expect(code(() => b.send(new Uint8Array(1), { push: false }))).toBe('CLOSED');
    expect(() => createSyncTransportPair({ maxMessageSize: 0 })).toThrow(RangeError);
  });
});

describe('RmServer synchronous mode', () => {
  it('serves inline: notifications before the reply, afterReply tasks after it', () => {
    const [hostEnd, rmEnd] = createSyncTransportPair();
    const server = new RmServer(rmEnd, { synchronous: true });
    server.handle('VM_START', ({ vmid }, ctx) => {
      ctx.notify('VM_STATUS', { vmid, vmStatus: RM_VM_STATUS.RUNNING, osStatus: 0, appStatus: 0 });
      ctx.afterReply(() => ctx.notify('VM_STATUS', { vmid, vmStatus: RM_VM_STATUS.PAUSED, osStatus: 0, appStatus: 0 }));
      return {};
    });
    const seen: string[] = [];
    const r = new RmReassembler();
    hostEnd.onReceive((bytes) => {
      const { message } = r.push(bytes);
      if (message) seen.push(`${message.type} seq ${message.seq}`);
    });
    for (const f of encodeMessage({ type: 'request', seq: 7, msgId: RM_REQUESTS.VM_START.id, payload: RM_REQUESTS.VM_START.request.encode({ vmid: 0x80 }) })) {
      hostEnd.send(f, { push: true });
    }
    // everything happened inside send
    expect(seen).toEqual(['notification seq 0', 'reply seq 7', 'notification seq 1']);
  });

  it('answers a handler that returns a promise with DENIED and reports it', () => {
    const [hostEnd, rmEnd] = createSyncTransportPair();
    const errors: unknown[] = [];
    const server = new RmServer(rmEnd, { synchronous: true, onError: (e) => errors.push(e) });
    server.handle('VM_GET_VMID', async () => ({ vmid: 3 }));
    const client = new RmSyncClient(hostEnd);
    try {
      client.call('VM_GET_VMID', {});
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(RmError);
      expect((e as RmError).rmErrorCode).toBe(RM_ERROR.DENIED);
    }
    expect(errors).toHaveLength(1);
  });

  it('unhandled → UNIMPLEMENTED, bad payload → MSG_INVALID, RmError → its code', () => {
    const [hostEnd, rmEnd] = createSyncTransportPair();
    const server = new RmServer(rmEnd, { synchronous: true });
    server.handle('VM_START', () => {
      throw new RmError('VM_STATE');
    });
    const client = new RmSyncClient(hostEnd);
    expect(client.callRaw(RM_REQUESTS.VM_STOP.id, new Uint8Array(8)).rmErrorCode).toBe(RM_ERROR.UNIMPLEMENTED);
    expect(client.callRaw(RM_REQUESTS.VM_START.id, new Uint8Array(1)).rmErrorCode).toBe(RM_ERROR.MSG_INVALID);
    expect(client.callRaw(RM_REQUESTS.VM_START.id, RM_REQUESTS.VM_START.request.encode({ vmid: 1 })).rmErrorCode).toBe(RM_ERROR.VM_STATE);
  });

  it('refuses a transport whose send returns a promise (reported, no crash)', () => {
    const [hostEnd, rmEnd] = createSyncTransportPair();
    const errors: unknown[] = [];
    const asyncEnd = { send: (m: Uint8Array, o: { push: boolean }) => Promise.resolve(rmEnd.send(m, o)), onReceive: rmEnd.onReceive.bind(rmEnd) };
    const server = new RmServer(asyncEnd, { synchronous: true, onError: (e) => errors.push(e) });
    server.handle('VM_GET_VMID', () => ({ vmid: 3 }));
    const client = new RmSyncClient(hostEnd);
    expect(client.call('VM_GET_VMID', {})).toEqual({ vmid: 3 }); // the wrapper delivered before returning its promise
    expect(errors.some((x) => x instanceof RmTransportError && x.code === 'ASYNC_TRANSPORT')).toBe(true);
    const client2 = new RmSyncClient(asyncEnd);
    expect(() => client2.callRaw(1, new Uint8Array(0))).toThrow(expect.objectContaining({ code: 'ASYNC_TRANSPORT' }) as Error);
  });

  it('serves multi-fragment requests and replies', () => {
    const [hostEnd, rmEnd] = createSyncTransportPair();
    const server = new RmServer(rmEnd, { synchronous: true });
    server.handleRaw(0x5600ffff, (payload) => payload.map((b) => b ^ 0xff));
    const client = new RmSyncClient(hostEnd);
    const big = Uint8Array.from({ length: 1000 }, (_, i) => i & 0xff);
    const reply = client.callRaw(0x5600ffff, big);
    expect(reply.rmErrorCode).toBe(0);
    expect([...reply.data]).toEqual([...big].map((b) => b ^ 0xff));
  });
});

describe('RmSyncClient', () => {
  it('returns NO_REPLY when nothing answers, CLOSED after close', () => {
    const [hostEnd, rmEnd] = createSyncTransportPair();
    rmEnd.onReceive(() => undefined);
    const client = new RmSyncClient(hostEnd);
    expect(() => client.call('VM_GET_VMID', {})).toThrow(expect.objectContaining({ code: 'NO_REPLY' }) as Error);
    client.close();
    expect(() => client.call('VM_GET_VMID', {})).toThrow(expect.objectContaining({ code: 'CLOSED' }) as Error);
  });

  it('drops a reply with the wrong seq or msg_id (reported) and fails the call with NO_REPLY', () => {
    const [hostEnd, rmEnd] = createSyncTransportPair();
    const errors: unknown[] = [];
    rmEnd.onReceive(() => {
      for (const f of encodeMessage({ type: 'reply', seq: 99, msgId: RM_REQUESTS.VM_GET_VMID.id, payload: new Uint8Array(6) })) rmEnd.send(f, { push: false });
      for (const f of encodeMessage({ type: 'reply', seq: 0, msgId: RM_REQUESTS.VM_START.id, payload: new Uint8Array(4) })) rmEnd.send(f, { push: false });
    });
    const client = new RmSyncClient(hostEnd, { onError: (e) => errors.push(e) });
    expect(() => client.call('VM_GET_VMID', {})).toThrow(expect.objectContaining({ code: 'NO_REPLY' }) as Error);
    expect(errors).toHaveLength(2);
  });

  it('matches the async client on the full FakeRm lifecycle, notification order included', async () => {
    const { call, log, rm } = syncSetup(2);
    const { guest, handle } = startVm(call);
    expect(rm.vm(guest)?.status).toBe(RM_VM_STATUS.RUNNING);
    call('VM_STOP', { vmid: guest, flags: RM_STOP_FLAGS.FORCE, stopReason: 0 });
    call('VM_RESET', { vmid: guest });
    call('MEM_RECLAIM', { handle, flags: 0 });
    call('VM_DEALLOC_VMID', { vmid: guest });
    const s = (n: number) => `VM_STATUS ${n}`;
    expect(log).toEqual([
      '← VM_ALLOC_VMID',
      '← MEM_LEND',
      s(RM_VM_STATUS.INIT),
      '← VM_CONFIG_IMAGE',
      s(RM_VM_STATUS.READY),
      '← VM_INIT',
      s(RM_VM_STATUS.RUNNING),
      '← VM_START',
      s(RM_VM_STATUS.EXITED),
      `VM_EXITED ${RM_EXIT_TYPE.VM_STOP_FORCED}`,
      '← VM_STOP',
      s(RM_VM_STATUS.RESETTING),
      'MEM_RELEASED',
      s(RM_VM_STATUS.RESET),
      '← VM_RESET',
      '← MEM_RECLAIM',
      '← VM_DEALLOC_VMID',
    ]);
    // same conversation over the async pair gives the same notification sequence
    const [h2, r2] = createMemoryTransportPair();
    new FakeRm(r2, { vcpus: 2 });
    const c2 = new RmClient(h2);
    const log2: string[] = [];
    c2.onNotification((e) => log2.push(String(e.name)));
    const { vmid } = await c2.call('VM_ALLOC_VMID', { vmid: 0 });
    const g = vmid as number;
    const { handle: h } = await c2.call('MEM_LEND', { memType: 0, flags: 0, label: 0, acl: [{ vmid: g, rights: 7 }], sgl: [{ address: 0x8000_0000n, size: 0x20_0000n }], attrs: [] });
    await c2.call('VM_CONFIG_IMAGE', { vmid: g, authMechanism: 0, handle: h, imageOffset: 0n, imageSize: 0n, dtbOffset: 0x1000n, dtbSize: 0x1000n });
    await c2.call('VM_INIT', { vmid: g });
    await c2.call('VM_START', { vmid: g });
    await c2.call('VM_STOP', { vmid: g, flags: RM_STOP_FLAGS.FORCE, stopReason: 0 });
    await c2.call('VM_RESET', { vmid: g });
    await new Promise((r) => setTimeout(r, 10));
    expect(log2).toEqual(log.filter((l) => !l.startsWith('←')).map((l) => l.split(' ')[0]));
  });

  it('lets a listener call again (notifications are delivered after the reply arrived)', () => {
    const { client, call } = syncSetup();
    const states: number[] = [];
    client.on('VM_STATUS', (s) => {
      states.push(s.vmStatus);
      if (s.vmStatus === RM_VM_STATUS.READY) states.push(client.call('VM_GET_STATE', { vmid: s.vmid }).vmStatus * 100);
    });
    startVm(call);
    expect(states).toEqual([RM_VM_STATUS.INIT, RM_VM_STATUS.READY, RM_VM_STATUS.READY * 100, RM_VM_STATUS.RUNNING]);
  });
});

describe('FakeRm.vmExited', () => {
  it('RUNNING → EXITED with VM_STATUS(EXITED) then VM_EXITED, delivered at once on a sync link', () => {
    const { rm, call, log } = syncSetup();
    const { guest } = startVm(call);
    log.length = 0;
    expect(rm.vmExited(guest, RM_EXIT_TYPE.PLATFORM_OFF, [0x10000])).toBe(true);
    expect(log).toEqual([`VM_STATUS ${RM_VM_STATUS.EXITED}`, `VM_EXITED ${RM_EXIT_TYPE.PLATFORM_OFF}`]);
    expect(rm.vm(guest)?.status).toBe(RM_VM_STATUS.EXITED);
    // not running any more: nothing happens
    expect(rm.vmExited(guest, RM_EXIT_TYPE.PLATFORM_OFF)).toBe(false);
    expect(rm.vmExited(0x99, 0)).toBe(false);
    expect(log).toHaveLength(2);
    // VM_STOP is refused after the exit; reset works
    expect(() => call('VM_STOP', { vmid: guest, flags: RM_STOP_FLAGS.FORCE, stopReason: 0 })).toThrow(RmError);
    call('VM_RESET', { vmid: guest });
    expect(rm.vm(guest)?.status).toBe(RM_VM_STATUS.RESET);
  });

  it('carries the exit type and reason words', () => {
    const { rm, client, call } = syncSetup();
    const { guest } = startVm(call);
    const got: unknown[] = [];
    client.on('VM_EXITED', (e) => got.push(e));
    rm.vmExited(guest, RM_EXIT_TYPE.PLATFORM_RESET, [1, 2]);
    expect(got).toEqual([{ vmid: guest, exitType: RM_EXIT_TYPE.PLATFORM_RESET, reason: [1, 2] }]);
  });

  it('works on an asynchronous server too (queued notifications)', async () => {
    const [hostEnd, rmEnd] = createMemoryTransportPair();
    const rm = new FakeRm(rmEnd);
    const client = new RmClient(hostEnd);
    const seen: string[] = [];
    client.onNotification((e) => seen.push(String(e.name)));
    const { vmid } = await client.call('VM_ALLOC_VMID', { vmid: 0 });
    const g = vmid as number;
    const { handle } = await client.call('MEM_SHARE', { memType: 0, flags: 0, label: 0, acl: [{ vmid: g, rights: 7 }, { vmid: 3, rights: 7 }], sgl: [{ address: 0x8000_0000n, size: 0x1000n }], attrs: [] });
    await client.call('VM_CONFIG_IMAGE', { vmid: g, authMechanism: 0, handle, imageOffset: 0n, imageSize: 0n, dtbOffset: 0n, dtbSize: 0x1000n });
    await client.call('VM_INIT', { vmid: g });
    await client.call('VM_START', { vmid: g });
    seen.length = 0;
    expect(rm.vmExited(g, RM_EXIT_TYPE.PLATFORM_OFF)).toBe(true);
    await rm.idle();
    await new Promise((r) => setTimeout(r, 5));
    expect(seen).toEqual(['VM_STATUS', 'VM_EXITED']);
  });
});
