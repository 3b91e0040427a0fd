import { describe, expect, it } from 'vitest';
import { NOTIFICATION_SAMPLES, REQUEST_SAMPLES } from '../test/samples.js';
import { replyPayload } from '../test/helpers.js';
import {
  RM_NOTIFICATIONS,
  RM_REQUESTS,
  RmProtocolError,
  RmReassembler,
  allMessages,
  encodeMessage,
  lookupMessage,
  notificationDef,
  requestDef,
  type RmMessage,
  type RmMessageType,
  type RmNotificationName,
  type RmRequestName,
} from '../src/index.js';

function throughFrames(type: RmMessageType, msgId: number, payload: Uint8Array): RmMessage {
  const r = new RmReassembler();
  const fragments = encodeMessage({ type, seq: 0x1234, msgId, payload });
  let out: RmMessage | null = null;
  for (const f of fragments) {
    expect(f.byteLength).toBeLessThanOrEqual(240);
    const res = r.push(f);
    expect(res.rejected).toBeNull();
    if (res.message !== null) out = res.message;
  }
  expect(out).not.toBeNull();
  return out as RmMessage;
}

describe('catalogue', () => {
  it('has every ID of spec §3 exactly once: 71 requests and 11 notifications', () => {
    const all = allMessages();
    expect(new Set(all.map((m) => m.id)).size).toBe(all.length);
    expect(Object.keys(RM_REQUESTS)).toHaveLength(71);
    expect(Object.keys(RM_NOTIFICATIONS)).toHaveLength(11);
    for (const def of all) expect(lookupMessage(def.id)).toBe(def);
  });

  it('keeps the spec IDs (spot checks across groups)', () => {
    expect(RM_REQUESTS.MEM_DONATE.id).toBe(0x51000010);
    expect(RM_REQUESTS.MEM_QCOM_LOOKUP_SGL.id).toBe(0x5100001a);
    expect(RM_REQUESTS.VM_SET_BOOT_CONTEXT.id).toBe(0x56000031);
    expect(RM_REQUESTS.VM_SET_BOOT_CONTEXT_V15.id).toBe(0x5600000c);
    expect(RM_REQUESTS.VM_DEVICE_BUS_UNLOCK.id).toBe(0x56000068);
    expect(RM_REQUESTS.IPA_UNRESERVE.id).toBe(0x560000b1);
    expect(RM_REQUESTS.GET_LOG_ADDRESS.id).toBe(0x56000100);
    expect(RM_NOTIFICATIONS.VM_STATUS.id).toBe(0x56100008);
    expect(RM_NOTIFICATIONS.VM_CONSOLE_CHARS.id).toBe(0x56100080);
  });

  it('notification IDs have bit 20 set and requests do not (spec §3.2 observation)', () => {
    for (const def of allMessages()) expect((def.id & 0x00100000) !== 0).toBe(def.kind === 'notification');
  });

  it('requestDef / notificationDef reject unknown IDs and the wrong kind', () => {
    expect(requestDef(0x56000004).name).toBe('VM_START');
    expect(notificationDef(0x56100001).name).toBe('VM_EXITED');
    for (const [fn, id] of [[requestDef, 0x56100008], [notificationDef, 0x56000004], [requestDef, 0x12345678]] as const) {
      expect(() => fn(id)).toThrow(expect.objectContaining({ code: 'UNKNOWN_MESSAGE' }));
    }
  });
});

describe('round trip of every message through codec and fragments', () => {
  for (const name of Object.keys(RM_REQUESTS) as RmRequestName[]) {
    it(name, () => {
      const def = RM_REQUESTS[name];
      const samples = REQUEST_SAMPLES[name];
      expect(samples.request.length).toBeGreaterThan(0);
      for (const value of samples.request as never[]) {
        const payload = def.request.encode(value);
        const m = throughFrames('request', def.id, payload);
        expect(m.type).toBe('request');
        expect(m.payload).toEqual(payload);
        expect(def.request.decode(m.payload)).toEqual(value);
      }
      for (const value of samples.reply as never[]) {
        const data = def.reply.encode(value);
        const m = throughFrames('reply', def.id, replyPayload(0, data));
        expect(def.reply.decode(m.payload.subarray(4))).toEqual(value);
      }
    });
  }
  for (const name of Object.keys(RM_NOTIFICATIONS) as RmNotificationName[]) {
    it(name, () => {
      const def = RM_NOTIFICATIONS[name];
      for (const value of NOTIFICATION_SAMPLES[name] as never[]) {
        const m = throughFrames('notification', def.id, def.payload.encode(value));
        expect(def.payload.decode(m.payload)).toEqual(value);
      }
    });
  }
});

