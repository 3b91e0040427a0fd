import { describe, expect, it } from 'vitest';
import { tick } from '../test/helpers.js';
import { createMemoryTransportPair } from '../src/index.js';

describe('in-memory transport pair', () => {
  it('enforces message-queue sizes: 1…240 bytes', () => {
    const [a] = createMemoryTransportPair();
    expect(() => a.send(new Uint8Array(0), { push: true })).toThrow(expect.objectContaining({ code: 'EMPTY_MESSAGE' }));
    expect(() => a.send(new Uint8Array(241), { push: true })).toThrow(expect.objectContaining({ code: 'MESSAGE_TOO_LARGE' }));
    expect(() => a.send(new Uint8Array(240), { push: true })).not.toThrow();
  });

  it('delivers copies, in order, asynchronously', async () => {
    const [a, b] = createMemoryTransportPair();
    const got: number[][] = [];
    b.onReceive((m) => got.push([...m]));
    const buf = Uint8Array.of(1, 2);
    void a.send(buf, { push: false });
    buf[0] = 9;
    void a.send(buf, { push: true });
    expect(got).toEqual([]);
    await tick();
    expect(got).toEqual([[1, 2], [9, 2]]);
    expect(a.sent).toBe(2);
  });

  it('holds messages until a receiver is set and blocks senders beyond the depth', async () => {
    const [a, b] = createMemoryTransportPair({ depth: 2 });
    const results: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = a.send(Uint8Array.of(i), { push: false });
      if (r instanceof Promise) void r.then(() => results.push(`sent ${i}`));
      else results.push(`queued ${i}`);
    }
    await tick();
    expect(results).toEqual(['queued 0', 'queued 1']);
    const got: number[] = [];
    b.onReceive((m) => got.push(m[0] as number));
    await tick();
    expect(got).toEqual([0, 1, 2, 3]);
    expect(results).toEqual(['queued 0', 'queued 1', 'sent 2', 'sent 3']);
  });

  it('close fails blocked and later sends with CLOSED', async () => {
    const [a, b] = createMemoryTransportPair({ depth: 1 });
    a.send(Uint8Array.of(1), { push: false });
    const blocked = a.send(Uint8Array.of(2), { push: false });
    b.close();
    await expect(blocked).rejects.toMatchObject({ code: 'CLOSED' });
    expect(() => a.send(Uint8Array.of(3), { push: false })).toThrow(expect.objectContaining({ code: 'CLOSED' }));
  });

  it('rejects bad options', () => {
    expect(() => createMemoryTransportPair({ depth: 0 })).toThrow(RangeError);
    expect(() => createMemoryTransportPair({ maxMessageSize: 1.5 })).toThrow(RangeError);
  });
});
