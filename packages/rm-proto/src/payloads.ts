/**
 * Payload codecs: one `{ encode, decode }` pair per layout of spec/gunyah-rm-protocol.md §4–§5.
 * Payloads are the reassembled bytes without the fragment header and, for replies, without the
 * leading u32 error code. Decoders check every length, count and reserved field and throw
 * {@link RmProtocolError}; encoders check every field range.
 *
 * @module
 */
import { RM_IRQ_NOTIFY_FLAGS, RM_MEM_NOTIFY_FLAGS } from './constants.js';
import { RmProtocolError } from './errors.js';
import { PayloadReader, PayloadWriter } from './wire.js';

/** Encoder and decoder of one payload layout. */
export interface PayloadCodec<T> {
  /** Layout name used in error messages. */
  readonly name: string;
  /**
   * Encodes a value.
   * @throws {RmProtocolError} FIELD_OUT_OF_RANGE
   */
  readonly encode: (value: T) => Uint8Array;
  /**
   * Decodes a payload; the input is not retained.
   * @throws {RmProtocolError} PAYLOAD_TRUNCATED, PAYLOAD_TRAILING, RESERVED_NONZERO, FIELD_OUT_OF_RANGE
   */
  readonly decode: (payload: Uint8Array) => T;
}

function codec<T>(
  name: string,
  write: (w: PayloadWriter, v: T) => void,
  read: (r: PayloadReader) => T,
  sizeHint: number | ((value: T) => number) = 16,
): PayloadCodec<T> {
  return {
    name,
    encode(value: T): Uint8Array {
      const w = new PayloadWriter(name, typeof sizeHint === 'number' ? sizeHint : sizeHint(value));
      write(w, value);
      return w.finish();
    },
    decode(payload: Uint8Array): T {
      const r = new PayloadReader(payload, name);
      const value = read(r);
      r.end();
      return value;
    },
  };
}

function outOfRange(what: string, detail: string): RmProtocolError {
  return new RmProtocolError('FIELD_OUT_OF_RANGE', `${what}: ${detail}`);
}

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

// ------------------------------------------------------------------------------------------------
// Building blocks (spec §4.1)

/** An ACL entry: a VM and its rights (spec §4.1, 4 bytes). */
export interface AclEntry {
  /** VMID granted access. */
  readonly vmid: number;
  /** Rights bits: X 1, W 2, R 4 ({@link RM_ACL_RIGHTS}). */
  readonly rights: number;
}

/** A memory (SGL) entry: address and size (spec §4.1, 16 bytes). */
export interface SglEntry {
  /** Owner's IPA (for VM_SET_DEMAND_PAGING: guest physical address). */
  readonly address: bigint;
  /** Size in bytes. */
  readonly size: bigint;
}

/** A memory-attribute entry (spec §4.1, 4 bytes). */
export interface AttrEntry {
  /** Attribute ({@link RM_MEM_ATTR}). */
  readonly attr: number;
  /** VMID the attribute applies to. */
  readonly vmid: number;
}

/** An empty payload. */
export type EmptyPayload = Readonly<Record<never, never>>;

/** Bytes whose layout the spec does not give (UNCONFIRMED payloads, spec §9 item 4). */
export interface RawPayload {
  /** The payload bytes, uninterpreted. */
  readonly data: Uint8Array;
}

/** Payload holding one VMID: u16 vmid, u16 reserved (spec §4.1 "common VMID request"). */
export interface VmidPayload {
  /** The VMID (0 means "self" for some requests). */
  readonly vmid: number;
}

/** Payload holding one memparcel or IRQ handle (u32). */
export interface HandlePayload {
  /** The handle. */
  readonly handle: number;
}

/** A reply holding a list of VMIDs. */
export interface VmidListPayload {
  /** The VMIDs. */
  readonly vmids: readonly number[];
}

function writeAcl(w: PayloadWriter, acl: readonly AclEntry[]): void {
  w.u16(acl.length, 'ACL count').zeros(2);
  for (const e of acl) w.u16(e.vmid, 'ACL vmid').u8(e.rights, 'ACL rights').zeros(1);
}

function writeSglEntries(w: PayloadWriter, sgl: readonly SglEntry[]): void {
  for (const e of sgl) w.u64(e.address, 'SGL address').u64(e.size, 'SGL size');
}

function writeSgl(w: PayloadWriter, sgl: readonly SglEntry[]): void {
  w.u16(sgl.length, 'SGL count').zeros(2);
  writeSglEntries(w, sgl);
}

function writeAttrs(w: PayloadWriter, attrs: readonly AttrEntry[]): void {
  w.u16(attrs.length, 'attr count').zeros(2);
  for (const e of attrs) w.u16(e.attr, 'attr').u16(e.vmid, 'attr vmid');
}

function readAclEntries(r: PayloadReader, n: number): AclEntry[] {
  const out: AclEntry[] = [];
  for (let i = 0; i < n; i++) {
    const vmid = r.u16('ACL vmid');
    const rights = r.u8('ACL rights');
    r.reserved(1, 'ACL reserved');
    out.push({ vmid, rights });
  }
  return out;
}

function readSglEntries(r: PayloadReader, n: number): SglEntry[] {
  const out: SglEntry[] = [];
  for (let i = 0; i < n; i++) out.push({ address: r.u64('SGL address'), size: r.u64('SGL size') });
  return out;
}

function readAttrEntries(r: PayloadReader, n: number): AttrEntry[] {
  const out: AttrEntry[] = [];
  for (let i = 0; i < n; i++) out.push({ attr: r.u16('attr'), vmid: r.u16('attr vmid') });
  return out;
}

/** RM's list reader: a list that would start exactly at the end of the payload is empty (§4.1). */
function readAcl(r: PayloadReader): AclEntry[] {
  if (r.remaining === 0) return [];
  const n = r.u16('ACL count');
  r.reserved(2, 'ACL reserved');
  return readAclEntries(r, r.count(n, 4, 'ACL count'));
}

function readSgl(r: PayloadReader): SglEntry[] {
  if (r.remaining === 0) return [];
  const n = r.u16('SGL count');
  r.reserved(2, 'SGL reserved');
  return readSglEntries(r, r.count(n, 16, 'SGL count'));
}

function readAttrs(r: PayloadReader): AttrEntry[] {
  if (r.remaining === 0) return [];
  const n = r.u16('attr count');
  r.reserved(2, 'attr reserved');
  return readAttrEntries(r, r.count(n, 4, 'attr count'));
}

function rawCodec(name: string): PayloadCodec<RawPayload> {
  return {
    name,
    encode: (v) => v.data.slice(),
    decode: (p) => ({ data: p.slice() }),
  };
}

/** Empty payload codec. */
export const EMPTY: PayloadCodec<EmptyPayload> = codec<EmptyPayload>(
  'empty payload',
  () => undefined,
  () => ({}),
);

/** Codec for a payload of unknown layout: keeps the bytes. */
export const RAW: PayloadCodec<RawPayload> = rawCodec('raw payload');

