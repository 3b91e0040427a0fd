// fast-check properties: every decoder returns a value or throws RmProtocolError, never anything
// else; decoded values re-encode to bytes that decode to the same value; the reassembler never
// throws on any fragment sequence.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NOTIFICATION_SAMPLES, REQUEST_SAMPLES } from '../test/samples.js';
import {
  RM_MAX_PAYLOAD,
  RM_NOTIFICATIONS,
  RM_REQUESTS,
  RmProtocolError,
  RmReassembler,
  encodeMessage,
  lookupMessage,
  type PayloadCodec,
  type RmMessageType,
  type RmNotificationName,
  type RmRequestName,
} from '../src/index.js';

interface Case {
  readonly label: string;
  readonly codec: PayloadCodec<unknown>;
  readonly seeds: Uint8Array[];
}

const cases: Case[] = [];
for (const name of Object.keys(RM_REQUESTS) as RmRequestName[]) {
  const def = RM_REQUESTS[name] as unknown as { request: PayloadCodec<unknown>; reply: PayloadCodec<unknown> };
  const s = REQUEST_SAMPLES[name] as { request: unknown[]; reply: unknown[] };
  cases.push({ label: `${name} request`, codec: def.request, seeds: s.request.map((v) => def.request.encode(v)) });
  cases.push({ label: `${name} reply`, codec: def.reply, seeds: s.reply.map((v) => def.reply.encode(v)) });
}
for (const name of Object.keys(RM_NOTIFICATIONS) as RmNotificationName[]) {
  const codec = RM_NOTIFICATIONS[name].payload as PayloadCodec<unknown>;
  cases.push({ label: `${name} notification`, codec, seeds: (NOTIFICATION_SAMPLES[name] as unknown[]).map((v) => codec.encode(v)) });
}

/** Decode; if it worked, the value must survive encode → decode unchanged. */
function checkDecoder(codec: PayloadCodec<unknown>, bytes: Uint8Array): void {
  let value: unknown;
  try {
    value = codec.decode(bytes);
  } catch (error) {
    expect(error).toBeInstanceOf(RmProtocolError);
    return;
  }
  expect(codec.decode(codec.encode(value))).toEqual(value);
}

/** A seed with random byte overwrites, truncation or extension. */
function mutated(seeds: Uint8Array[]): fc.Arbitrary<Uint8Array> {
  return fc
    .record({
      seed: fc.constantFrom(...seeds),
      edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
      cut: fc.option(fc.nat(), { nil: undefined }),
      extra: fc.uint8Array({ maxLength: 8 }),
    })
    .map(({ seed, edits, cut, extra }) => {
      const bytes = Uint8Array.from([...seed, ...extra]);
      for (const [at, v] of edits) if (bytes.byteLength > 0) bytes[at % bytes.byteLength] = v;
      return cut === undefined ? bytes : bytes.subarray(0, cut % (bytes.byteLength + 1));
    });
}

describe('payload decoders never crash (fast-check)', () => {
  for (const c of cases) {
    it(c.label, () => {
      fc.assert(fc.property(fc.uint8Array({ maxLength: 96 }), (bytes) => checkDecoder(c.codec, bytes)), { numRuns: 150 });
      if (c.seeds.some((s) => s.byteLength > 0)) {
        fc.assert(fc.property(mutated(c.seeds.filter((s) => s.byteLength < 4096)), (bytes) => checkDecoder(c.codec, bytes)), {
          numRuns: 150,
        });
      }
    });
  }
});

describe('framing properties (fast-check)', () => {
  const msgType = fc.constantFrom<RmMessageType>('request', 'reply', 'notification');

  it('encode → reassemble is the identity for any payload up to the maximum', () => {
    fc.assert(
      fc.property(
        msgType,
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 1, max: 0xffffffff }),
        fc.integer({ min: 0, max: RM_MAX_PAYLOAD }),
        fc.integer({ min: 0, max: 255 }),
        (type, seq, msgId, n, fill) => {
          const payload = Uint8Array.from({ length: n }, (_, i) => (i * 31 + fill) & 0xff);
          const fragments = encodeMessage({ type, seq, msgId, payload });
          const r = new RmReassembler();
          const results = fragments.map((f) => r.push(f));
          expect(results.every((x) => x.rejected === null && x.aborted === null)).toBe(true);
          expect(results.slice(0, -1).every((x) => x.message === null)).toBe(true);
          const message = results.at(-1)?.message;
          expect(message).toMatchObject({ type, seq, msgId });
          // Buffer.equals rather than toEqual: a deep diff of 14 KiB arrays is slow under load
          expect(Buffer.from(message?.payload ?? []).equals(payload)).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('the reassembler never throws on random fragment streams and bounds message size', () => {
    const header = fc
      .record({
        api: fc.oneof(fc.constant(0x21), fc.integer({ min: 0, max: 255 })),
        type: fc.integer({ min: 0, max: 255 }),
        seq: fc.constantFrom(0, 1, 0xffff),
        id: fc.constantFrom(0x56000001, 0x56100008, 0x51000013),
        body: fc.uint8Array({ maxLength: 240 }),
      })
      .map(({ api, type, seq, id, body }) => {
        const f = new Uint8Array(8 + body.byteLength);
        const v = new DataView(f.buffer);
        v.setUint8(0, api);
        v.setUint8(1, type);
        v.setUint16(2, seq, true);
        v.setUint32(4, id, true);
        f.set(body, 8);
        return f;
      });
    const fragment = fc.oneof(header, fc.uint8Array({ maxLength: 260 }));
    fc.assert(
      fc.property(fc.array(fragment, { maxLength: 80 }), fc.boolean(), (frags, linux) => {
        const r = new RmReassembler(linux ? { onMismatch: 'abort-message', checkSeq: false } : {});
        for (const f of frags) {
          const res = r.push(f);
          if (res.rejected !== null) expect(res.rejected).toBeInstanceOf(RmProtocolError);
          if (res.message !== null) {
            expect(res.message.payload.byteLength).toBeLessThanOrEqual(RM_MAX_PAYLOAD);
            const def = lookupMessage(res.message.msgId);
            if (def?.kind === 'notification') checkDecoder(def.payload as PayloadCodec<unknown>, res.message.payload);
            if (def?.kind === 'request' && res.message.type === 'request') {
              checkDecoder(def.request as PayloadCodec<unknown>, res.message.payload);
            }
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('mutated fragments of a valid fragmented message give a message, a typed rejection or nothing', () => {
    const def = RM_REQUESTS.MEM_SHARE;
    const payload = def.request.encode(REQUEST_SAMPLES.MEM_SHARE.request[1] as never);
    const fragments = encodeMessage({ type: 'request', seq: 3, msgId: def.id, payload });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(), fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 3 }),
        (edits, drops) => {
          const frags = fragments.map((f) => f.slice());
          for (const [fi, bi, v] of edits) {
            const f = frags[fi % frags.length] as Uint8Array;
            f[bi % f.byteLength] = v;
          }
          for (const d of drops) frags.splice(d % frags.length, 1);
          const r = new RmReassembler();
          for (const f of frags) {
            const res = r.push(f);
            if (res.message?.msgId === def.id && res.message.type === 'request') {
              checkDecoder(def.request as PayloadCodec<unknown>, res.message.payload);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
