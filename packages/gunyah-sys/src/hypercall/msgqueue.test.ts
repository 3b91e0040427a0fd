import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { HypercallError } from './errors.js';
import {
  MSGQUEUE_CONFIGURE,
  MSGQUEUE_LIMITS,
  MSGQUEUE_SEND_FLAGS,
  MSGQUEUE_SEND_FLAGS_MASK,
  checkMsgqueueSendFlags,
  checkMsgqueueSendSize,
  decodeMsgqueueCreateInfo,
  encodeMsgqueueCreateInfo,
} from './msgqueue.js';

const code = (c: string) => expect.objectContaining({ name: 'HypercallError', code: c });

describe('message queue constants (§3.3)', () => {
  it('match the spec', () => {
    expect(MSGQUEUE_SEND_FLAGS.PUSH).toBe(1);
    expect(MSGQUEUE_SEND_FLAGS_MASK).toBe(1);
    expect(MSGQUEUE_LIMITS).toEqual({ MAX_QUEUE_DEPTH: 256, MAX_MESSAGE_SIZE: 1024, RM_MESSAGE_SIZE: 240, RM_DEFAULT_QUEUE_DEPTH: 8 });
    expect(MSGQUEUE_CONFIGURE.NO_CHANGE).toBe(BigInt.asUintN(64, -1n));
    expect(MSGQUEUE_CONFIGURE.THRESHOLD_QUEUE_DEPTH).toBe(BigInt.asUintN(64, -2n));
  });
});

describe('create_info', () => {
  it('bits 15:0 depth, 31:16 max message size', () => {
    expect(encodeMsgqueueCreateInfo({ queueDepth: 8, maxMessageSize: 240 })).toBe(0x00f0_0008n);
    expect(encodeMsgqueueCreateInfo({ queueDepth: 256, maxMessageSize: 1024 })).toBe(0x0400_0100n);
    expect(decodeMsgqueueCreateInfo(0x00f0_0008n)).toEqual({ queueDepth: 8, maxMessageSize: 240 });
  });

  it('enforces the hypervisor limits and reserved bits', () => {
    expect(() => encodeMsgqueueCreateInfo({ queueDepth: 257, maxMessageSize: 240 })).toThrow(code('FIELD_OUT_OF_RANGE'));
    expect(() => encodeMsgqueueCreateInfo({ queueDepth: 8, maxMessageSize: 1025 })).toThrow(code('FIELD_OUT_OF_RANGE'));
    expect(() => encodeMsgqueueCreateInfo({ queueDepth: 0x10000, maxMessageSize: 1 })).toThrow(code('FIELD_OUT_OF_RANGE'));
    expect(() => encodeMsgqueueCreateInfo({ queueDepth: -1, maxMessageSize: 1 })).toThrow(code('FIELD_OUT_OF_RANGE'));
    expect(() => decodeMsgqueueCreateInfo(0x0401_0001n)).toThrow(code('FIELD_OUT_OF_RANGE'));
    expect(() => decodeMsgqueueCreateInfo(0x0000_0101n)).toThrow(code('FIELD_OUT_OF_RANGE'));
    expect(() => decodeMsgqueueCreateInfo(1n << 32n)).toThrow(code('RESERVED_BITS_SET'));
    expect(() => decodeMsgqueueCreateInfo(-1n)).toThrow(code('NOT_U64'));
  });

  it('round-trips within the limits (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 256 }), fc.integer({ min: 0, max: 1024 }), (queueDepth, maxMessageSize) => {
        expect(decodeMsgqueueCreateInfo(encodeMsgqueueCreateInfo({ queueDepth, maxMessageSize }))).toEqual({ queueDepth, maxMessageSize });
      }),
    );
  });

  it('fuzz: any u64 decodes to something that re-encodes, or a typed error', () => {
    fc.assert(
      fc.property(fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.bigInt({ min: 0n, max: 0x0400_0100n })), (v) => {
        try {
          expect(encodeMsgqueueCreateInfo(decodeMsgqueueCreateInfo(v))).toBe(v);
        } catch (e) {
          expect(e).toBeInstanceOf(HypercallError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('send checks (UNCONFIRMED §6.4: validate before calling)', () => {
  it('message size must be 1..max', () => {
    expect(() => checkMsgqueueSendSize(1)).not.toThrow();
    expect(() => checkMsgqueueSendSize(1024)).not.toThrow();
    expect(() => checkMsgqueueSendSize(240, MSGQUEUE_LIMITS.RM_MESSAGE_SIZE)).not.toThrow();
    expect(() => checkMsgqueueSendSize(241, MSGQUEUE_LIMITS.RM_MESSAGE_SIZE)).toThrow(code('MESSAGE_SIZE'));
    expect(() => checkMsgqueueSendSize(0)).toThrow(code('MESSAGE_SIZE'));
    expect(() => checkMsgqueueSendSize(1025)).toThrow(code('MESSAGE_SIZE'));
    expect(() => checkMsgqueueSendSize(1.5)).toThrow(code('MESSAGE_SIZE'));
    expect(() => checkMsgqueueSendSize(10, 2048)).toThrow(code('FIELD_OUT_OF_RANGE'));
    expect(() => checkMsgqueueSendSize(10, 0)).toThrow(code('FIELD_OUT_OF_RANGE'));
  });

  it('send_flags: only PUSH', () => {
    expect(checkMsgqueueSendFlags(0)).toBe(0n);
    expect(checkMsgqueueSendFlags(MSGQUEUE_SEND_FLAGS.PUSH)).toBe(1n);
    expect(() => checkMsgqueueSendFlags(2)).toThrow(code('RESERVED_BITS_SET'));
    expect(() => checkMsgqueueSendFlags(1n << 63n)).toThrow(code('RESERVED_BITS_SET'));
    expect(() => checkMsgqueueSendFlags(-1)).toThrow(code('NOT_U64'));
  });
});