/** Common VMID request: u16 vmid, u16 reserved 0 (spec §4.1). */
export const VMID_PAYLOAD: PayloadCodec<VmidPayload> = codec<VmidPayload>(
  'VMID payload',
  (w, v) => w.u16(v.vmid, 'vmid').zeros(2),
  (r) => {
    const vmid = r.u16('vmid');
    r.reserved(2, 'reserved');
    return { vmid };
  },
);

/** A u32 VMID (VM_GET_VMID, VM_GET_OWNER replies; spec §4.2). */
export const U32_VMID: PayloadCodec<VmidPayload> = codec<VmidPayload>(
  'u32 VMID',
  (w, v) => w.u32(v.vmid, 'vmid'),
  (r) => ({ vmid: r.u32('vmid') }),
);

/** A u32 handle (memparcel or IRQ). */
export const HANDLE_PAYLOAD: PayloadCodec<HandlePayload> = codec<HandlePayload>(
  'handle',
  (w, v) => w.u32(v.handle, 'handle'),
  (r) => ({ handle: r.u32('handle') }),
);

// ------------------------------------------------------------------------------------------------
// Memory parcels (spec §4.3)

/** MEM_LEND / MEM_SHARE / MEM_DONATE request (spec §4.3), 20 + 4a + 16s + 4t bytes. */
export interface MemParcelCreateRequest {
  /** 0 normal, 1 IO ({@link RM_MEM_TYPE}). */
  readonly memType: number;
  /** Bit 0 SANITIZE, bit 1 APPEND ({@link RM_MEM_FLAGS}). */
  readonly flags: number;
  /** Client-chosen u32 label. */
  readonly label: number;
  /** Access-control list (RM: 1…512 entries). */
  readonly acl: readonly AclEntry[];
  /** Memory entries (RM: 1…512). */
  readonly sgl: readonly SglEntry[];
  /** Memory attributes (Linux: none). */
  readonly attrs: readonly AttrEntry[];
}

/** MEM_LEND/SHARE/DONATE request codec. A missing trailing list decodes as empty (RM rule, §4.1). */
export const MEM_PARCEL_CREATE: PayloadCodec<MemParcelCreateRequest> = codec<MemParcelCreateRequest>(
  'memparcel create request',
  (w, v) => {
    w.u8(v.memType, 'mem_type').zeros(1).u8(v.flags, 'flags').zeros(1).u32(v.label, 'label');
    writeAcl(w, v.acl);
    writeSgl(w, v.sgl);
    writeAttrs(w, v.attrs);
  },
  (r) => {
    const memType = r.u8('mem_type');
    r.reserved(1, 'reserved');
    const flags = r.u8('flags');
    r.reserved(1, 'reserved');
    const label = r.u32('label');
    const acl = readAcl(r);
    const sgl = readSgl(r);
    const attrs = readAttrs(r);
    return { memType, flags, label, acl, sgl, attrs };
  },
  (v) => 20 + 4 * v.acl.length + 16 * v.sgl.length + 4 * v.attrs.length,
);

/** MEM_ACCEPT request (spec §4.3). */
export interface MemAcceptRequest {
  /** Memparcel handle. */
  readonly handle: number;
  /** Expected mem_type. */
  readonly memType: number;
  /** Transaction type: 0 donate, 1 lend, 2 share ({@link RM_TRANS_TYPE}). */
  readonly transType: number;
  /** Accept flags ({@link RM_MEM_ACCEPT_FLAGS}). */
  readonly flags: number;
  /** Expected label. */
  readonly label: number;
  /** ACL to validate. */
  readonly acl: readonly AclEntry[];
  /** Where to map; empty lets RM pick addresses (the reply then lists them). */
  readonly sgl: readonly SglEntry[];
  /** VM to map into (with MAP_OTHER); shares the SGL list's second half-word. */
  readonly mapVmid: number;
  /** Attributes to validate. */
  readonly attrs: readonly AttrEntry[];
}

/** MEM_ACCEPT request codec. */
export const MEM_ACCEPT_REQUEST: PayloadCodec<MemAcceptRequest> = codec<MemAcceptRequest>(
  'MEM_ACCEPT request',
  (w, v) => {
    w.u32(v.handle, 'handle').u8(v.memType, 'mem_type').u8(v.transType, 'trans_type').u8(v.flags, 'flags');
    w.zeros(1).u32(v.label, 'label');
    writeAcl(w, v.acl);
    w.u16(v.sgl.length, 'SGL count').u16(v.mapVmid, 'map_vmid');
    writeSglEntries(w, v.sgl);
    writeAttrs(w, v.attrs);
  },
  (r) => {
    const handle = r.u32('handle');
    const memType = r.u8('mem_type');
    const transType = r.u8('trans_type');
    const flags = r.u8('flags');
    r.reserved(1, 'reserved');
    const label = r.u32('label');
    const acl = readAcl(r);
    let sgl: SglEntry[] = [];
    let mapVmid = 0;
    if (r.remaining !== 0) {
      const n = r.u16('SGL count');
      mapVmid = r.u16('map_vmid');
      sgl = readSglEntries(r, r.count(n, 16, 'SGL count'));
    }
    const attrs = readAttrs(r);
    return { handle, memType, transType, flags, label, acl, sgl, mapVmid, attrs };
  },
  64,
);

/** MEM_ACCEPT reply: addresses chosen by RM, or nothing (spec §4.3). */
export interface MemAcceptReply {
  /** Entries RM mapped when the request had no SGL; `null` for a standard reply. */
  readonly sgl: readonly SglEntry[] | null;
  /** Reply flags; bit 0 = incomplete (0 when `sgl` is null). */
  readonly flags: number;
}

/** MEM_ACCEPT reply codec. */
export const MEM_ACCEPT_REPLY: PayloadCodec<MemAcceptReply> = codec<MemAcceptReply>(
  'MEM_ACCEPT reply',
  (w, v) => {
    if (v.sgl === null) {
      if (v.flags !== 0) throw outOfRange('MEM_ACCEPT reply', 'flags need an SGL');
      return;
    }
    w.u16(v.sgl.length, 'SGL count').u8(v.flags, 'flags').zeros(1);
    writeSglEntries(w, v.sgl);
  },
  (r) => {
    if (r.remaining === 0) return { sgl: null, flags: 0 };
    const n = r.u16('SGL count');
    const flags = r.u8('flags');
    r.reserved(1, 'reserved');
    return { sgl: readSglEntries(r, r.count(n, 16, 'SGL count')), flags };
  },
);

/** MEM_RECLAIM / MEM_RELEASE request (8 bytes, spec §4.3). */
export interface MemReclaimRequest {
  /** Memparcel handle. */
  readonly handle: number;
  /** Bit 0 SANITIZE (Linux: 0). */
  readonly flags: number;
}

/** MEM_RECLAIM / MEM_RELEASE request codec. */
export const MEM_RECLAIM_REQUEST: PayloadCodec<MemReclaimRequest> = codec<MemReclaimRequest>(
  'MEM_RECLAIM/RELEASE request',
  (w, v) => w.u32(v.handle, 'handle').u8(v.flags, 'flags').zeros(3),
  (r) => {
    const handle = r.u32('handle');
    const flags = r.u8('flags');
    r.reserved(3, 'reserved');
    return { handle, flags };
  },
);

