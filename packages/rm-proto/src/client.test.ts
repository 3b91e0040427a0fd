import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { Peer, replyPayload, tick, toHex } from '../test/helpers.js';
import {
  RM_ERROR,
  RM_NOTIFICATIONS,
  RM_REQUESTS,
  RmClient,
  RmClientError,
  RmError,
  createMemoryTransportPair,
  type RmClientOptions,
  type RmSendOptions,
} from '../src/index.js';

function setup(options: RmClientOptions = {}) {
  const [vmEnd, rmEnd] = createMemoryTransportPair();
  const sends: [string, RmSendOptions][] = [];
  vmEnd.tap = (m, o) => sends.push([toHex(m), o]);
  const client = new RmClient(vmEnd, options);
  const rm = new Peer(rmEnd);
  return { client, rm, sends, vmEnd, rmEnd };
}

const u32 = (v: number): Uint8Array => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v, true);
  return b;
};

describe('RmClient', () => {
  it('sends the request bytes of spec §8 and decodes the reply', async () => {
    const { client, rm, sends } = setup();
    const call = client.call('VM_ALLOC_VMID', { vmid: 0 });
    const req = await rm.message(0);
    expect(sends).toEqual([['210100000100005600000000', { push: true }]]);
    await rm.send('reply', req.seq, req.msgId, replyPayload(0, u32(0x80)));
    await expect(call).resolves.toEqual({ vmid: 0x80 });
  });

  it('sets push only on the last fragment of a multi-fragment request', async () => {
    const { client, rm, sends } = setup();
    const sgl = Array.from({ length: 40 }, (_, i) => ({ address: BigInt(i) << 12n, size: 0x1000n }));
    const call = client.call('MEM_SHARE', { memType: 0, flags: 0, label: 0, acl: [{ vmid: 0x80, rights: 6 }, { vmid: 3, rights: 7 }], sgl, attrs: [] });
    const req = await rm.message(0);
    expect(sends.map(([, o]) => o.push)).toEqual([false, false, true]);
    await rm.send('reply', req.seq, req.msgId, replyPayload(0, u32(7)));
    await expect(call).resolves.toEqual({ handle: 7 });
  });

  it('allocates sequence numbers cyclically from 0', async () => {
    const { client, rm } = setup({ maxOutstanding: 4 });
    const calls = [0, 1, 2].map(() => client.call('VM_GET_VMID', {}));
    for (let i = 0; i < 3; i++) {
      const m = await rm.message(i);
      expect(m.seq).toBe(i);
    }
    for (let i = 2; i >= 0; i--) await rm.send('reply', i, RM_REQUESTS.VM_GET_VMID.id, replyPayload(0, u32(10 + i)));
    expect(await Promise.all(calls)).toEqual([{ vmid: 10 }, { vmid: 11 }, { vmid: 12 }]);
  });

  it('turns a non-OK reply into RmError with the errno mapping and the trailing bytes', async () => {
    const { client, rm } = setup();
    const call = client.call('VM_SET_TIME_BASE', { vmid: 0, timeBase: 1n, sysTimerRef: 2n });
    const req = await rm.message(0);
    await rm.send('reply', req.seq, req.msgId, replyPayload(RM_ERROR.DENIED, u32(0x1c)));
    const error = await call.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RmError);
    expect(error).toMatchObject({ rmErrorCode: 3, rmErrorName: 'DENIED', messageName: 'VM_SET_TIME_BASE', errno: { name: 'EPERM' } });
    expect([...(error as RmError).extra]).toEqual([0x1c, 0, 0, 0]);
  });

  it('callRaw returns the error code without throwing', async () => {
    const { client, rm } = setup();
    const call = client.callRaw(0x56000007, Uint8Array.of(1, 2, 3, 4));
    const req = await rm.message(0);
    expect([...req.payload]).toEqual([1, 2, 3, 4]);
    await rm.send('reply', req.seq, req.msgId, replyPayload(RM_ERROR.UNIMPLEMENTED));
    await expect(call).resolves.toEqual({ rmErrorCode: 0xffffffff, data: new Uint8Array(0) });
  });

  it('ignores a reply whose msg_id differs from the request (Linux) and keeps waiting', async () => {
    const onError = vi.fn();
    const { client, rm } = setup({ onError });
    const call = client.call('VM_GET_VMID', {});
    const req = await rm.message(0);
    await rm.send('reply', req.seq, 0x56000001, replyPayload(0, u32(1)));
    await rm.send('reply', req.seq + 1, req.msgId, replyPayload(0, u32(2)));
    await tick();
    expect(onError).toHaveBeenCalledTimes(2);
    expect(client.outstanding).toBe(1);
    await rm.send('reply', req.seq, req.msgId, replyPayload(0, u32(3)));
    await expect(call).resolves.toEqual({ vmid: 3 });
  });

  it('fails a call whose reply has no error code with REPLY_TOO_SHORT', async () => {
    const { client, rm } = setup();
    const call = client.call('VM_GET_VMID', {});
    const req = await rm.message(0);
    await rm.send('reply', req.seq, req.msgId, Uint8Array.of(0, 0));
    await expect(call).rejects.toMatchObject({ name: 'RmProtocolError', code: 'REPLY_TOO_SHORT' });
  });

  it('fails a call whose reply payload does not decode with the payload code', async () => {
    const { client, rm } = setup();
    const call = client.call('VM_GET_VMID', {});
    const req = await rm.message(0);
    await rm.send('reply', req.seq, req.msgId, replyPayload(0, Uint8Array.of(3, 0)));
    await expect(call).rejects.toMatchObject({ code: 'PAYLOAD_TRUNCATED' });
  });

  it('times out, keeps the seq reserved, drops the late reply and serves the next call', async () => {
    const { client, rm } = setup({ timeoutMs: 20 });
    const first = client.call('VM_GET_VMID', {});
    await expect(first).rejects.toMatchObject({ name: 'RmClientError', code: 'TIMEOUT' });
    const second = client.call('VM_GET_VMID', {});
    const req2 = await rm.message(1);
    expect(req2.seq).toBe(1);
    await rm.send('reply', 0, RM_REQUESTS.VM_GET_VMID.id, replyPayload(0, u32(99))); // late reply to the first
    await rm.send('reply', 1, RM_REQUESTS.VM_GET_VMID.id, replyPayload(0, u32(3)));
    await expect(second).resolves.toEqual({ vmid: 3 });
    // seq 0 is free again after its late reply: a third call with the cycle wrapped would reuse it
  });

  it('cancels in-flight and queued calls with an AbortSignal', async () => {
    const { client, rm } = setup();
    const a = new AbortController();
    const b = new AbortController();
    const first = client.call('VM_GET_VMID', {}, { signal: a.signal });
    const second = client.call('VM_GET_VMID', {}, { signal: b.signal });
    await rm.message(0);
    expect(client.outstanding).toBe(2);
    b.abort();
    await expect(second).rejects.toMatchObject({ code: 'CANCELLED' });
    a.abort(new Error('user'));
    await expect(first).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(client.outstanding).toBe(0);
    await expect(client.call('VM_GET_VMID', {}, { signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(rm.messages).toHaveLength(1); // the queued call never reached the wire
  });

  it('keeps one request on the wire at a time by default', async () => {
    const { client, rm } = setup();
    const calls = [client.call('VM_GET_VMID', {}), client.call('VM_HOST_GET_TYPE', {})];
    await rm.message(0);
    await tick();
    expect(rm.messages).toHaveLength(1);
    await rm.send('reply', 0, RM_REQUESTS.VM_GET_VMID.id, replyPayload(0, u32(3)));
    const second = await rm.message(1);
    expect(second.msgId).toBe(RM_REQUESTS.VM_HOST_GET_TYPE.id);
    await rm.send('reply', second.seq, second.msgId, replyPayload(0, u32(0x01000164)));
    expect(await Promise.all(calls)).toEqual([{ vmid: 3 }, { hostType: 0x01000164 }]);
  });

  it('delivers a notification sent before the reply before the caller resumes', async () => {
    const { client, rm } = setup();
    const events: string[] = [];
    client.on('VM_STATUS', (s) => events.push(`status ${s.vmStatus}`));
    const call = client.call('VM_START', { vmid: 0x80 }).then(() => events.push('reply'));
    const req = await rm.message(0);
    await rm.send('notification', 0, RM_NOTIFICATIONS.VM_STATUS.id, RM_NOTIFICATIONS.VM_STATUS.payload.encode({ vmid: 0x80, vmStatus: 3, osStatus: 0, appStatus: 0 }));
    await rm.send('reply', req.seq, req.msgId, replyPayload(0));
    await call;
    expect(events).toEqual(['status 3', 'reply']);
  });

  it('routes notifications to typed and catch-all listeners; unsubscribe works', async () => {
    const onError = vi.fn();
    const { client, rm } = setup({ onError });
    const typed = vi.fn();
    const any = vi.fn();
    const off = client.on('VM_EXITED', typed);
    client.onNotification(any);
    const exited = RM_NOTIFICATIONS.VM_EXITED;
    await rm.send('notification', 1, exited.id, exited.payload.encode({ vmid: 0x80, exitType: 7, reason: [0] }));
    await rm.send('notification', 2, 0x56100077, new Uint8Array(4)); // not in the catalogue
    await rm.send('notification', 3, exited.id, new Uint8Array(3)); // undecodable
    await tick();
    expect(typed).toHaveBeenCalledTimes(1);
    expect(typed.mock.calls[0]?.[0]).toEqual({ vmid: 0x80, exitType: 7, reason: [0] });
    expect(any.mock.calls.map(([e]) => [e.name, e.error?.code ?? null])).toEqual([
      ['VM_EXITED', null],
      [null, null],
      ['VM_EXITED', 'PAYLOAD_TRUNCATED'],
    ]);
    expect(onError.mock.calls.map(([e]) => e.code)).toEqual(['UNKNOWN_MESSAGE', 'PAYLOAD_TRUNCATED']);
    off();
    await rm.send('notification', 4, exited.id, exited.payload.encode({ vmid: 0x81, exitType: 0, reason: [] }));
    await tick();
    expect(typed).toHaveBeenCalledTimes(1);
  });

  it('reports listener exceptions to onError and keeps delivering', async () => {
    const onError = vi.fn();
    const { client, rm } = setup({ onError });
    const second = vi.fn();
    client.on('VM_SHUTDOWN', () => {
      throw new Error('listener bug');
    });
    client.on('VM_SHUTDOWN', second);
    await rm.send('notification', 0, RM_NOTIFICATIONS.VM_SHUTDOWN.id, new Uint8Array(4));
    await tick();
    expect(second).toHaveBeenCalledTimes(1);
    expect(onError.mock.calls[0]?.[0]).toMatchObject({ message: 'listener bug' });
  });

  it('fails a call with REPLY_ABORTED when its multi-fragment reply is interrupted (Linux -EIO)', async () => {
    const { client, rm, rmEnd } = setup();
    const call = client.call('VM_GET_HYP_RESOURCES', { vmid: 0x80 });
    const req = await rm.message(0);
    const big = new Uint8Array(4 + 4 + 44 * 6);
    new DataView(big.buffer).setUint32(4, 6, true);
    const { encodeMessage } = await import('../src/index.js');
    const frags = encodeMessage({ type: 'reply', seq: req.seq, msgId: req.msgId, payload: big });
    await rmEnd.send(frags[0] as Uint8Array, { push: false });
    await rm.send('notification', 0, RM_NOTIFICATIONS.VM_SHUTDOWN.id, new Uint8Array(4));
    await expect(call).rejects.toMatchObject({ name: 'RmClientError', code: 'REPLY_ABORTED' });
  });

  it('rejects oversize requests, msg_id 0, and calls after close', async () => {
    const { client, rm } = setup();
    await expect(client.callRaw(0x56000007, new Uint8Array(14385))).rejects.toMatchObject({ code: 'MESSAGE_TOO_LARGE' });
    await expect(client.callRaw(0, new Uint8Array(0))).rejects.toMatchObject({ code: 'FIELD_OUT_OF_RANGE' });
    await expect(client.call('VM_START', { vmid: 0x10000 })).rejects.toMatchObject({ code: 'FIELD_OUT_OF_RANGE' });
    const pending = client.call('VM_GET_VMID', {});
    const queued = client.call('VM_GET_VMID', {});
    await rm.message(0);
    client.close();
    await expect(pending).rejects.toBeInstanceOf(RmClientError);
    await expect(queued).rejects.toMatchObject({ code: 'CLOSED' });
    await expect(client.call('VM_GET_VMID', {})).rejects.toMatchObject({ code: 'CLOSED' });
  });

  it('reports a request received by the client as UNEXPECTED_TYPE', async () => {
    const onError = vi.fn();
    const { rm } = setup({ onError });
    await rm.send('request', 0, 0x56000024, new Uint8Array(0));
    await tick();
    expect(onError.mock.calls[0]?.[0]).toMatchObject({ code: 'UNEXPECTED_TYPE' });
  });

  it('wraps the sequence number from 0xFFFF to 0', async () => {
    const { client, rm } = setup({ maxOutstanding: 2 });
    (client as unknown as { nextSeq: number }).nextSeq = 0xffff; // white-box: skip 65535 round trips
    const calls = [client.call('VM_GET_VMID', {}), client.call('VM_GET_VMID', {})];
    expect([(await rm.message(0)).seq, (await rm.message(1)).seq]).toEqual([0xffff, 0]);
    for (const seq of [0, 0xffff]) await rm.send('reply', seq, RM_REQUESTS.VM_GET_VMID.id, replyPayload(0, u32(seq)));
    expect(await Promise.all(calls)).toEqual([{ vmid: 0xffff }, { vmid: 0 }]);
  });

  it('survives arbitrary inbound fragments and still completes the next call (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ minLength: 1, maxLength: 240 }), { maxLength: 12 }), async (garbage) => {
        const errors: unknown[] = [];
        const { client, rm, rmEnd } = setup({ onError: (e) => errors.push(e) });
        for (const g of garbage) await rmEnd.send(g, { push: false });
        const call = client.call('VM_GET_VMID', {});
        const req = await rm.message(0);
        await rm.send('reply', req.seq, req.msgId, replyPayload(0, u32(3)));
        // a random fragment can only hijack the call by guessing its seq and msg_id
        await expect(call).resolves.toEqual({ vmid: 3 });
        for (const e of errors) expect(e).toHaveProperty('code');
      }),
      { numRuns: 40 },
    );
  });

  it('keeps at most 256 abandoned sequence numbers reserved', async () => {
    const { client, rm } = setup({ maxOutstanding: 300, timeoutMs: 5 });
    const calls = Array.from({ length: 300 }, () => client.call('VM_GET_VMID', {}).catch((e: unknown) => e));
    const errors = await Promise.all(calls);
    expect(errors.every((e) => (e as RmClientError).code === 'TIMEOUT')).toBe(true);
    expect((client as unknown as { stale: Map<number, number> }).stale.size).toBe(256);
    // the oldest abandoned seqs (0…43) were released and are skipped no more; 44…299 still are
    const next = client.call('VM_GET_VMID', {}, { timeoutMs: 0 });
    const m = await rm.message(300);
    expect(m.seq).toBe(300);
    await rm.send('reply', m.seq, m.msgId, replyPayload(0, u32(3)));
    await expect(next).resolves.toEqual({ vmid: 3 });
  });
});

