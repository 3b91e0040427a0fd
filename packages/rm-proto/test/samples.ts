// Sample payloads for every catalogue message. The mapped types make the compiler reject a
// catalogue entry without samples (tsc -p tsconfig.test.json).
import type { RmNotificationName, RmNotifications, RmReplyOf, RmRequestName, RmRequestOf, SglEntry } from '../src/index.js';

const raw = (n: number) => ({ data: Uint8Array.from({ length: n }, (_, i) => (i * 37 + 11) & 0xff) });
const rawSamples = { request: [raw(0), raw(5), raw(300)], reply: [raw(0), raw(4), raw(700)] };
const vmid = [{ vmid: 0 }, { vmid: 0x80 }, { vmid: 0xffff }];
const empty = [{}];
const sgl = (n: number): SglEntry[] =>
  Array.from({ length: n }, (_, i) => ({ address: 0x8_8000_0000n + BigInt(i) * 0x1000n, size: 0x1000n * BigInt(i + 1) }));
const create = [
  { memType: 0, flags: 0, label: 0, acl: [{ vmid: 0x80, rights: 6 }], sgl: sgl(1), attrs: [] },
  { memType: 1, flags: 3, label: 0xffffffff, acl: [{ vmid: 0x80, rights: 6 }, { vmid: 3, rights: 7 }], sgl: sgl(600), attrs: [{ attr: 1, vmid: 0x80 }] },
];
const handle = [{ handle: 0 }, { handle: 0xfffffffe }];