/** MEM_NOTIFY request (spec §4.3). */
export interface MemNotifyRequest {
  /** Memparcel handle. */
  readonly handle: number;
  /** One of SHARED 1, RELEASED 2, ACCEPTED 4, RECALL 8 ({@link RM_MEM_NOTIFY_FLAGS}). */
  readonly flags: number;
  /** Tag passed to the notified VMs. */
  readonly memInfoTag: number;
  /** VMs to notify: present (≥ 1 for RM) with SHARED or RECALL, empty otherwise. */
  readonly vmids: readonly number[];
}

const NOTIFY_LIST_FLAGS = RM_MEM_NOTIFY_FLAGS.SHARED | RM_MEM_NOTIFY_FLAGS.RECALL;

/** MEM_NOTIFY request codec; the VMID list is present iff SHARED or RECALL is set. */
export const MEM_NOTIFY_REQUEST: PayloadCodec<MemNotifyRequest> = codec<MemNotifyRequest>(
  'MEM_NOTIFY request',
  (w, v) => {
    w.u32(v.handle, 'handle').u8(v.flags, 'flags').zeros(3).u32(v.memInfoTag, 'mem_info_tag');
    if ((v.flags & NOTIFY_LIST_FLAGS) !== 0) {
      w.u16(v.vmids.length, 'VMID count').zeros(2);
      for (const vmid of v.vmids) w.u16(vmid, 'vmid').zeros(2);
    } else if (v.vmids.length !== 0) {
      throw outOfRange('MEM_NOTIFY request', 'a VMID list needs the SHARED or RECALL flag');
    }
  },
  (r) => {
    const handle = r.u32('handle');
    const flags = r.u8('flags');
    r.reserved(3, 'reserved');
    const memInfoTag = r.u32('mem_info_tag');
    const vmids: number[] = [];
    if ((flags & NOTIFY_LIST_FLAGS) !== 0) {
      const n = r.count(r.u16('VMID count'), 4, 'VMID count');
      r.reserved(2, 'reserved');
      for (let i = 0; i < n; i++) {
        vmids.push(r.u16('vmid'));
        r.reserved(2, 'reserved');
      }
    }
    return { handle, flags, memInfoTag, vmids };
  },
);

/** MEM_APPEND request (spec §4.3). */
export interface MemAppendRequest {
  /** Memparcel handle (created with APPEND). */
  readonly handle: number;
  /** Bit 0 END: last batch. */
  readonly flags: number;
  /** Further memory entries. */
  readonly sgl: readonly SglEntry[];
}

/** MEM_APPEND request codec. */
export const MEM_APPEND_REQUEST: PayloadCodec<MemAppendRequest> = codec<MemAppendRequest>(
  'MEM_APPEND request',
  (w, v) => {
    w.u32(v.handle, 'handle').u8(v.flags, 'flags').zeros(3);
    writeSgl(w, v.sgl);
  },
  (r) => {
    const handle = r.u32('handle');
    const flags = r.u8('flags');
    r.reserved(3, 'reserved');
    const n = r.u16('SGL count');
    r.reserved(2, 'reserved');
    return { handle, flags, sgl: readSglEntries(r, r.count(n, 16, 'SGL count')) };
  },
  (v) => 12 + 16 * v.sgl.length,
);

/** MEM_QCOM_LOOKUP_SGL request (spec §4.3). */
export interface MemLookupSglRequest {
  /** mem_type. */
  readonly memType: number;
  /** Label. */
  readonly label: number;
  /** ACL. */
  readonly acl: readonly AclEntry[];
  /** Memory entries. */
  readonly sgl: readonly SglEntry[];
  /** Attributes (optional on the wire: a missing list decodes as empty). */
  readonly attrs: readonly AttrEntry[];
}

/** MEM_QCOM_LOOKUP_SGL request codec (always encodes the attribute list). */
export const MEM_LOOKUP_SGL_REQUEST: PayloadCodec<MemLookupSglRequest> = codec<MemLookupSglRequest>(
  'MEM_QCOM_LOOKUP_SGL request',
  (w, v) => {
    w.u8(v.memType, 'mem_type').zeros(3).u32(v.label, 'label');
    writeAcl(w, v.acl);
    writeSgl(w, v.sgl);
    writeAttrs(w, v.attrs);
  },
  (r) => {
    const memType = r.u8('mem_type');
    r.reserved(3, 'reserved');
    const label = r.u32('label');
    return { memType, label, acl: readAcl(r), sgl: readSgl(r), attrs: readAttrs(r) };
  },
  64,
);

/** FW_SET_VM_FIRMWARE request (24 bytes, spec §4.6). */
export interface FwSetVmFirmwareRequest {
  /** Authentication type. */
  readonly authType: number;
  /** Memparcel handle. */
  readonly handle: number;
  /** Image offset within the parcel. */
  readonly imageOffset: bigint;
  /** Image size. */
  readonly imageSize: bigint;
}

/** FW_SET_VM_FIRMWARE request codec. */
export const FW_SET_VM_FIRMWARE_REQUEST: PayloadCodec<FwSetVmFirmwareRequest> = codec<FwSetVmFirmwareRequest>(
  'FW_SET_VM_FIRMWARE request',
  (w, v) =>
    w.u16(v.authType, 'auth_type').zeros(2).u32(v.handle, 'handle').u64(v.imageOffset, 'image_offset').u64(v.imageSize, 'image_size'),
  (r) => {
    const authType = r.u16('auth_type');
    r.reserved(2, 'reserved');
    return { authType, handle: r.u32('handle'), imageOffset: r.u64('image_offset'), imageSize: r.u64('image_size') };
  },
);

// ------------------------------------------------------------------------------------------------
// VM management (spec §4.2)

/** VM_ALLOC_VMID reply: the allocated VMID, or `null` when a specific VMID was requested. */
export interface VmAllocVmidReply {
  /** Dynamic VMID (u32 on the wire), or `null` for a standard reply. */
  readonly vmid: number | null;
}

/** VM_ALLOC_VMID reply codec (u32 vmid, or empty). */
export const VM_ALLOC_VMID_REPLY: PayloadCodec<VmAllocVmidReply> = codec<VmAllocVmidReply>(
  'VM_ALLOC_VMID reply',
  (w, v) => {
    if (v.vmid !== null) w.u32(v.vmid, 'vmid');
  },
  (r) => ({ vmid: r.remaining === 0 ? null : r.u32('vmid') }),
);

/** VM_STOP request (8 bytes, spec §4.2). */
export interface VmStopRequest {
  /** Target VMID. */
  readonly vmid: number;
  /** Bit 0 FORCE ({@link RM_STOP_FLAGS}). */
  readonly flags: number;
  /** Stop reason (Linux: 3, force stop). */
  readonly stopReason: number;
}

/** VM_STOP request codec. */
export const VM_STOP_REQUEST: PayloadCodec<VmStopRequest> = codec<VmStopRequest>(
  'VM_STOP request',
  (w, v) => w.u16(v.vmid, 'vmid').u8(v.flags, 'flags').zeros(1).u32(v.stopReason, 'stop_reason'),
  (r) => {
    const vmid = r.u16('vmid');
    const flags = r.u8('flags');
    r.reserved(1, 'reserved');
    return { vmid, flags, stopReason: r.u32('stop_reason') };
  },
);

