import { describe, expect, it } from 'vitest';
import { hex } from '../test/helpers.js';
import {
  RM_FRAGMENT_PAYLOAD,
  RM_MAX_PAYLOAD,
  RmReassembler,
  continuationCount,
  decodeFragmentHeader,
  encodeMessage,
  type RmMessage,
} from '../src/index.js';

const ID = 0x51000013;
const pattern = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 7 + 3) & 0xff);

function roundTrip(payload: Uint8Array, type: RmMessage['type'] = 'request'): { fragments: Uint8Array[]; message: RmMessage } {
  const fragments = encodeMessage({ type, seq: 77, msgId: ID, payload });
  const r = new RmReassembler();
  let message: RmMessage | null = null;
  fragments.forEach((f, i) => {
    const res = r.push(f);
    expect(res.rejected).toBeNull();
    expect(res.message !== null).toBe(i === fragments.length - 1);
    if (res.message !== null) message = res.message;
  });
  return { fragments, message: message as unknown as RmMessage };
}

describe('fragment header', () => {
  it('decodes the fields of spec §1.2', () => {
    expect(decodeFragmentHeader(hex('21 0d 3412 13000051'))).toEqual({ msgType: 1, continuations: 3, seq: 0x1234, msgId: ID });
  });

  it.each([
    ['FRAGMENT_TOO_SHORT', hex('21010000010000')],
    ['FRAGMENT_TOO_LONG', new Uint8Array(241).fill(0x21)],
    ['BAD_API_VERSION', hex('22010000 01000056')],
    ['BAD_API_VERSION', hex('20010000 01000056')],
    ['BAD_HEADER_WORDS', hex('11010000 01000056')],
    ['BAD_HEADER_WORDS', hex('31010000 01000056')],
    ['TOO_MANY_FRAGMENTS', hex('21fd0000 01000056')], // count 63
  ])('rejects %s', (code, bytes) => {
    expect(() => decodeFragmentHeader(bytes)).toThrow(expect.objectContaining({ name: 'RmProtocolError', code }));
  });

  it('accepts the maximum continuation count 62 (type byte 0xf9)', () => {
    expect(decodeFragmentHeader(hex('21f90000 01000056')).continuations).toBe(62);
  });
});

describe('splitting (spec §1.3)', () => {
  it.each([
    [0, 0],
    [1, 0],
    [232, 0],
    [233, 1],
    [464, 1],
    [465, 2],
    [RM_MAX_PAYLOAD, 62],
  ])('payload %i bytes → %i continuations', (n, k) => {
    expect(continuationCount(n)).toBe(k);
  });

  it('empty payload: one 8-byte fragment', () => {
    const { fragments, message } = roundTrip(new Uint8Array(0));
    expect(fragments.map((f) => f.byteLength)).toEqual([8]);
    expect(message.payload.byteLength).toBe(0);
  });

  it('exactly 232 payload bytes: one full 240-byte fragment', () => {
    const { fragments, message } = roundTrip(pattern(232));
    expect(fragments.map((f) => f.byteLength)).toEqual([240]);
    expect(fragments[0]?.[1]).toBe(0x01);
    expect(message.payload).toEqual(pattern(232));
  });

  it('233 payload bytes: 240 + 9, continuation count 1 in both headers', () => {
    const { fragments, message } = roundTrip(pattern(233));
    expect(fragments.map((f) => f.byteLength)).toEqual([240, 9]);
    expect(fragments.map((f) => f[1])).toEqual([0x05, 0x04]);
    expect(message.payload).toEqual(pattern(233));
  });

  it('reply of 228 data bytes fits one fragment; 229 need two (error code counts)', () => {
    expect(roundTrip(pattern(4 + 228), 'reply').fragments).toHaveLength(1);
    expect(roundTrip(pattern(4 + 229), 'reply').fragments).toHaveLength(2);
  });

  it('maximum payload 14616 bytes: 63 full fragments, count 62 everywhere, seq and msg_id repeated', () => {
    const { fragments, message } = roundTrip(pattern(RM_MAX_PAYLOAD), 'notification');
    expect(fragments).toHaveLength(63);
    for (const [i, f] of fragments.entries()) {
      expect(f.byteLength).toBe(240);
      expect(decodeFragmentHeader(f)).toEqual({ msgType: i === 0 ? 3 : 0, continuations: 62, seq: 77, msgId: ID });
    }
    expect(message).toMatchObject({ type: 'notification', seq: 77, msgId: ID });
    expect(message.payload).toEqual(pattern(RM_MAX_PAYLOAD));
  });

  it('refuses one byte more, and honours a lower limit (Linux requests: 14384)', () => {
    expect(() => encodeMessage({ type: 'reply', seq: 0, msgId: ID, payload: new Uint8Array(RM_MAX_PAYLOAD + 1) })).toThrow(
      expect.objectContaining({ code: 'MESSAGE_TOO_LARGE' }),
    );
    expect(() =>
      encodeMessage({ type: 'request', seq: 0, msgId: ID, payload: new Uint8Array(14385) }, { maxPayload: 14384 }),
    ).toThrow(expect.objectContaining({ code: 'MESSAGE_TOO_LARGE' }));
    expect(encodeMessage({ type: 'request', seq: 0, msgId: ID, payload: new Uint8Array(14384) }, { maxPayload: 14384 })).toHaveLength(62);
  });

  it('refuses seq and msg_id outside u16 / u32', () => {
    for (const [seq, msgId] of [[0x10000, 1], [-1, 1], [0, 2 ** 32], [0, 1.5]]) {
      expect(() => encodeMessage({ type: 'request', seq: seq as number, msgId: msgId as number, payload: new Uint8Array(0) })).toThrow(
        expect.objectContaining({ code: 'FIELD_OUT_OF_RANGE' }),
      );
    }
  });

  it('every non-last fragment carries exactly 232 payload bytes', () => {
    const fragments = encodeMessage({ type: 'request', seq: 1, msgId: ID, payload: pattern(1000) });
    expect(fragments.map((f) => f.byteLength - 8)).toEqual([232, 232, 232, 232, 1000 - 4 * RM_FRAGMENT_PAYLOAD]);
  });
});

