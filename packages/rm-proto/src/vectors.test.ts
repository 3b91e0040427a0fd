// Every test vector of spec/gunyah-rm-protocol.md §8, byte for byte, in both directions:
// our encoder must produce the fragments, and the reassembler + catalogue must decode them back.
import { describe, expect, it } from 'vitest';
import { hex, replyPayload, toHex } from '../test/helpers.js';
import {
  RM_ERROR,
  RM_NOTIFICATIONS,
  RM_REQUESTS,
  RM_VM_STATUS,
  RmReassembler,
  encodeMessage,
  rmErrorToErrno,
  type RmMessage,
  type RmNotificationName,
  type RmNotifications,
  type RmReplyOf,
  type RmRequestName,
  type RmRequestOf,
} from '../src/index.js';

function reassemble(fragments: readonly string[]): RmMessage {
  const r = new RmReassembler();
  let message: RmMessage | null = null;
  for (const f of fragments) {
    const res = r.push(hex(f));
    expect(res.rejected).toBeNull();
    expect(res.aborted).toBeNull();
    if (res.message !== null) message = res.message;
  }
  expect(message).not.toBeNull();
  return message as RmMessage;
}

function request<N extends RmRequestName>(name: N, seq: number, value: RmRequestOf<N>): string[] {
  const def = RM_REQUESTS[name];
  return encodeMessage({ type: 'request', seq, msgId: def.id, payload: def.request.encode(value) }).map(toHex);
}

function reply<N extends RmRequestName>(name: N, seq: number, value: RmReplyOf<N>): string[] {
  const def = RM_REQUESTS[name];
  return encodeMessage({ type: 'reply', seq, msgId: def.id, payload: replyPayload(0, def.reply.encode(value)) }).map(toHex);
}

function notification<N extends RmNotificationName>(name: N, seq: number, value: RmNotifications[N]): string[] {
  const def = RM_NOTIFICATIONS[name];
  return encodeMessage({ type: 'notification', seq, msgId: def.id, payload: def.payload.encode(value) }).map(toHex);
}

function expectRequest<N extends RmRequestName>(name: N, seq: number, value: RmRequestOf<N>, fragments: string[]): void {
  expect(request(name, seq, value)).toEqual(fragments);
  const m = reassemble(fragments);
  expect(m).toMatchObject({ type: 'request', seq, msgId: RM_REQUESTS[name].id });
  expect(RM_REQUESTS[name].request.decode(m.payload)).toEqual(value);
}

function expectReply<N extends RmRequestName>(name: N, seq: number, value: RmReplyOf<N>, fragments: string[]): void {
  expect(reply(name, seq, value)).toEqual(fragments);
  const m = reassemble(fragments);
  expect(m).toMatchObject({ type: 'reply', seq, msgId: RM_REQUESTS[name].id });
  expect(new DataView(m.payload.buffer).getUint32(0, true)).toBe(0);
  expect(RM_REQUESTS[name].reply.decode(m.payload.subarray(4))).toEqual(value);
}

function expectNotification<N extends RmNotificationName>(
  name: N,
  seq: number,
  value: RmNotifications[N],
  fragments: string[],
): void {
  expect(notification(name, seq, value)).toEqual(fragments);
  const m = reassemble(fragments);
  expect(m).toMatchObject({ type: 'notification', seq, msgId: RM_NOTIFICATIONS[name].id });
  expect(RM_NOTIFICATIONS[name].payload.decode(m.payload)).toEqual(value);
}

