/**
 * Message-queue flags, limits and the `create_info` word (spec/gunyah-hypercalls.md §3.3).
 *
 * @module
 */

import { HypercallError, checkField, checkU64, show } from './errors.js';

/** `send_flags` of `msgqueue_send` (spec §3.3). All other bits are reserved and must be zero. */
export const MSGQUEUE_SEND_FLAGS = {
  /** Bit 0: raise the receiver's RX vIRQ now, ignoring threshold and holdoff. */
  PUSH: 1,
} as const;

/** Mask of the defined `send_flags` bits; any other bit set is invalid. */
export const MSGQUEUE_SEND_FLAGS_MASK = 0x1;

/** Hypervisor and resource-manager limits of message queues (spec §3.3). */
export const MSGQUEUE_LIMITS = {
  /** Largest queue depth (messages) the hypervisor accepts. */
  MAX_QUEUE_DEPTH: 256,
  /** Largest message size (bytes) the hypervisor accepts. */
  MAX_MESSAGE_SIZE: 1024,
  /** Message size of resource-manager RPC queues (Linux `GH_MSGQ_MAX_MSG_SIZE`, RM `RM_RPC_MESSAGE_SIZE`). */
  RM_MESSAGE_SIZE: 240,
  /** The RM's default depth for vdevice message queues. */
  RM_DEFAULT_QUEUE_DEPTH: 8,
} as const;

/**
 * Special threshold/holdoff values of `msgqueue_configure_send`/`_receive` as u64 registers
 * (spec §3.3). In the 12/2023 source any holdoff other than `NO_CHANGE` returns ERROR_UNIMPLEMENTED.
 */
export const MSGQUEUE_CONFIGURE = {
  /** -1 (all-ones): leave the threshold or holdoff unchanged. */
  NO_CHANGE: 0xffff_ffff_ffff_ffffn,
  /** -2: not_empty threshold equal to the queue depth. */
  THRESHOLD_QUEUE_DEPTH: 0xffff_ffff_ffff_fffen,
} as const;

/** The fields of the `create_info` argument of `msgqueue_configure` (spec §3.3). */
export interface MsgqueueCreateInfo {
  /** Bits 15:0: queue depth in messages, at most 256. */
  readonly queueDepth: number;
  /** Bits 31:16: maximum message size in bytes, at most 1024. */
  readonly maxMessageSize: number;
}

function checkLimits(info: MsgqueueCreateInfo): void {
  if (info.queueDepth > MSGQUEUE_LIMITS.MAX_QUEUE_DEPTH) {
    throw new HypercallError('FIELD_OUT_OF_RANGE', `queue depth ${info.queueDepth} exceeds 256`, info.queueDepth);
  }
  if (info.maxMessageSize > MSGQUEUE_LIMITS.MAX_MESSAGE_SIZE) {
    throw new HypercallError('FIELD_OUT_OF_RANGE', `max message size ${info.maxMessageSize} exceeds 1024`, info.maxMessageSize);
  }
}

/**
 * Encodes `create_info`.
 *
 * @param info - queue depth and maximum message size.
 * @throws {HypercallError} FIELD_OUT_OF_RANGE if a field does not fit 16 bits or exceeds the
 *   hypervisor limit (depth 256, size 1024).
 *
 * @example
 * ```ts
 * encodeMsgqueueCreateInfo({ queueDepth: 8, maxMessageSize: 240 }); // 0x00f0_0008n
 * ```
 */
export function encodeMsgqueueCreateInfo(info: MsgqueueCreateInfo): bigint {
  const depth = checkField(info.queueDepth, 16, 'queueDepth');
  const size = checkField(info.maxMessageSize, 16, 'maxMessageSize');
  checkLimits(info);
  return (BigInt(size) << 16n) | BigInt(depth);
}

/**
 * Decodes `create_info`; the inverse of {@link encodeMsgqueueCreateInfo}.
 *
 * @param value - the register.
 * @throws {HypercallError} NOT_U64 if `value` is not a u64.
 * @throws {HypercallError} RESERVED_BITS_SET if bits 63:32 are not zero.
 * @throws {HypercallError} FIELD_OUT_OF_RANGE if a field exceeds the hypervisor limit.
 */
export function decodeMsgqueueCreateInfo(value: bigint): MsgqueueCreateInfo {
  const v = checkU64(value, 'create_info');
  if (v >> 32n !== 0n) throw new HypercallError('RESERVED_BITS_SET', 'create_info bits 63:32 are not zero', value);
  const info = { queueDepth: Number(v & 0xffffn), maxMessageSize: Number((v >> 16n) & 0xffffn) };
  checkLimits(info);
  return info;
}

/**
 * Checks a message size before `msgqueue_send`. The 12/2023 hypervisor may return OK without
 * sending when the size is bad (spec §3.3, §6 item 4), so callers validate first.
 *
 * @param size - bytes to send.
 * @param maxMessageSize - the queue's maximum message size (default 1024, the hypervisor limit).
 * @throws {HypercallError} MESSAGE_SIZE if `size` is not an integer in 1..`maxMessageSize`.
 * @throws {HypercallError} FIELD_OUT_OF_RANGE if `maxMessageSize` is not 1..1024.
 */
export function checkMsgqueueSendSize(size: number, maxMessageSize: number = MSGQUEUE_LIMITS.MAX_MESSAGE_SIZE): void {
  if (!Number.isInteger(maxMessageSize) || maxMessageSize < 1 || maxMessageSize > MSGQUEUE_LIMITS.MAX_MESSAGE_SIZE) {
    throw new HypercallError('FIELD_OUT_OF_RANGE', `max message size must be 1..1024: ${show(maxMessageSize)}`, maxMessageSize);
  }
  if (typeof size !== 'number' || !Number.isInteger(size) || size < 1 || size > maxMessageSize) {
    throw new HypercallError('MESSAGE_SIZE', `message size must be 1..${maxMessageSize}: ${show(size)}`, size);
  }
}

/**
 * Checks `send_flags` of `msgqueue_send`.
 *
 * @param flags - the flags word.
 * @returns the flags as a u64 register value.
 * @throws {HypercallError} NOT_U64 if not a u64; RESERVED_BITS_SET if a bit other than PUSH is set.
 */
export function checkMsgqueueSendFlags(flags: number | bigint): bigint {
  const v = checkU64(flags, 'send_flags');
  if ((v & ~BigInt(MSGQUEUE_SEND_FLAGS_MASK)) !== 0n) {
    throw new HypercallError('RESERVED_BITS_SET', 'send_flags: only bit 0 (PUSH) is defined', flags);
  }
  return v;
}