/** VM_CONFIG_IMAGE request (40 bytes, spec §4.2). */
export interface VmConfigImageRequest {
  /** Target VMID. */
  readonly vmid: number;
  /** 0 NONE, 1 PLATFORM, 2 ANDROID ({@link RM_AUTH}). */
  readonly authMechanism: number;
  /** Memparcel holding image and DTB. */
  readonly handle: number;
  /** Image offset in the parcel. */
  readonly imageOffset: bigint;
  /** Image size. */
  readonly imageSize: bigint;
  /** DTB offset in the parcel. */
  readonly dtbOffset: bigint;
  /** DTB region size (RM writes the overlaid DTB back in place). */
  readonly dtbSize: bigint;
}

/** VM_CONFIG_IMAGE request codec. */
export const VM_CONFIG_IMAGE_REQUEST: PayloadCodec<VmConfigImageRequest> = codec<VmConfigImageRequest>(
  'VM_CONFIG_IMAGE request',
  (w, v) =>
    w
      .u16(v.vmid, 'vmid')
      .u16(v.authMechanism, 'auth')
      .u32(v.handle, 'handle')
      .u64(v.imageOffset, 'image_offset')
      .u64(v.imageSize, 'image_size')
      .u64(v.dtbOffset, 'dtb_offset')
      .u64(v.dtbSize, 'dtb_size'),
  (r) => ({
    vmid: r.u16('vmid'),
    authMechanism: r.u16('auth'),
    handle: r.u32('handle'),
    imageOffset: r.u64('image_offset'),
    imageSize: r.u64('image_size'),
    dtbOffset: r.u64('dtb_offset'),
    dtbSize: r.u64('dtb_size'),
  }),
  40,
);

/** One VM_AUTH_IMAGE parameter. */
export interface AuthParam {
  /** Parameter type. */
  readonly type: number;
  /** Parameter value. */
  readonly value: number;
}

/** VM_AUTH_IMAGE request (spec §4.2). */
export interface VmAuthImageRequest {
  /** Target VMID. */
  readonly vmid: number;
  /** Parameters. */
  readonly params: readonly AuthParam[];
}

/** VM_AUTH_IMAGE request codec. */
export const VM_AUTH_IMAGE_REQUEST: PayloadCodec<VmAuthImageRequest> = codec<VmAuthImageRequest>(
  'VM_AUTH_IMAGE request',
  (w, v) => {
    w.u16(v.vmid, 'vmid').u16(v.params.length, 'n_params');
    for (const p of v.params) w.u32(p.type, 'param_type').u32(p.value, 'param_value');
  },
  (r) => {
    const vmid = r.u16('vmid');
    const n = r.count(r.u16('n_params'), 8, 'n_params');
    const params: AuthParam[] = [];
    for (let i = 0; i < n; i++) params.push({ type: r.u32('param_type'), value: r.u32('param_value') });
    return { vmid, params };
  },
);

/** One VM identity of a VM_GET_ID reply. */
export interface VmIdentity {
  /** 0 GUID, 1 URI, 2 NAME, 3 SIGN_AUTH ({@link RM_VM_ID_TYPE}). */
  readonly type: number;
  /** Identity bytes (without the zero padding). */
  readonly data: Uint8Array;
}

/** VM_GET_ID reply (spec §4.2). */
export interface VmGetIdReply {
  /** Identities in RM order. */
  readonly ids: readonly VmIdentity[];
}

/** VM_GET_ID reply codec: u32 n, then {u8 type, u8 0, u16 size, bytes padded to 4}. */
export const VM_GET_ID_REPLY: PayloadCodec<VmGetIdReply> = codec<VmGetIdReply>(
  'VM_GET_ID reply',
  (w, v) => {
    w.u32(v.ids.length, 'n_entries');
    for (const id of v.ids) w.u8(id.type, 'id_type').zeros(1).u16(id.data.byteLength, 'id_size').bytes(id.data).pad4();
  },
  (r) => {
    const n = r.count(r.u32('n_entries'), 4, 'n_entries');
    const ids: VmIdentity[] = [];
    for (let i = 0; i < n; i++) {
      const type = r.u8('id_type');
      r.reserved(1, 'reserved');
      const size = r.u16('id_size');
      ids.push({ type, data: r.bytesCopy(size, 'id bytes') });
      r.pad4('id padding');
    }
    return { ids };
  },
);

/** VM_LOOKUP_URI / VM_LOOKUP_NAME request (spec §4.2). */
export interface VmLookupStringRequest {
  /** URI or name (UTF-8; RM accepts up to 79 bytes). */
  readonly value: string;
}

/** VM_LOOKUP_URI / VM_LOOKUP_NAME codec: u16 length, u16 0, bytes, zero padding to 4. */
export const VM_LOOKUP_STRING_REQUEST: PayloadCodec<VmLookupStringRequest> = codec<VmLookupStringRequest>(
  'VM_LOOKUP_URI/NAME request',
  (w, v) => {
    const bytes = utf8.encode(v.value);
    w.u16(bytes.byteLength, 'length').zeros(2).bytes(bytes).pad4();
  },
  (r) => {
    const n = r.u16('length');
    r.reserved(2, 'reserved');
    const bytes = r.bytesCopy(n, 'string');
    r.pad4('padding');
    try {
      return { value: utf8Strict.decode(bytes) };
    } catch (cause) {
      throw new RmProtocolError('FIELD_OUT_OF_RANGE', 'VM_LOOKUP_URI/NAME request: string is not UTF-8', { cause });
    }
  },
);

/** VM_LOOKUP_GUID request: exactly 16 bytes. */
export interface VmLookupGuidRequest {
  /** The 16 GUID bytes. */
  readonly guid: Uint8Array;
}

/** VM_LOOKUP_GUID request codec. */
export const VM_LOOKUP_GUID_REQUEST: PayloadCodec<VmLookupGuidRequest> = codec<VmLookupGuidRequest>(
  'VM_LOOKUP_GUID request',
  (w, v) => {
    if (v.guid.byteLength !== 16) throw outOfRange('VM_LOOKUP_GUID request', 'a GUID has 16 bytes');
    w.bytes(v.guid);
  },
  (r) => ({ guid: r.bytesCopy(16, 'guid') }),
);

/** VM_LOOKUP_* reply codec: u32 count, count × {u16 vmid, u16 0}. */
export const VM_LOOKUP_REPLY: PayloadCodec<VmidListPayload> = codec<VmidListPayload>(
  'VM_LOOKUP reply',
  (w, v) => {
    w.u32(v.vmids.length, 'count');
    for (const vmid of v.vmids) w.u16(vmid, 'vmid').zeros(2);
  },
  (r) => {
    const n = r.count(r.u32('count'), 4, 'count');
    const vmids: number[] = [];
    for (let i = 0; i < n; i++) {
      vmids.push(r.u16('vmid'));
      r.reserved(2, 'reserved');
    }
    return { vmids };
  },
);