describe('payload validation', () => {
  const code = (fn: () => unknown): string => {
    try {
      fn();
    } catch (e) {
      expect(e).toBeInstanceOf(RmProtocolError);
      return (e as RmProtocolError).code;
    }
    return 'no error';
  };

  it('rejects truncated and trailing payloads', () => {
    const vmid = RM_REQUESTS.VM_START.request;
    expect(code(() => vmid.decode(new Uint8Array(3)))).toBe('PAYLOAD_TRUNCATED');
    expect(code(() => vmid.decode(new Uint8Array(5)))).toBe('PAYLOAD_TRAILING');
    expect(code(() => RM_REQUESTS.VM_GET_VMID.request.decode(new Uint8Array(1)))).toBe('PAYLOAD_TRAILING');
    expect(code(() => RM_REQUESTS.VM_CONFIG_IMAGE.request.decode(new Uint8Array(39)))).toBe('PAYLOAD_TRUNCATED');
  });

  it('rejects non-zero reserved fields and padding', () => {
    expect(code(() => RM_REQUESTS.VM_INIT.request.decode(Uint8Array.of(0x80, 0, 1, 0)))).toBe('RESERVED_NONZERO');
    const lookup = RM_REQUESTS.VM_LOOKUP_NAME.request;
    expect(code(() => lookup.decode(Uint8Array.of(1, 0, 0, 0, 0x61, 0, 0, 1)))).toBe('RESERVED_NONZERO');
    expect(lookup.decode(Uint8Array.of(1, 0, 0, 0, 0x61, 0, 0, 0))).toEqual({ value: 'a' });
    expect(code(() => lookup.decode(Uint8Array.of(1, 0, 0, 0, 0xff, 0, 0, 0)))).toBe('FIELD_OUT_OF_RANGE');
  });

  it('rejects counts that exceed the payload', () => {
    const res = RM_REQUESTS.VM_GET_HYP_RESOURCES.reply;
    // n = 2 but one 44-byte entry: GET_HYP_RESOURCES size must be 4 + 44·n (Linux -EBADMSG)
    expect(code(() => res.decode(Uint8Array.of(2, 0, 0, 0, ...new Uint8Array(44))))).toBe('PAYLOAD_TRUNCATED');
    expect(code(() => res.decode(Uint8Array.of(1, 0, 0, 0, ...new Uint8Array(45))))).toBe('PAYLOAD_TRAILING');
    expect(code(() => res.decode(Uint8Array.of(0xff, 0xff, 0xff, 0xff)))).toBe('PAYLOAD_TRUNCATED');
    const exited = RM_NOTIFICATIONS.VM_EXITED.payload;
    expect(code(() => exited.decode(Uint8Array.of(0x80, 0, 7, 0, 3, 0, 0, 0, 0, 0, 0)))).toBe('FIELD_OUT_OF_RANGE');
  });

  it('reads a missing trailing list as empty (RM list rule) and otherwise checks it', () => {
    const create = RM_REQUESTS.MEM_LEND.request;
    const full = create.encode({ memType: 0, flags: 0, label: 1, acl: [{ vmid: 0x80, rights: 6 }], sgl: [{ address: 0x1000n, size: 0x1000n }], attrs: [] });
    expect(create.decode(full.subarray(0, full.byteLength - 4))).toEqual(create.decode(full));
    expect(code(() => create.decode(full.subarray(0, full.byteLength - 2)))).toBe('PAYLOAD_TRUNCATED');
  });

  it('checks field ranges on encode', () => {
    expect(code(() => RM_REQUESTS.VM_START.request.encode({ vmid: 0x10000 }))).toBe('FIELD_OUT_OF_RANGE');
    expect(code(() => RM_REQUESTS.VM_START.request.encode({ vmid: -1 }))).toBe('FIELD_OUT_OF_RANGE');
    expect(code(() => RM_REQUESTS.VM_START.request.encode({ vmid: 1.5 }))).toBe('FIELD_OUT_OF_RANGE');
    expect(code(() => RM_REQUESTS.VM_SET_BOOT_CONTEXT.request.encode({ vmid: 1, regSet: 0, regIndex: 0, value: 1n << 64n }))).toBe(
      'FIELD_OUT_OF_RANGE',
    );
    expect(code(() => RM_REQUESTS.VM_SET_BOOT_CONTEXT.request.encode({ vmid: 1, regSet: 0, regIndex: 0, value: -1n }))).toBe(
      'FIELD_OUT_OF_RANGE',
    );
    expect(code(() => RM_REQUESTS.VM_LOOKUP_GUID.request.encode({ guid: new Uint8Array(15) }))).toBe('FIELD_OUT_OF_RANGE');
    expect(code(() => RM_REQUESTS.MEM_NOTIFY.request.encode({ handle: 1, flags: 2, memInfoTag: 0, vmids: [1] }))).toBe(
      'FIELD_OUT_OF_RANGE',
    );
    expect(code(() => RM_REQUESTS.VM_IRQ_NOTIFY.request.encode({ handle: 1, flags: 1, vmids: [1, 2] }))).toBe('FIELD_OUT_OF_RANGE');
    expect(
      code(() =>
        RM_REQUESTS.IPA_RESERVE.request.encode({ allocType: 0, genericConstraints: 0, platformConstraints: 0, fixed: [], alloc: [{ regionBase: 0n, regionSize: 0n, size: 0n, alignment: 0n }] }),
      ),
    ).toBe('FIELD_OUT_OF_RANGE');
    expect(code(() => RM_REQUESTS.MEM_ACCEPT.reply.encode({ sgl: null, flags: 1 }))).toBe('FIELD_OUT_OF_RANGE');
    expect(code(() => RM_REQUESTS.MEM_LEND.request.encode({ memType: 0, flags: 0, label: 0, acl: Array(0x10000).fill({ vmid: 1, rights: 4 }), sgl: [], attrs: [] }))).toBe(
      'FIELD_OUT_OF_RANGE',
    );
  });

  it('VM_ALLOC_VMID reply: u32 vmid after a dynamic request, empty after a specific one', () => {
    const rep = RM_REQUESTS.VM_ALLOC_VMID.reply;
    expect(rep.decode(new Uint8Array(0))).toEqual({ vmid: null });
    expect(rep.encode({ vmid: null })).toHaveLength(0);
    expect(rep.decode(Uint8Array.of(0x80, 0, 0, 0))).toEqual({ vmid: 0x80 });
  });

  it('decoders do not keep references to the input', () => {
    const input = RM_NOTIFICATIONS.VM_CONSOLE_CHARS.payload.encode({ vmid: 1, data: Uint8Array.of(1, 2, 3) });
    const value = RM_NOTIFICATIONS.VM_CONSOLE_CHARS.payload.decode(input);
    input.fill(0xee);
    expect([...value.data]).toEqual([1, 2, 3]);
  });
});