export const REQUEST_SAMPLES: { [N in RmRequestName]: { request: RmRequestOf<N>[]; reply: RmReplyOf<N>[] } } = {
  GET_IDENT: rawSamples,
  GET_FEATURES: rawSamples,
  MEM_DONATE: { request: create, reply: handle },
  MEM_ACCEPT: {
    request: [
      { handle: 5, memType: 0, transType: 1, flags: 0x80, label: 9, acl: [{ vmid: 0x80, rights: 7 }], sgl: [], mapVmid: 0, attrs: [] },
      { handle: 5, memType: 0, transType: 2, flags: 8, label: 9, acl: [], sgl: sgl(3), mapVmid: 0x81, attrs: [{ attr: 3, vmid: 0x80 }] },
    ],
    reply: [{ sgl: null, flags: 0 }, { sgl: sgl(20), flags: 1 }, { sgl: [], flags: 0 }],
  },
  MEM_LEND: { request: create, reply: handle },
  MEM_SHARE: { request: create, reply: handle },
  MEM_RELEASE: { request: [{ handle: 5, flags: 0 }, { handle: 7, flags: 1 }], reply: empty },
  MEM_RECLAIM: { request: [{ handle: 5, flags: 0 }], reply: empty },
  MEM_NOTIFY: {
    request: [
      { handle: 1, flags: 1, memInfoTag: 7, vmids: [0x80, 0x81] },
      { handle: 1, flags: 2, memInfoTag: 7, vmids: [] },
      { handle: 1, flags: 8, memInfoTag: 0, vmids: [3] },
    ],
    reply: empty,
  },
  MEM_APPEND: { request: [{ handle: 5, flags: 1, sgl: sgl(512) }, { handle: 5, flags: 0, sgl: [] }], reply: empty },
  MEM_QCOM_LOOKUP_SGL: {
    request: [{ memType: 0, label: 3, acl: [{ vmid: 3, rights: 7 }], sgl: sgl(2), attrs: [] }],
    reply: handle,
  },
  FW_MILESTONE: rawSamples,
  FW_SET_VM_FIRMWARE: {
    request: [{ authType: 2, handle: 4, imageOffset: 0x1000n, imageSize: 0xffff_ffff_ffff_ffffn }],
    reply: rawSamples.reply,
  },
  VM_ALLOC_VMID: { request: vmid, reply: [{ vmid: 0x80 }, { vmid: null }] },
  VM_DEALLOC_VMID: { request: vmid, reply: empty },
  VM_START: { request: vmid, reply: empty },
  VM_STOP: { request: [{ vmid: 0x80, flags: 1, stopReason: 3 }, { vmid: 0x81, flags: 0, stopReason: 0xffffffff }], reply: empty },
  VM_RESET: { request: vmid, reply: empty },
  VM_SUSPEND: rawSamples,
  VM_RESUME: rawSamples,
  VM_CONFIG_IMAGE: {
    request: [{ vmid: 0x80, authMechanism: 2, handle: 5, imageOffset: 1n, imageSize: 2n, dtbOffset: 3n, dtbSize: 1n << 63n }],
    reply: empty,
  },
  VM_AUTH_IMAGE: { request: [{ vmid: 0x80, params: [] }, { vmid: 0x80, params: [{ type: 1, value: 2 }, { type: 3, value: 0xffffffff }] }], reply: empty },
  VM_INIT: { request: vmid, reply: empty },
  VM_SET_BOOT_CONTEXT_V15: rawSamples,
  VM_GET_ID: {
    request: vmid,
    reply: [
      { ids: [] },
      {
        ids: [
          { type: 0, data: Uint8Array.from({ length: 16 }, (_, i) => i) },
          { type: 2, data: new TextEncoder().encode('vm-a') },
          { type: 1, data: new TextEncoder().encode('uri:x') },
          { type: 3, data: new Uint8Array(0) },
        ],
      },
    ],
  },
  VM_LOOKUP_URI: { request: [{ value: '' }, { value: 'urn:gunyah:vm:7' }], reply: [{ vmids: [] }, { vmids: [0x80, 0x81] }] },
  VM_LOOKUP_GUID: { request: [{ guid: Uint8Array.from({ length: 16 }, (_, i) => 255 - i) }], reply: [{ vmids: [0x80] }] },
  VM_LOOKUP_NAME: { request: [{ value: 'tüv' }], reply: [{ vmids: [3] }] },
  VM_GET_OWNER: { request: empty, reply: [{ vmid: 3 }] },
  VM_GET_STATE: { request: vmid, reply: [{ vmStatus: 3, osStatus: 4, appStatus: 0xffff }] },
  VM_GET_CRASH_MSG: { request: vmid, reply: [{ message: new Uint8Array(0) }, { message: new TextEncoder().encode('panic!') }] },
  VM_GET_HYP_RESOURCES: {
    request: vmid,
    reply: [
      { resources: [] },
      {
        resources: Array.from({ length: 300 }, (_, i) => ({
          type: i % 11,
          partnerVmid: i,
          resourceHandle: i * 3,
          resourceLabel: i * 5,
          capId: 0xffff_0000_0000_0000n + BigInt(i),
          virqHandle: i * 7,
          virq: 32 + i,
          base: BigInt(i) << 32n,
          size: 0x1000n,
        })),
      },
    ],
  },
  VM_GET_HYP_CAPIDS: rawSamples,
  VM_GET_HYP_IRQS: rawSamples,
  VM_GET_VMID: { request: empty, reply: [{ vmid: 3 }, { vmid: 0xffffffff }] },
  VM_GET_PEERS: { request: empty, reply: [{ vmids: [] }, { vmids: [3, 0x80, 0xffffffff] }] },
  VM_SET_TIME_BASE: { request: [{ vmid: 0, timeBase: 123456789n, sysTimerRef: 987654321n }], reply: empty },
  VM_SET_BOOT_CONTEXT: { request: [{ vmid: 0x80, regSet: 0, regIndex: 31, value: 0xdead_beefn }], reply: empty },
  VM_SET_FIRMWARE_MEM: { request: [{ vmid: 0x80, handle: 9, fwOffset: 0x2000n, fwSize: 0x10000n }], reply: empty },
  VM_SET_DEMAND_PAGING: { request: [{ vmid: 0x80, ranges: [] }, { vmid: 0x80, ranges: sgl(900) }], reply: empty },
  VM_SET_ADDRESS_LAYOUT: { request: [{ vmid: 0x80, rangeId: 1, base: 0x9000_0000n, size: 0x20_0000n }], reply: empty },
  VM_MINIDUMP_GET_INFO: rawSamples,
  VM_MINIDUMP_REGISTER_RANGE: rawSamples,
  VM_MINIDUMP_DEREGISTER_SLOT: rawSamples,
  VM_MINIDUMP_GET_SLOT_NUMBER: rawSamples,
  VM_IRQ_ACCEPT: { request: [{ handle: 2, virq: 0xffffffff }], reply: [{ virq: 40 }] },
  VM_IRQ_LEND: { request: [{ borrowerVmid: 0x80, virq: 45, label: 1 }], reply: handle },
  VM_IRQ_RELEASE: { request: handle, reply: empty },
  VM_IRQ_RECLAIM: { request: handle, reply: empty },
  VM_IRQ_NOTIFY: {
    request: [
      { handle: 2, flags: 1, vmids: null },
      { handle: 2, flags: 1, vmids: [] },
      { handle: 2, flags: 1, vmids: [0x80] },
      { handle: 2, flags: 4, vmids: null },
    ],
    reply: empty,
  },
  VM_IRQ_UNMAP: rawSamples,
  VM_DEVICE_ACCEPT: rawSamples,
  VM_DEVICE_LEND: rawSamples,
  VM_DEVICE_RELEASE: rawSamples,
  VM_DEVICE_RECLAIM: rawSamples,
  VM_DEVICE_NOTIFY: rawSamples,
  VM_DEVICE_FIND_HANDLE: rawSamples,
  VM_DEVICE_GET_RESOURCES: rawSamples,
  VM_DEVICE_BUS_LOCKDOWN: rawSamples,
  VM_DEVICE_BUS_UNLOCK: rawSamples,
  VM_SET_STATUS: { request: [{ vmStatus: 0, osStatus: 4, appStatus: 7 }], reply: empty },
  VM_CONSOLE_OPEN: { request: vmid, reply: empty },
  VM_CONSOLE_CLOSE: { request: vmid, reply: empty },
  VM_CONSOLE_WRITE: { request: [{ vmid: 0, data: new Uint8Array(0) }, { vmid: 0x80, data: new TextEncoder().encode('hello\n') }], reply: empty },
  VM_CONSOLE_FLUSH: { request: vmid, reply: empty },
  VM_EXIT: { request: [{ exitFlags: 1, exitCode: 4 }], reply: empty },
  VM_SET_CRASH_MSG: { request: [{ message: new TextEncoder().encode('oops') }, { message: new Uint8Array(192).fill(65) }], reply: empty },
  VM_HOST_GET_TYPE: { request: empty, reply: [{ hostType: 0x01000164 }] },
  IPA_RESERVE: {
    request: [
      { allocType: 0, genericConstraints: 1, platformConstraints: 2, fixed: [{ base: 0x1000n, size: 0x2000n }], alloc: [] },
      {
        allocType: 1,
        genericConstraints: 0,
        platformConstraints: 0,
        fixed: [],
        alloc: [{ regionBase: 0n, regionSize: 1n << 40n, size: 0x20_0000n, alignment: 0x20_0000n }],
      },
    ],
    reply: rawSamples.reply,
  },
  IPA_UNRESERVE: rawSamples,
  GET_LOG_ADDRESS: rawSamples,
};