/** VM_GET_PEERS reply codec: u32 count, count × u32 vmid. */
export const VM_GET_PEERS_REPLY: PayloadCodec<VmidListPayload> = codec<VmidListPayload>(
  'VM_GET_PEERS reply',
  (w, v) => {
    w.u32(v.vmids.length, 'count');
    for (const vmid of v.vmids) w.u32(vmid, 'vmid');
  },
  (r) => {
    const n = r.count(r.u32('count'), 4, 'count');
    const vmids: number[] = [];
    for (let i = 0; i < n; i++) vmids.push(r.u32('vmid'));
    return { vmids };
  },
);

/** VM state triple: VM_GET_STATE reply, VM_SET_STATUS request (spec §4.2). */
export interface VmStatePayload {
  /** VM status ({@link RM_VM_STATUS}); ignored by RM in VM_SET_STATUS. */
  readonly vmStatus: number;
  /** OS status ({@link RM_OS_STATUS}). */
  readonly osStatus: number;
  /** Application status. */
  readonly appStatus: number;
}

/** VM_GET_STATE reply / VM_SET_STATUS request codec: u8 vm, u8 os, u16 app. */
export const VM_STATE_PAYLOAD: PayloadCodec<VmStatePayload> = codec<VmStatePayload>(
  'VM state',
  (w, v) => w.u8(v.vmStatus, 'vm_status').u8(v.osStatus, 'os_status').u16(v.appStatus, 'app_status'),
  (r) => ({ vmStatus: r.u8('vm_status'), osStatus: r.u8('os_status'), appStatus: r.u16('app_status') }),
);

/** A crash message (VM_GET_CRASH_MSG reply, VM_SET_CRASH_MSG request). */
export interface CrashMsgPayload {
  /** Message bytes (RM keeps at most 192). */
  readonly message: Uint8Array;
}

/** Crash message codec: u16 length, u16 0, bytes, zero padding to 4. */
export const CRASH_MSG_PAYLOAD: PayloadCodec<CrashMsgPayload> = codec<CrashMsgPayload>(
  'crash message',
  (w, v) => w.u16(v.message.byteLength, 'length').zeros(2).bytes(v.message).pad4(),
  (r) => {
    const n = r.u16('length');
    r.reserved(2, 'reserved');
    const message = r.bytesCopy(n, 'message');
    r.pad4('padding');
    return { message };
  },
);

/** One 44-byte VM_GET_HYP_RESOURCES entry (spec §4.2). */
export interface HypResource {
  /** Resource type ({@link RM_RESOURCE_TYPE}). */
  readonly type: number;
  /** Partner VMID. */
  readonly partnerVmid: number;
  /** Resource handle. */
  readonly resourceHandle: number;
  /** Resource label (vCPU: affinity index). */
  readonly resourceLabel: number;
  /** Capability ID. */
  readonly capId: bigint;
  /** VIRQ handle. */
  readonly virqHandle: number;
  /** VIRQ number (0 = none). */
  readonly virq: number;
  /** Base IPA. */
  readonly base: bigint;
  /** Size. */
  readonly size: bigint;
}

/** VM_GET_HYP_RESOURCES reply. */
export interface VmGetHypResourcesReply {
  /** The resources. */
  readonly resources: readonly HypResource[];
}

/** Size of one hypervisor-resource entry. */
export const HYP_RESOURCE_SIZE = 44;

/** VM_GET_HYP_RESOURCES reply codec: u32 n, n × 44 bytes; the size must match exactly. */
export const VM_GET_HYP_RESOURCES_REPLY: PayloadCodec<VmGetHypResourcesReply> = codec<VmGetHypResourcesReply>(
  'VM_GET_HYP_RESOURCES reply',
  (w, v) => {
    w.u32(v.resources.length, 'n_entries');
    for (const e of v.resources) {
      w.u8(e.type, 'type').zeros(1).u16(e.partnerVmid, 'partner_vmid');
      w.u32(e.resourceHandle, 'resource_handle').u32(e.resourceLabel, 'resource_label').u64(e.capId, 'cap_id');
      w.u32(e.virqHandle, 'virq_handle').u32(e.virq, 'virq').u64(e.base, 'base').u64(e.size, 'size');
    }
  },
  (r) => {
    const n = r.count(r.u32('n_entries'), HYP_RESOURCE_SIZE, 'n_entries');
    const resources: HypResource[] = [];
    for (let i = 0; i < n; i++) {
      const type = r.u8('type');
      r.reserved(1, 'reserved');
      resources.push({
        type,
        partnerVmid: r.u16('partner_vmid'),
        resourceHandle: r.u32('resource_handle'),
        resourceLabel: r.u32('resource_label'),
        capId: r.u64('cap_id'),
        virqHandle: r.u32('virq_handle'),
        virq: r.u32('virq'),
        base: r.u64('base'),
        size: r.u64('size'),
      });
    }
    return { resources };
  },
  (v) => 4 + HYP_RESOURCE_SIZE * v.resources.length,
);

/** VM_SET_TIME_BASE request (20 bytes). */
export interface VmSetTimeBaseRequest {
  /** Target VMID (0 = self). */
  readonly vmid: number;
  /** Time base. */
  readonly timeBase: bigint;
  /** System-timer reference. */
  readonly sysTimerRef: bigint;
}

/** VM_SET_TIME_BASE request codec. */
export const VM_SET_TIME_BASE_REQUEST: PayloadCodec<VmSetTimeBaseRequest> = codec<VmSetTimeBaseRequest>(
  'VM_SET_TIME_BASE request',
  (w, v) => w.u16(v.vmid, 'vmid').zeros(2).u64(v.timeBase, 'time_base').u64(v.sysTimerRef, 'sys_timer_ref'),
  (r) => {
    const vmid = r.u16('vmid');
    r.reserved(2, 'reserved');
    return { vmid, timeBase: r.u64('time_base'), sysTimerRef: r.u64('sys_timer_ref') };
  },
);

/** VM_SET_BOOT_CONTEXT request (16 bytes, spec §4.2). */
export interface VmSetBootContextRequest {
  /** Target VMID. */
  readonly vmid: number;
  /** 0 X, 1 PC, 2 SP ({@link RM_BOOT_REG_SET}). */
  readonly regSet: number;
  /** Register index within the set. */
  readonly regIndex: number;
  /** Register value. */
  readonly value: bigint;
}

/** VM_SET_BOOT_CONTEXT request codec. */
export const VM_SET_BOOT_CONTEXT_REQUEST: PayloadCodec<VmSetBootContextRequest> = codec<VmSetBootContextRequest>(
  'VM_SET_BOOT_CONTEXT request',
  (w, v) => w.u16(v.vmid, 'vmid').u8(v.regSet, 'reg_set').u8(v.regIndex, 'reg_index').zeros(4).u64(v.value, 'value'),
  (r) => {
    const vmid = r.u16('vmid');
    const regSet = r.u8('reg_set');
    const regIndex = r.u8('reg_index');
    r.reserved(4, 'reserved');
    return { vmid, regSet, regIndex, value: r.u64('value') };
  },
);