describe('spec §8 test vectors', () => {
  it('1. VM_ALLOC_VMID request, seq 0, vmid 0', () => {
    expectRequest('VM_ALLOC_VMID', 0, { vmid: 0 }, ['210100000100005600000000']);
  });

  it('2. VM_ALLOC_VMID reply, seq 0, OK, vmid 0x80', () => {
    expectReply('VM_ALLOC_VMID', 0, { vmid: 0x80 }, ['21020000010000560000000080000000']);
  });

  it('3. VM_START error reply, seq 5, VM_STATE (Linux -EBADMSG)', () => {
    const frag = encodeMessage({ type: 'reply', seq: 5, msgId: RM_REQUESTS.VM_START.id, payload: replyPayload(RM_ERROR.VM_STATE) });
    expect(frag.map(toHex)).toEqual(['210205000400005614000000']);
    const m = reassemble(['210205000400005614000000']);
    const code = new DataView(m.payload.buffer).getUint32(0, true);
    expect(code).toBe(0x14);
    expect(rmErrorToErrno(code)).toEqual({ name: 'EBADMSG', errno: 74 });
  });

  it('4. MEM_LEND request, seq 1, and its reply with handle 5', () => {
    expectRequest(
      'MEM_LEND',
      1,
      { memType: 0, flags: 0, label: 0, acl: [{ vmid: 0x80, rights: 6 }], sgl: [{ address: 0x0000000880000000n, size: 0x1000n }], attrs: [] },
      ['210101001200005100000000000000000100000080000600010000000000008008000000001000000000000000000000'],
    );
    expectReply('MEM_LEND', 1, { handle: 5 }, ['21020100120000510000000005000000']);
  });

  it('5. VM_CONFIG_IMAGE request, seq 2', () => {
    expectRequest(
      'VM_CONFIG_IMAGE',
      2,
      { vmid: 0x80, authMechanism: 0, handle: 5, imageOffset: 0n, imageSize: 0n, dtbOffset: 0n, dtbSize: 0x1000n },
      ['210102000900005680000000050000000000000000000000000000000000000000000000000000000010000000000000'],
    );
  });

  it('6. VM_SET_BOOT_CONTEXT request, seq 7, PC = 0x80200000', () => {
    expectRequest('VM_SET_BOOT_CONTEXT', 7, { vmid: 0x80, regSet: 1, regIndex: 0, value: 0x80200000n }, [
      '210107003100005680000100000000000000208000000000',
    ]);
  });

  it('7. VM_STATUS notification, seq 0x10, RESET', () => {
    expectNotification('VM_STATUS', 0x10, { vmid: 0x80, vmStatus: RM_VM_STATUS.RESET, osStatus: 0, appStatus: 0 }, [
      '2103100008001056800000000b000000',
    ]);
  });

  it('8. VM_EXITED notification, seq 0x11, forced stop', () => {
    expectNotification('VM_EXITED', 0x11, { vmid: 0x80, exitType: 7, reason: [0] }, ['2103110001001056800007000400000000000000']);
  });

  it('9. VM_STOP request, seq 9, FORCE, reason 3', () => {
    expectRequest('VM_STOP', 9, { vmid: 0x80, flags: 1, stopReason: 3 }, ['21010900050000568000010003000000']);
  });

  it('10. fragmented MEM_SHARE request, seq 3, 13 SGL entries → 236-byte payload, k = 1', () => {
    const sgl = Array.from({ length: 13 }, (_, i) => ({ address: 0x9_0000_0000n + BigInt(i) * 0x2000n, size: 0x1000n }));
    const frag0 =
      '210503001300005100000000000000000200000080000600030007000d000000000000000900000000100000000000000020000009000000001000000000000000400000090000000010000000000000006000000900000000100000000000000080000009000000001000000000000000a0000009000000001000000000000000c0000009000000001000000000000000e000000900000000100000000000000000010009000000001000000000000000200100090000000010000000000000004001000900000000100000000000000060010009000000001000000000000000800100090000000010000000000000';
    const frag1 = '210403001300005100000000';
    expect(hex(frag0).byteLength).toBe(240);
    expectRequest(
      'MEM_SHARE',
      3,
      { memType: 0, flags: 0, label: 0, acl: [{ vmid: 0x80, rights: 6 }, { vmid: 0x03, rights: 7 }], sgl, attrs: [] },
      [frag0, frag1],
    );
  });

  it('11. GET_HYP_RESOURCES reply, seq 4, one vCPU', () => {
    expectReply(
      'VM_GET_HYP_RESOURCES',
      4,
      {
        resources: [
          { type: 4, partnerVmid: 0, resourceHandle: 0, resourceLabel: 0, capId: 0x1234n, virqHandle: 0, virq: 0x40, base: 0n, size: 0n },
        ],
      },
      ['210204002000005600000000010000000400000000000000000000003412000000000000000000004000000000000000000000000000000000000000'],
    );
  });

  it('12. fragmented GET_HYP_RESOURCES reply, 6 vCPUs, the 6th entry split 4 + 40', () => {
    const resources = Array.from({ length: 6 }, (_, i) => ({
      type: 4,
      partnerVmid: 0,
      resourceHandle: 0,
      resourceLabel: i,
      capId: 0x100n + BigInt(i),
      virqHandle: 0,
      virq: 0x40 + i,
      base: 0n,
      size: 0n,
    }));
    const frag0 =
      '210604002000005600000000060000000400000000000000000000000001000000000000000000004000000000000000000000000000000000000000040000000000000001000000010100000000000000000000410000000000000000000000000000000000000004000000000000000200000002010000000000000000000042000000000000000000000000000000000000000400000000000000030000000301000000000000000000004300000000000000000000000000000000000000040000000000000004000000040100000000000000000000440000000000000000000000000000000000000004000000';
    const frag1 = '210404002000005600000000050000000501000000000000000000004500000000000000000000000000000000000000';
    expect(hex(frag0).byteLength).toBe(240);
    expect(hex(frag1).byteLength).toBe(48);
    expectReply('VM_GET_HYP_RESOURCES', 4, { resources }, [frag0, frag1]);
  });

  describe('13. other single fragments', () => {
    it('VM_GET_VMID request (empty payload) and reply vmid 3', () => {
      expectRequest('VM_GET_VMID', 0, {}, ['2101000024000056']);
      expectReply('VM_GET_VMID', 0, { vmid: 3 }, ['21020000240000560000000003000000']);
    });
    it('MEM_RECLAIM handle 5, seq 12', () => {
      expectRequest('MEM_RECLAIM', 12, { handle: 5, flags: 0 }, ['21010c00150000510500000000000000']);
    });
    it('MEM_APPEND handle 5, END, one entry, seq 13', () => {
      expectRequest('MEM_APPEND', 13, { handle: 5, flags: 1, sgl: [{ address: 0xa_0000_0000n, size: 0x1000n }] }, [
        '21010d0018000051050000000100000001000000000000000a0000000010000000000000',
      ]);
    });
    it('VM_SET_DEMAND_PAGING seq 3, one range', () => {
      expectRequest('VM_SET_DEMAND_PAGING', 3, { vmid: 0x80, ranges: [{ address: 0x80000000n, size: 0x10000000n }] }, [
        '2101030033000056800000000100000000000080000000000000001000000000',
      ]);
    });
    it('VM_SET_ADDRESS_LAYOUT seq 4, IMAGE', () => {
      expectRequest('VM_SET_ADDRESS_LAYOUT', 4, { vmid: 0x80, rangeId: 0, base: 0x80000000n, size: 0x1000n }, [
        '2101040034000056800000000000000000000080000000000010000000000000',
      ]);
    });
  });
});