export const NOTIFICATION_SAMPLES: { [N in RmNotificationName]: RmNotifications[N][] } = {
  MEM_SHARED: [
    {
      handle: 5,
      memType: 0,
      transType: 2,
      flags: 1,
      ownerVmid: 3,
      label: 8,
      memInfoTag: 9,
      acl: [{ vmid: 0x80, rights: 6 }, { vmid: 3, rights: 7 }],
      regionSizes: [0x1000n, 0x20_0000n],
      attrs: [{ attr: 0, vmid: 3 }],
    },
    { handle: 0, memType: 1, transType: 1, flags: 0, ownerVmid: 3, label: 0, memInfoTag: 0, acl: [], regionSizes: Array(512).fill(0x1000n), attrs: [] },
  ],
  MEM_RELEASED: [{ handle: 5, vmid: 0x80, memInfoTag: 0 }],
  MEM_ACCEPTED: [{ handle: 5, vmid: 0x80, memInfoTag: 0xffffffff }],
  MEM_RECALL: [{ handle: 5, memInfoTag: 2 }],
  VM_EXITED: [
    { vmid: 0x80, exitType: 7, reason: [0] },
    { vmid: 0x80, exitType: 3, reason: [0x8001, 1, 0xdeadbeef, 0xcafef00d] },
    { vmid: 0x80, exitType: 0, reason: [] },
  ],
  VM_SHUTDOWN: [{ stopReason: 0 }],
  VM_STATUS: [{ vmid: 0x80, vmStatus: 3, osStatus: 4, appStatus: 0x1234 }],
  VM_IRQ_LENT: [{ ownerVmid: 3, handle: 1, label: 2 }],
  VM_IRQ_RELEASED: handle,
  VM_IRQ_ACCEPTED: handle,
  VM_CONSOLE_CHARS: [{ vmid: 0x80, data: new TextEncoder().encode('login: ') }, { vmid: 0, data: new Uint8Array(500).fill(0x61) }],
};