/** VM_SET_FIRMWARE_MEM request (24 bytes). */
export interface VmSetFirmwareMemRequest {
  /** Target VMID. */
  readonly vmid: number;
  /** Memparcel holding the firmware. */
  readonly handle: number;
  /** Firmware offset within the parcel. */
  readonly fwOffset: bigint;
  /** Firmware size. */
  readonly fwSize: bigint;
}

/** VM_SET_FIRMWARE_MEM request codec. */
export const VM_SET_FIRMWARE_MEM_REQUEST: PayloadCodec<VmSetFirmwareMemRequest> = codec<VmSetFirmwareMemRequest>(
  'VM_SET_FIRMWARE_MEM request',
  (w, v) => w.u16(v.vmid, 'vmid').zeros(2).u32(v.handle, 'handle').u64(v.fwOffset, 'fw_offset').u64(v.fwSize, 'fw_size'),
  (r) => {
    const vmid = r.u16('vmid');
    r.reserved(2, 'reserved');
    return { vmid, handle: r.u32('handle'), fwOffset: r.u64('fw_offset'), fwSize: r.u64('fw_size') };
  },
);

/** VM_SET_DEMAND_PAGING request (spec §4.2). */
export interface VmSetDemandPagingRequest {
  /** Target VMID. */
  readonly vmid: number;
  /** Lent regions: guest physical address and size. */
  readonly ranges: readonly SglEntry[];
}

/** VM_SET_DEMAND_PAGING request codec: u16 vmid, u16 0, u32 count, count × 16 bytes. */
export const VM_SET_DEMAND_PAGING_REQUEST: PayloadCodec<VmSetDemandPagingRequest> = codec<VmSetDemandPagingRequest>(
  'VM_SET_DEMAND_PAGING request',
  (w, v) => {
    w.u16(v.vmid, 'vmid').zeros(2).u32(v.ranges.length, 'range_count');
    writeSglEntries(w, v.ranges);
  },
  (r) => {
    const vmid = r.u16('vmid');
    r.reserved(2, 'reserved');
    const n = r.count(r.u32('range_count'), 16, 'range_count');
    return { vmid, ranges: readSglEntries(r, n) };
  },
);

/** VM_SET_ADDRESS_LAYOUT request (24 bytes). */
export interface VmSetAddressLayoutRequest {
  /** Target VMID. */
  readonly vmid: number;
  /** 0 IMAGE, 1 FIRMWARE ({@link RM_RANGE_ID}). */
  readonly rangeId: number;
  /** Range base (guest PA). */
  readonly base: bigint;
  /** Range size. */
  readonly size: bigint;
}

/** VM_SET_ADDRESS_LAYOUT request codec. */
export const VM_SET_ADDRESS_LAYOUT_REQUEST: PayloadCodec<VmSetAddressLayoutRequest> = codec<VmSetAddressLayoutRequest>(
  'VM_SET_ADDRESS_LAYOUT request',
  (w, v) => w.u16(v.vmid, 'vmid').zeros(2).u32(v.rangeId, 'range_id').u64(v.base, 'range_base').u64(v.size, 'range_size'),
  (r) => {
    const vmid = r.u16('vmid');
    r.reserved(2, 'reserved');
    return { vmid, rangeId: r.u32('range_id'), base: r.u64('range_base'), size: r.u64('range_size') };
  },
);

/** VM_EXIT request (4 bytes): the guest asks to exit. */
export interface VmExitRequest {
  /** Exit flags (bit 0 RESTART). */
  readonly exitFlags: number;
  /** Exit code ({@link RM_EXIT_CODE}; RM rejects 2). */
  readonly exitCode: number;
}

/** VM_EXIT request codec. */
export const VM_EXIT_REQUEST: PayloadCodec<VmExitRequest> = codec<VmExitRequest>(
  'VM_EXIT request',
  (w, v) => w.u16(v.exitFlags, 'exit_flags').u8(v.exitCode, 'exit_code').zeros(1),
  (r) => {
    const exitFlags = r.u16('exit_flags');
    const exitCode = r.u8('exit_code');
    r.reserved(1, 'reserved');
    return { exitFlags, exitCode };
  },
);

/** VM_HOST_GET_TYPE reply. */
export interface VmHostGetTypeReply {
  /** Host type word ({@link RM_HOST_TYPE_GUNYAH_AARCH64}). */
  readonly hostType: number;
}

/** VM_HOST_GET_TYPE reply codec. */
export const VM_HOST_GET_TYPE_REPLY: PayloadCodec<VmHostGetTypeReply> = codec<VmHostGetTypeReply>(
  'VM_HOST_GET_TYPE reply',
  (w, v) => w.u32(v.hostType, 'host_type'),
  (r) => ({ hostType: r.u32('host_type') }),
);

/** VM_CONSOLE_WRITE request and VM_CONSOLE_CHARS notification. */
export interface ConsoleCharsPayload {
  /** Target VMID (write) or sender VMID (chars). */
  readonly vmid: number;
  /** Characters. */
  readonly data: Uint8Array;
}

/** Console bytes codec: u16 vmid, u16 num_bytes, bytes; no padding (length = 4 + n exactly). */
export const CONSOLE_CHARS_PAYLOAD: PayloadCodec<ConsoleCharsPayload> = codec<ConsoleCharsPayload>(
  'console characters',
  (w, v) => w.u16(v.vmid, 'vmid').u16(v.data.byteLength, 'num_bytes').bytes(v.data),
  (r) => {
    const vmid = r.u16('vmid');
    const n = r.u16('num_bytes');
    return { vmid, data: r.bytesCopy(n, 'bytes') };
  },
);

// ------------------------------------------------------------------------------------------------
// IRQ lending (spec §4.4)

/** VM_IRQ_LEND request (12 bytes). */
export interface VmIrqLendRequest {
  /** Borrower VMID. */
  readonly borrowerVmid: number;
  /** The owner's VIRQ number. */
  readonly virq: number;
  /** Label. */
  readonly label: number;
}

/** VM_IRQ_LEND request codec. */
export const VM_IRQ_LEND_REQUEST: PayloadCodec<VmIrqLendRequest> = codec<VmIrqLendRequest>(
  'VM_IRQ_LEND request',
  (w, v) => w.u16(v.borrowerVmid, 'borrower_vmid').zeros(2).u32(v.virq, 'virq').u32(v.label, 'label'),
  (r) => {
    const borrowerVmid = r.u16('borrower_vmid');
    r.reserved(2, 'reserved');
    return { borrowerVmid, virq: r.u32('virq'), label: r.u32('label') };
  },
);

/** VM_IRQ_ACCEPT request (8 bytes). */
export interface VmIrqAcceptRequest {
  /** IRQ handle. */
  readonly handle: number;
  /** Wanted VIRQ, 0xFFFFFFFF to let RM pick. */
  readonly virq: number;
}

/** VM_IRQ_ACCEPT request codec. */
export const VM_IRQ_ACCEPT_REQUEST: PayloadCodec<VmIrqAcceptRequest> = codec<VmIrqAcceptRequest>(
  'VM_IRQ_ACCEPT request',
  (w, v) => w.u32(v.handle, 'handle').u32(v.virq, 'virq'),
  (r) => ({ handle: r.u32('handle'), virq: r.u32('virq') }),
);