describe('reassembly (spec §1.4)', () => {
  const three = (seq = 5): Uint8Array[] => encodeMessage({ type: 'reply', seq, msgId: ID, payload: pattern(500) });

  it('reports a stray continuation', () => {
    const r = new RmReassembler();
    const res = r.push(three()[1] as Uint8Array);
    expect(res.rejected?.code).toBe('STRAY_CONTINUATION');
    expect(res.message).toBeNull();
  });

  it('drops continuations with another msg_id, count or seq and keeps the message (RM policy)', () => {
    const [a, b, c] = three();
    const r = new RmReassembler();
    r.push(a as Uint8Array);
    const otherId = (b as Uint8Array).slice();
    otherId[4] = (otherId[4] as number) ^ 1;
    expect(r.push(otherId).rejected?.code).toBe('MSG_ID_MISMATCH');
    const otherCount = (b as Uint8Array).slice();
    otherCount[1] = 3 << 2;
    expect(r.push(otherCount).rejected?.code).toBe('CONTINUATION_COUNT_MISMATCH');
    const otherSeq = (b as Uint8Array).slice();
    otherSeq[2] = 6;
    expect(r.push(otherSeq).rejected?.code).toBe('SEQ_MISMATCH');
    expect(r.inProgress).toBe(true);
    expect(r.push(b as Uint8Array).message).toBeNull();
    expect(r.push(c as Uint8Array).message?.payload).toEqual(pattern(500));
  });

  it('Linux policy: a mismatch aborts the message; seq is not compared when checkSeq is false', () => {
    const [a, b] = three();
    const r = new RmReassembler({ onMismatch: 'abort-message' });
    r.push(a as Uint8Array);
    const bad = (b as Uint8Array).slice();
    bad[4] = (bad[4] as number) ^ 1;
    const res = r.push(bad);
    expect(res.rejected?.code).toBe('MSG_ID_MISMATCH');
    expect(res.aborted).toMatchObject({ type: 'reply', seq: 5, msgId: ID, received: 0, continuations: 2 });
    expect(r.inProgress).toBe(false);

    const lax = new RmReassembler({ onMismatch: 'abort-message', checkSeq: false });
    const [x, y, z] = three(9);
    lax.push(x as Uint8Array);
    const seqChanged = (y as Uint8Array).slice();
    seqChanged[2] = 1;
    expect(lax.push(seqChanged).rejected).toBeNull();
    expect(lax.push(z as Uint8Array).message?.seq).toBe(9);
  });

  it('a new first fragment discards an incomplete message and starts over', () => {
    const [a] = three();
    const r = new RmReassembler();
    r.push(a as Uint8Array);
    const single = encodeMessage({ type: 'notification', seq: 1, msgId: 0x56100008, payload: new Uint8Array(8) })[0] as Uint8Array;
    const res = r.push(single);
    expect(res.aborted?.reason.code).toBe('MESSAGE_ABORTED');
    expect(res.message?.type).toBe('notification');
    expect(r.inProgress).toBe(false);
  });

  it('reports bad fragments without throwing and stays usable', () => {
    const r = new RmReassembler();
    expect(r.push(new Uint8Array(3)).rejected?.code).toBe('FRAGMENT_TOO_SHORT');
    expect(r.push(hex('2101000001000056 00000000')).message?.msgId).toBe(0x56000001);
  });

  it('copies input: reusing the caller buffer does not change the result', () => {
    const [a, b, c] = three();
    const r = new RmReassembler();
    const buf = new Uint8Array(240);
    let message: RmMessage | null = null;
    for (const f of [a, b, c] as Uint8Array[]) {
      buf.set(f);
      message = r.push(buf.subarray(0, f.byteLength)).message ?? message;
      buf.fill(0xaa);
    }
    expect(message?.payload).toEqual(pattern(500));
  });

  it('accepts a short middle fragment and appends what it carries (documented choice)', () => {
    const r = new RmReassembler();
    const first = hex('2109 0100 01000056 aabb'); // request, 2 continuations, 2 payload bytes
    const mid = hex('2108 0100 01000056 cc');
    const last = hex('2108 0100 01000056 dd');
    r.push(first);
    r.push(mid);
    expect(r.push(last).message?.payload).toEqual(hex('aabbccdd'));
  });
});