/** A u32 VIRQ (VM_IRQ_ACCEPT reply). */
export interface VirqPayload {
  /** VIRQ number. */
  readonly virq: number;
}

/** VM_IRQ_ACCEPT reply codec. */
export const VIRQ_PAYLOAD: PayloadCodec<VirqPayload> = codec<VirqPayload>(
  'VIRQ',
  (w, v) => w.u32(v.virq, 'virq'),
  (r) => ({ virq: r.u32('virq') }),
);

/** VM_IRQ_NOTIFY request (spec §4.4). */
export interface VmIrqNotifyRequest {
  /** IRQ handle. */
  readonly handle: number;
  /** LENT 1, RELEASED 2, ACCEPTED 4 ({@link RM_IRQ_NOTIFY_FLAGS}). */
  readonly flags: number;
  /** With LENT only: optional list of 0 or 1 VMIDs; `null` when absent. */
  readonly vmids: readonly number[] | null;
}

/** VM_IRQ_NOTIFY request codec. */
export const VM_IRQ_NOTIFY_REQUEST: PayloadCodec<VmIrqNotifyRequest> = codec<VmIrqNotifyRequest>(
  'VM_IRQ_NOTIFY request',
  (w, v) => {
    w.u32(v.handle, 'handle').u32(v.flags, 'flags');
    if (v.vmids === null) return;
    if ((v.flags & RM_IRQ_NOTIFY_FLAGS.LENT) === 0 || v.vmids.length > 1) {
      throw outOfRange('VM_IRQ_NOTIFY request', 'a VMID list needs LENT and holds at most 1 entry');
    }
    w.u16(v.vmids.length, 'count').zeros(2);
    for (const vmid of v.vmids) w.u16(vmid, 'vmid').zeros(2);
  },
  (r) => {
    const handle = r.u32('handle');
    const flags = r.u32('flags');
    if ((flags & RM_IRQ_NOTIFY_FLAGS.LENT) === 0 || r.remaining === 0) return { handle, flags, vmids: null };
    const n = r.u16('count');
    r.reserved(2, 'reserved');
    if (n > 1) throw outOfRange('VM_IRQ_NOTIFY request', `VMID count ${n} exceeds 1`);
    const vmids: number[] = [];
    for (let i = 0; i < n; i++) {
      vmids.push(r.u16('vmid'));
      r.reserved(2, 'reserved');
    }
    return { handle, flags, vmids };
  },
);

// ------------------------------------------------------------------------------------------------
// IPA reservation (spec §4.6)

/** A fixed IPA range of IPA_RESERVE (alloc type 0). */
export interface IpaFixedRange {
  /** Base IPA. */
  readonly base: bigint;
  /** Size. */
  readonly size: bigint;
}

/** An allocation request of IPA_RESERVE (alloc type 1). */
export interface IpaAllocRange {
  /** Region to allocate within: base. */
  readonly regionBase: bigint;
  /** Region to allocate within: size. */
  readonly regionSize: bigint;
  /** Size wanted. */
  readonly size: bigint;
  /** Alignment wanted. */
  readonly alignment: bigint;
}

/** IPA_RESERVE request (spec §4.6). Exactly one of the lists is used, per `allocType`. */
export interface IpaReserveRequest {
  /** 0 fixed list, 1 allocation list. */
  readonly allocType: number;
  /** Generic constraints. */
  readonly genericConstraints: number;
  /** Platform constraints. */
  readonly platformConstraints: number;
  /** Fixed ranges (allocType 0; empty otherwise). */
  readonly fixed: readonly IpaFixedRange[];
  /** Allocation requests (allocType 1; empty otherwise). */
  readonly alloc: readonly IpaAllocRange[];
}

/** IPA_RESERVE request codec. */
export const IPA_RESERVE_REQUEST: PayloadCodec<IpaReserveRequest> = codec<IpaReserveRequest>(
  'IPA_RESERVE request',
  (w, v) => {
    const list = v.allocType === 0 ? v.fixed : v.allocType === 1 ? v.alloc : null;
    const other = v.allocType === 0 ? v.alloc : v.fixed;
    if (list === null || other.length !== 0) {
      throw outOfRange('IPA_RESERVE request', 'allocType 0 uses `fixed`, 1 uses `alloc`');
    }
    w.u8(v.allocType, 'alloc_type').zeros(3).u32(v.genericConstraints, 'generic_constraints');
    w.u32(v.platformConstraints, 'platform_constraints').u32(list.length, 'entries');
    for (const e of v.fixed) w.u64(e.base, 'base').u64(e.size, 'size');
    for (const e of v.alloc) {
      w.u64(e.regionBase, 'region_base').u64(e.regionSize, 'region_size').u64(e.size, 'size').u64(e.alignment, 'alignment');
    }
  },
  (r) => {
    const allocType = r.u8('alloc_type');
    r.reserved(3, 'reserved');
    if (allocType > 1) throw outOfRange('IPA_RESERVE request', `alloc_type ${allocType}`);
    const genericConstraints = r.u32('generic_constraints');
    const platformConstraints = r.u32('platform_constraints');
    const n = r.count(r.u32('entries'), allocType === 0 ? 16 : 32, 'entries');
    const fixed: IpaFixedRange[] = [];
    const alloc: IpaAllocRange[] = [];
    for (let i = 0; i < n; i++) {
      if (allocType === 0) fixed.push({ base: r.u64('base'), size: r.u64('size') });
      else {
        alloc.push({
          regionBase: r.u64('region_base'),
          regionSize: r.u64('region_size'),
          size: r.u64('size'),
          alignment: r.u64('alignment'),
        });
      }
    }
    return { allocType, genericConstraints, platformConstraints, fixed, alloc };
  },
);

// ------------------------------------------------------------------------------------------------
// Notifications (spec §5)

/** VM_STATUS notification (8 bytes, spec §5.1). */
export interface VmStatusNotification {
  /** VM whose status changed. */
  readonly vmid: number;
  /** New VM status ({@link RM_VM_STATUS}). */
  readonly vmStatus: number;
  /** OS status ({@link RM_OS_STATUS}). */
  readonly osStatus: number;
  /** Application status. */
  readonly appStatus: number;
}

/** VM_STATUS notification codec. */
export const VM_STATUS_NOTIFICATION: PayloadCodec<VmStatusNotification> = codec<VmStatusNotification>(
  'VM_STATUS notification',
  (w, v) =>
    w.u16(v.vmid, 'vmid').zeros(2).u8(v.vmStatus, 'vm_status').u8(v.osStatus, 'os_status').u16(v.appStatus, 'app_status'),
  (r) => {
    const vmid = r.u16('vmid');
    r.reserved(2, 'reserved');
    return { vmid, vmStatus: r.u8('vm_status'), osStatus: r.u8('os_status'), appStatus: r.u16('app_status') };
  },
);

/** VM_EXITED notification (spec §5.2). */
export interface VmExitedNotification {
  /** VM that exited. */
  readonly vmid: number;
  /** Exit type ({@link RM_EXIT_TYPE}). */
  readonly exitType: number;
  /**
   * Exit reason words (exit_reason_size / 4). Word 0 = flags (bits 15:0) | exit code << 16;
   * SYSTEM_RESET2 adds reset type, cookie low, cookie high.
   */
  readonly reason: readonly number[];
}

/** VM_EXITED notification codec: u16 vmid, u16 exit_type, u32 reason size in bytes, words. */
export const VM_EXITED_NOTIFICATION: PayloadCodec<VmExitedNotification> = codec<VmExitedNotification>(
  'VM_EXITED notification',
  (w, v) => {
    w.u16(v.vmid, 'vmid').u16(v.exitType, 'exit_type').u32(v.reason.length * 4, 'exit_reason_size');
    for (const word of v.reason) w.u32(word, 'exit reason word');
  },
  (r) => {
    const vmid = r.u16('vmid');
    const exitType = r.u16('exit_type');
    const size = r.count(r.u32('exit_reason_size'), 1, 'exit_reason_size');
    if (size % 4 !== 0) throw outOfRange('VM_EXITED notification', `exit_reason_size ${size} is not a multiple of 4`);
    const reason: number[] = [];
    for (let i = 0; i < size / 4; i++) reason.push(r.u32('exit reason word'));
    return { vmid, exitType, reason };
  },
);

/** VM_SHUTDOWN notification (4 bytes). */
export interface VmShutdownNotification {
  /** Stop reason from the non-forced VM_STOP. */
  readonly stopReason: number;
}

/** VM_SHUTDOWN notification codec. */
export const VM_SHUTDOWN_NOTIFICATION: PayloadCodec<VmShutdownNotification> = codec<VmShutdownNotification>(
  'VM_SHUTDOWN notification',
  (w, v) => w.u32(v.stopReason, 'stop_reason'),
  (r) => ({ stopReason: r.u32('stop_reason') }),
);

/** MEM_SHARED notification (spec §5.3), 32 + 4a + 8r + 4t bytes. */
export interface MemSharedNotification {
  /** Memparcel handle. */
  readonly handle: number;
  /** mem_type. */
  readonly memType: number;
  /** Transaction type. */
  readonly transType: number;
  /** Bit 0: sanitized on create. */
  readonly flags: number;
  /** Owner VMID. */
  readonly ownerVmid: number;
  /** Label. */
  readonly label: number;
  /** Tag from MEM_NOTIFY. */
  readonly memInfoTag: number;
  /** ACL. */
  readonly acl: readonly AclEntry[];
  /** Region sizes (no addresses). */
  readonly regionSizes: readonly bigint[];
  /** Attributes. */
  readonly attrs: readonly AttrEntry[];
}

/** MEM_SHARED notification codec. */
export const MEM_SHARED_NOTIFICATION: PayloadCodec<MemSharedNotification> = codec<MemSharedNotification>(
  'MEM_SHARED notification',
  (w, v) => {
    w.u32(v.handle, 'handle').u8(v.memType, 'mem_type').u8(v.transType, 'trans_type').u8(v.flags, 'flags').zeros(1);
    w.u16(v.ownerVmid, 'owner_vmid').zeros(2).u32(v.label, 'label').u32(v.memInfoTag, 'mem_info_tag');
    writeAcl(w, v.acl);
    w.u16(v.regionSizes.length, 'region count').zeros(2);
    for (const size of v.regionSizes) w.u64(size, 'region size');
    writeAttrs(w, v.attrs);
  },
  (r) => {
    const handle = r.u32('handle');
    const memType = r.u8('mem_type');
    const transType = r.u8('trans_type');
    const flags = r.u8('flags');
    r.reserved(1, 'reserved');
    const ownerVmid = r.u16('owner_vmid');
    r.reserved(2, 'reserved');
    const label = r.u32('label');
    const memInfoTag = r.u32('mem_info_tag');
    const a = r.count(r.u16('ACL count'), 4, 'ACL count');
    r.reserved(2, 'reserved');
    const acl = readAclEntries(r, a);
    const n = r.count(r.u16('region count'), 8, 'region count');
    r.reserved(2, 'reserved');
    const regionSizes: bigint[] = [];
    for (let i = 0; i < n; i++) regionSizes.push(r.u64('region size'));
    const t = r.count(r.u16('attr count'), 4, 'attr count');
    r.reserved(2, 'reserved');
    const attrs = readAttrEntries(r, t);
    return { handle, memType, transType, flags, ownerVmid, label, memInfoTag, acl, regionSizes, attrs };
  },
  64,
);

/** MEM_RELEASED / MEM_ACCEPTED notification (12 bytes, to the owner). */
export interface MemBorrowerNotification {
  /** Memparcel handle. */
  readonly handle: number;
  /** Borrower VMID. */
  readonly vmid: number;
  /** Tag. */
  readonly memInfoTag: number;
}

/** MEM_RELEASED / MEM_ACCEPTED notification codec. */
export const MEM_BORROWER_NOTIFICATION: PayloadCodec<MemBorrowerNotification> = codec<MemBorrowerNotification>(
  'MEM_RELEASED/ACCEPTED notification',
  (w, v) => w.u32(v.handle, 'handle').u16(v.vmid, 'vmid').zeros(2).u32(v.memInfoTag, 'mem_info_tag'),
  (r) => {
    const handle = r.u32('handle');
    const vmid = r.u16('vmid');
    r.reserved(2, 'reserved');
    return { handle, vmid, memInfoTag: r.u32('mem_info_tag') };
  },
);

/** MEM_RECALL notification (8 bytes, to borrowers). */
export interface MemRecallNotification {
  /** Memparcel handle. */
  readonly handle: number;
  /** Tag. */
  readonly memInfoTag: number;
}

/** MEM_RECALL notification codec. */
export const MEM_RECALL_NOTIFICATION: PayloadCodec<MemRecallNotification> = codec<MemRecallNotification>(
  'MEM_RECALL notification',
  (w, v) => w.u32(v.handle, 'handle').u32(v.memInfoTag, 'mem_info_tag'),
  (r) => ({ handle: r.u32('handle'), memInfoTag: r.u32('mem_info_tag') }),
);

/** VM_IRQ_LENT notification (12 bytes, to the borrower). */
export interface VmIrqLentNotification {
  /** Owner VMID. */
  readonly ownerVmid: number;
  /** IRQ handle. */
  readonly handle: number;
  /** Label. */
  readonly label: number;
}

/** VM_IRQ_LENT notification codec. */
export const VM_IRQ_LENT_NOTIFICATION: PayloadCodec<VmIrqLentNotification> = codec<VmIrqLentNotification>(
  'VM_IRQ_LENT notification',
  (w, v) => w.u16(v.ownerVmid, 'owner_vmid').zeros(2).u32(v.handle, 'handle').u32(v.label, 'label'),
  (r) => {
    const ownerVmid = r.u16('owner_vmid');
    r.reserved(2, 'reserved');
    return { ownerVmid, handle: r.u32('handle'), label: r.u32('label') };
  },
);
