/**
 * The message catalogue (spec/gunyah-rm-protocol.md §3): every request and notification ID with
 * its name and payload codecs, keyed by name ({@link RM_REQUESTS}, {@link RM_NOTIFICATIONS}) and
 * by ID ({@link lookupMessage}), so the client, the server and the CLI dispatch generically.
 *
 * @module
 */
import { RmProtocolError, hex32 } from './errors.js';
import type { PayloadCodec } from './payloads.js';
import {
  CONSOLE_CHARS_PAYLOAD,
  CRASH_MSG_PAYLOAD,
  EMPTY,
  FW_SET_VM_FIRMWARE_REQUEST,
  HANDLE_PAYLOAD,
  IPA_RESERVE_REQUEST,
  MEM_ACCEPT_REPLY,
  MEM_ACCEPT_REQUEST,
  MEM_APPEND_REQUEST,
  MEM_BORROWER_NOTIFICATION,
  MEM_LOOKUP_SGL_REQUEST,
  MEM_NOTIFY_REQUEST,
  MEM_PARCEL_CREATE,
  MEM_RECALL_NOTIFICATION,
  MEM_RECLAIM_REQUEST,
  MEM_SHARED_NOTIFICATION,
  RAW,
  U32_VMID,
  VIRQ_PAYLOAD,
  VMID_PAYLOAD,
  VM_ALLOC_VMID_REPLY,
  VM_AUTH_IMAGE_REQUEST,
  VM_CONFIG_IMAGE_REQUEST,
  VM_EXITED_NOTIFICATION,
  VM_EXIT_REQUEST,
  VM_GET_HYP_RESOURCES_REPLY,
  VM_GET_ID_REPLY,
  VM_GET_PEERS_REPLY,
  VM_HOST_GET_TYPE_REPLY,
  VM_IRQ_ACCEPT_REQUEST,
  VM_IRQ_LEND_REQUEST,
  VM_IRQ_LENT_NOTIFICATION,
  VM_IRQ_NOTIFY_REQUEST,
  VM_LOOKUP_GUID_REQUEST,
  VM_LOOKUP_REPLY,
  VM_LOOKUP_STRING_REQUEST,
  VM_SET_ADDRESS_LAYOUT_REQUEST,
  VM_SET_BOOT_CONTEXT_REQUEST,
  VM_SET_DEMAND_PAGING_REQUEST,
  VM_SET_FIRMWARE_MEM_REQUEST,
  VM_SET_TIME_BASE_REQUEST,
  VM_SHUTDOWN_NOTIFICATION,
  VM_STATE_PAYLOAD,
  VM_STATUS_NOTIFICATION,
  VM_STOP_REQUEST,
} from './payloads.js';
import type {
  ConsoleCharsPayload,
  CrashMsgPayload,
  EmptyPayload,
  FwSetVmFirmwareRequest,
  HandlePayload,
  IpaReserveRequest,
  MemAcceptReply,
  MemAcceptRequest,
  MemAppendRequest,
  MemBorrowerNotification,
  MemLookupSglRequest,
  MemNotifyRequest,
  MemParcelCreateRequest,
  MemRecallNotification,
  MemReclaimRequest,
  MemSharedNotification,
  RawPayload,
  VirqPayload,
  VmAllocVmidReply,
  VmAuthImageRequest,
  VmConfigImageRequest,
  VmExitRequest,
  VmExitedNotification,
  VmGetHypResourcesReply,
  VmGetIdReply,
  VmHostGetTypeReply,
  VmIrqAcceptRequest,
  VmIrqLendRequest,
  VmIrqLentNotification,
  VmIrqNotifyRequest,
  VmLookupGuidRequest,
  VmLookupStringRequest,
  VmSetAddressLayoutRequest,
  VmSetBootContextRequest,
  VmSetDemandPagingRequest,
  VmSetFirmwareMemRequest,
  VmSetTimeBaseRequest,
  VmShutdownNotification,
  VmStatePayload,
  VmStatusNotification,
  VmStopRequest,
  VmidListPayload,
  VmidPayload,
} from './payloads.js';

/** Request and reply payload types of one request message. */
export interface RequestReply<Req, Rep> {
  /** Request payload. */
  readonly request: Req;
  /** Reply payload (after the u32 error code) when the error code is OK. */
  readonly reply: Rep;
}

/** Payload types of every request in the catalogue, by name (spec §3.1, layouts §4). */
export interface RmRequests {
  /** `0x00000001` — Get identity (payload UNCONFIRMED; [QCDS] only). */
  GET_IDENT: RequestReply<RawPayload, RawPayload>;
  /** `0x00000002` — Get features (payload UNCONFIRMED; [QCDS] only). */
  GET_FEATURES: RequestReply<RawPayload, RawPayload>;
  /** `0x51000010` — Donate memory (ACL of exactly one VM); reply = memparcel handle. */
  MEM_DONATE: RequestReply<MemParcelCreateRequest, HandlePayload>;
  /** `0x51000011` — Borrower accepts a memparcel. */
  MEM_ACCEPT: RequestReply<MemAcceptRequest, MemAcceptReply>;
  /** `0x51000012` — Lend memory (owner not in the ACL); reply = memparcel handle. */
  MEM_LEND: RequestReply<MemParcelCreateRequest, HandlePayload>;
  /** `0x51000013` — Share memory (owner in the ACL); reply = memparcel handle. */
  MEM_SHARE: RequestReply<MemParcelCreateRequest, HandlePayload>;
  /** `0x51000014` — Borrower releases an accepted memparcel. */
  MEM_RELEASE: RequestReply<MemReclaimRequest, EmptyPayload>;
  /** `0x51000015` — Owner reclaims (destroys) a memparcel. */
  MEM_RECLAIM: RequestReply<MemReclaimRequest, EmptyPayload>;
  /** `0x51000017` — Ask RM to notify VMs about a memparcel. */
  MEM_NOTIFY: RequestReply<MemNotifyRequest, EmptyPayload>;
  /** `0x51000018` — Append memory entries to a parcel created with APPEND. */
  MEM_APPEND: RequestReply<MemAppendRequest, EmptyPayload>;
  /** `0x5100001A` — Look up a memparcel by its memory entries. */
  MEM_QCOM_LOOKUP_SGL: RequestReply<MemLookupSglRequest, HandlePayload>;
  /** `0x51000020` — Firmware milestone (payload UNCONFIRMED). */
  FW_MILESTONE: RequestReply<RawPayload, RawPayload>;
  /** `0x51000021` — Set VM firmware (reply layout not given by the spec: raw). */
  FW_SET_VM_FIRMWARE: RequestReply<FwSetVmFirmwareRequest, RawPayload>;
  /** `0x56000001` — Allocate a VMID (vmid 0 = dynamic; reply u32 vmid), RM name VM_ALLOCATE. */
  VM_ALLOC_VMID: RequestReply<VmidPayload, VmAllocVmidReply>;
  /** `0x56000002` — Free a VMID (state LOAD or RESET), RM name VM_DEALLOCATE. */
  VM_DEALLOC_VMID: RequestReply<VmidPayload, EmptyPayload>;
  /** `0x56000004` — Start a READY VM; VM_STATUS(RUNNING) precedes the reply. */
  VM_START: RequestReply<VmidPayload, EmptyPayload>;
  /** `0x56000005` — Stop a running VM (FORCE: VM_STATUS(EXITED), VM_EXITED, then the reply). */
  VM_STOP: RequestReply<VmStopRequest, EmptyPayload>;
  /** `0x56000006` — Reset a VM; VM_STATUS(RESETTING), reply, later VM_STATUS(RESET). */
  VM_RESET: RequestReply<VmidPayload, EmptyPayload>;
  /** `0x56000007` — Suspend (commented out in the RM; payload UNCONFIRMED). */
  VM_SUSPEND: RequestReply<RawPayload, RawPayload>;
  /** `0x56000008` — Resume (commented out in the RM; payload UNCONFIRMED). */
  VM_RESUME: RequestReply<RawPayload, RawPayload>;
  /** `0x56000009` — Configure image and DTB location; VM_STATUS(INIT/AUTH) precedes the reply. */
  VM_CONFIG_IMAGE: RequestReply<VmConfigImageRequest, EmptyPayload>;
  /** `0x5600000A` — Authenticate the image (state AUTH). */
  VM_AUTH_IMAGE: RequestReply<VmAuthImageRequest, EmptyPayload>;
  /** `0x5600000B` — Initialise a VM from its DTB; VM_STATUS(READY) precedes the reply. */
  VM_INIT: RequestReply<VmidPayload, EmptyPayload>;
  /** `0x5600000C` — v15 RFC numbering of VM_SET_BOOT_CONTEXT, superseded (UNCONFIRMED). */
  VM_SET_BOOT_CONTEXT_V15: RequestReply<RawPayload, RawPayload>;
  /** `0x56000010` — Get the identities (GUID, URI, name, signing authority) of a VM. */
  VM_GET_ID: RequestReply<VmidPayload, VmGetIdReply>;
  /** `0x56000011` — Find VMs by URI. */
  VM_LOOKUP_URI: RequestReply<VmLookupStringRequest, VmidListPayload>;
  /** `0x56000012` — Find VMs by GUID. */
  VM_LOOKUP_GUID: RequestReply<VmLookupGuidRequest, VmidListPayload>;
  /** `0x56000013` — Find VMs by name. */
  VM_LOOKUP_NAME: RequestReply<VmLookupStringRequest, VmidListPayload>;
  /** `0x56000015` — Get the caller's owner VMID. */
  VM_GET_OWNER: RequestReply<EmptyPayload, VmidPayload>;
  /** `0x56000017` — Get VM, OS and application status. */
  VM_GET_STATE: RequestReply<VmidPayload, VmStatePayload>;
  /** `0x56000019` — Get a VM's crash message (owner only). */
  VM_GET_CRASH_MSG: RequestReply<VmidPayload, CrashMsgPayload>;
  /** `0x56000020` — List the capabilities and interrupts of a VM. */
  VM_GET_HYP_RESOURCES: RequestReply<VmidPayload, VmGetHypResourcesReply>;
  /** `0x56000021` — Defined, unimplemented in the public RM (payload UNCONFIRMED). */
  VM_GET_HYP_CAPIDS: RequestReply<RawPayload, RawPayload>;
  /** `0x56000022` — Defined, unimplemented in the public RM (payload UNCONFIRMED). */
  VM_GET_HYP_IRQS: RequestReply<RawPayload, RawPayload>;
  /** `0x56000024` — Get the caller's own VMID (host: 3). */
  VM_GET_VMID: RequestReply<EmptyPayload, VmidPayload>;
  /** `0x56000025` — List the caller's peers. */
  VM_GET_PEERS: RequestReply<EmptyPayload, VmidListPayload>;
  /** `0x56000030` — Set the time base (error replies carry a hypervisor error word). */
  VM_SET_TIME_BASE: RequestReply<VmSetTimeBaseRequest, EmptyPayload>;
  /** `0x56000031` — Set a boot register of the primary vCPU (reply UNCONFIRMED: standard). */
  VM_SET_BOOT_CONTEXT: RequestReply<VmSetBootContextRequest, EmptyPayload>;
  /** `0x56000032` — Set the firmware parcel (error replies carry a hypervisor error word). */
  VM_SET_FIRMWARE_MEM: RequestReply<VmSetFirmwareMemRequest, EmptyPayload>;
  /** `0x56000033` — Declare demand-paged regions (reply UNCONFIRMED: standard). */
  VM_SET_DEMAND_PAGING: RequestReply<VmSetDemandPagingRequest, EmptyPayload>;
  /** `0x56000034` — Declare the image/firmware range (reply UNCONFIRMED: standard). */
  VM_SET_ADDRESS_LAYOUT: RequestReply<VmSetAddressLayoutRequest, EmptyPayload>;
  /** `0x56000040` — Minidump (payload UNCONFIRMED). */
  VM_MINIDUMP_GET_INFO: RequestReply<RawPayload, RawPayload>;
  /** `0x56000041` — Minidump (payload UNCONFIRMED). */
  VM_MINIDUMP_REGISTER_RANGE: RequestReply<RawPayload, RawPayload>;
  /** `0x56000042` — Minidump (payload UNCONFIRMED). */
  VM_MINIDUMP_DEREGISTER_SLOT: RequestReply<RawPayload, RawPayload>;
  /** `0x56000043` — Minidump (payload UNCONFIRMED). */
  VM_MINIDUMP_GET_SLOT_NUMBER: RequestReply<RawPayload, RawPayload>;
  /** `0x56000050` — Accept a lent IRQ; reply = VIRQ. */
  VM_IRQ_ACCEPT: RequestReply<VmIrqAcceptRequest, VirqPayload>;
  /** `0x56000051` — Lend an IRQ; reply = IRQ handle. */
  VM_IRQ_LEND: RequestReply<VmIrqLendRequest, HandlePayload>;
  /** `0x56000052` — Borrower releases an IRQ. */
  VM_IRQ_RELEASE: RequestReply<HandlePayload, EmptyPayload>;
  /** `0x56000053` — Owner reclaims an IRQ. */
  VM_IRQ_RECLAIM: RequestReply<HandlePayload, EmptyPayload>;
  /** `0x56000054` — Ask RM to notify about an IRQ. */
  VM_IRQ_NOTIFY: RequestReply<VmIrqNotifyRequest, EmptyPayload>;
  /** `0x56000055` — Defined, unimplemented in the public RM (payload UNCONFIRMED). */
  VM_IRQ_UNMAP: RequestReply<RawPayload, RawPayload>;
  /** `0x56000060` — Device management (payload UNCONFIRMED). */
  VM_DEVICE_ACCEPT: RequestReply<RawPayload, RawPayload>;
  /** `0x56000061` — Device management (payload UNCONFIRMED). */
  VM_DEVICE_LEND: RequestReply<RawPayload, RawPayload>;
  /** `0x56000062` — Device management (payload UNCONFIRMED). */
  VM_DEVICE_RELEASE: RequestReply<RawPayload, RawPayload>;
  /** `0x56000063` — Device management (payload UNCONFIRMED). */
  VM_DEVICE_RECLAIM: RequestReply<RawPayload, RawPayload>;
  /** `0x56000064` — Device management (payload UNCONFIRMED). */
  VM_DEVICE_NOTIFY: RequestReply<RawPayload, RawPayload>;
  /** `0x56000065` — Device management (payload UNCONFIRMED). */
  VM_DEVICE_FIND_HANDLE: RequestReply<RawPayload, RawPayload>;
  /** `0x56000066` — Device management (payload UNCONFIRMED). */
  VM_DEVICE_GET_RESOURCES: RequestReply<RawPayload, RawPayload>;
  /** `0x56000067` — Device management (payload UNCONFIRMED). */
  VM_DEVICE_BUS_LOCKDOWN: RequestReply<RawPayload, RawPayload>;
  /** `0x56000068` — Device management (payload UNCONFIRMED). */
  VM_DEVICE_BUS_UNLOCK: RequestReply<RawPayload, RawPayload>;
  /** `0x56000080` — A guest reports its own OS/application status. */
  VM_SET_STATUS: RequestReply<VmStatePayload, EmptyPayload>;
  /** `0x56000081` — Open a console (vmid 0 = own). */
  VM_CONSOLE_OPEN: RequestReply<VmidPayload, EmptyPayload>;
  /** `0x56000082` — Close a console. */
  VM_CONSOLE_CLOSE: RequestReply<VmidPayload, EmptyPayload>;
  /** `0x56000083` — Write console characters. */
  VM_CONSOLE_WRITE: RequestReply<ConsoleCharsPayload, EmptyPayload>;
  /** `0x56000084` — Flush a console. */
  VM_CONSOLE_FLUSH: RequestReply<VmidPayload, EmptyPayload>;
  /** `0x56000085` — A guest asks to exit. */
  VM_EXIT: RequestReply<VmExitRequest, EmptyPayload>;
  /** `0x56000086` — A guest records its crash message. */
  VM_SET_CRASH_MSG: RequestReply<CrashMsgPayload, EmptyPayload>;
  /** `0x560000A0` — Get the host type word. */
  VM_HOST_GET_TYPE: RequestReply<EmptyPayload, VmHostGetTypeReply>;
  /** `0x560000B0` — Reserve IPA ranges (reply UNCONFIRMED: raw). */
  IPA_RESERVE: RequestReply<IpaReserveRequest, RawPayload>;
  /** `0x560000B1` — Unreserve IPA ranges (payload UNCONFIRMED). */
  IPA_UNRESERVE: RequestReply<RawPayload, RawPayload>;
  /** `0x56000100` — v15 RFC only (payload UNCONFIRMED). */
  GET_LOG_ADDRESS: RequestReply<RawPayload, RawPayload>;
}

/** Payload types of every notification in the catalogue, by name (spec §3.2, layouts §5). */
export interface RmNotifications {
  /** `0x51100011` — A memparcel was shared with the receiver. */
  MEM_SHARED: MemSharedNotification;
  /** `0x51100012` — A borrower released a memparcel (to the owner). */
  MEM_RELEASED: MemBorrowerNotification;
  /** `0x51100013` — A borrower accepted a memparcel (to the owner). */
  MEM_ACCEPTED: MemBorrowerNotification;
  /** `0x51100014` — The owner recalls a memparcel (to borrowers). */
  MEM_RECALL: MemRecallNotification;
  /** `0x56100001` — A VM exited (to the owner). */
  VM_EXITED: VmExitedNotification;
  /** `0x56100002` — The owner asks the receiving VM to shut down (non-forced VM_STOP). */
  VM_SHUTDOWN: VmShutdownNotification;
  /** `0x56100008` — A VM changed state (to peers). */
  VM_STATUS: VmStatusNotification;
  /** `0x56100011` — An IRQ was lent to the receiver. */
  VM_IRQ_LENT: VmIrqLentNotification;
  /** `0x56100012` — A borrower released an IRQ (to the owner). */
  VM_IRQ_RELEASED: HandlePayload;
  /** `0x56100013` — A borrower accepted an IRQ (to the owner). */
  VM_IRQ_ACCEPTED: HandlePayload;
  /** `0x56100080` — Console characters from a VM. */
  VM_CONSOLE_CHARS: ConsoleCharsPayload;
}

/** Name of a request message. */
export type RmRequestName = keyof RmRequests;
/** Name of a notification message. */
export type RmNotificationName = keyof RmNotifications;
/** Request payload type of request `N`. */
export type RmRequestOf<N extends RmRequestName> = RmRequests[N]['request'];
/** Reply payload type of request `N`. */
export type RmReplyOf<N extends RmRequestName> = RmRequests[N]['reply'];

/** Catalogue entry of a request message. */
export interface RmRequestDef<N extends RmRequestName = RmRequestName> {
  /** Always `'request'`. */
  readonly kind: 'request';
  /** Message ID. */
  readonly id: number;
  /** Catalogue name. */
  readonly name: N;
  /** False when the spec gives no layout (the codecs then carry raw bytes). */
  readonly layoutKnown: boolean;
  /** Request payload codec. */
  readonly request: PayloadCodec<RmRequestOf<N>>;
  /** Reply payload codec (for the bytes after the error code of an OK reply). */
  readonly reply: PayloadCodec<RmReplyOf<N>>;
}

/** Catalogue entry of a notification message. */
export interface RmNotificationDef<N extends RmNotificationName = RmNotificationName> {
  /** Always `'notification'`. */
  readonly kind: 'notification';
  /** Message ID. */
  readonly id: number;
  /** Catalogue name. */
  readonly name: N;
  /** Payload codec. */
  readonly payload: PayloadCodec<RmNotifications[N]>;
}

/** Any catalogue entry. */
export type RmMessageDef = RmRequestDef | RmNotificationDef;

function req<N extends RmRequestName>(
  id: number,
  name: N,
  request: PayloadCodec<RmRequestOf<N>>,
  reply: PayloadCodec<RmReplyOf<N>>,
  layoutKnown = true,
): RmRequestDef<N> {
  return Object.freeze({ kind: 'request', id, name, layoutKnown, request, reply });
}

function ntf<N extends RmNotificationName>(id: number, name: N, payload: PayloadCodec<RmNotifications[N]>): RmNotificationDef<N> {
  return Object.freeze({ kind: 'notification', id, name, payload });
}

/** Every request of spec §3.1 by name. */
export const RM_REQUESTS: { readonly [N in RmRequestName]: RmRequestDef<N> } = Object.freeze({
  GET_IDENT: req(0x00000001, 'GET_IDENT', RAW, RAW, false),
  GET_FEATURES: req(0x00000002, 'GET_FEATURES', RAW, RAW, false),
  MEM_DONATE: req(0x51000010, 'MEM_DONATE', MEM_PARCEL_CREATE, HANDLE_PAYLOAD),
  MEM_ACCEPT: req(0x51000011, 'MEM_ACCEPT', MEM_ACCEPT_REQUEST, MEM_ACCEPT_REPLY),
  MEM_LEND: req(0x51000012, 'MEM_LEND', MEM_PARCEL_CREATE, HANDLE_PAYLOAD),
  MEM_SHARE: req(0x51000013, 'MEM_SHARE', MEM_PARCEL_CREATE, HANDLE_PAYLOAD),
  MEM_RELEASE: req(0x51000014, 'MEM_RELEASE', MEM_RECLAIM_REQUEST, EMPTY),
  MEM_RECLAIM: req(0x51000015, 'MEM_RECLAIM', MEM_RECLAIM_REQUEST, EMPTY),
  MEM_NOTIFY: req(0x51000017, 'MEM_NOTIFY', MEM_NOTIFY_REQUEST, EMPTY),
  MEM_APPEND: req(0x51000018, 'MEM_APPEND', MEM_APPEND_REQUEST, EMPTY),
  MEM_QCOM_LOOKUP_SGL: req(0x5100001a, 'MEM_QCOM_LOOKUP_SGL', MEM_LOOKUP_SGL_REQUEST, HANDLE_PAYLOAD),
  FW_MILESTONE: req(0x51000020, 'FW_MILESTONE', RAW, RAW, false),
  FW_SET_VM_FIRMWARE: req(0x51000021, 'FW_SET_VM_FIRMWARE', FW_SET_VM_FIRMWARE_REQUEST, RAW),
  VM_ALLOC_VMID: req(0x56000001, 'VM_ALLOC_VMID', VMID_PAYLOAD, VM_ALLOC_VMID_REPLY),
  VM_DEALLOC_VMID: req(0x56000002, 'VM_DEALLOC_VMID', VMID_PAYLOAD, EMPTY),
  VM_START: req(0x56000004, 'VM_START', VMID_PAYLOAD, EMPTY),
  VM_STOP: req(0x56000005, 'VM_STOP', VM_STOP_REQUEST, EMPTY),
  VM_RESET: req(0x56000006, 'VM_RESET', VMID_PAYLOAD, EMPTY),
  VM_SUSPEND: req(0x56000007, 'VM_SUSPEND', RAW, RAW, false),
  VM_RESUME: req(0x56000008, 'VM_RESUME', RAW, RAW, false),
  VM_CONFIG_IMAGE: req(0x56000009, 'VM_CONFIG_IMAGE', VM_CONFIG_IMAGE_REQUEST, EMPTY),
  VM_AUTH_IMAGE: req(0x5600000a, 'VM_AUTH_IMAGE', VM_AUTH_IMAGE_REQUEST, EMPTY),
  VM_INIT: req(0x5600000b, 'VM_INIT', VMID_PAYLOAD, EMPTY),
  VM_SET_BOOT_CONTEXT_V15: req(0x5600000c, 'VM_SET_BOOT_CONTEXT_V15', RAW, RAW, false),
  VM_GET_ID: req(0x56000010, 'VM_GET_ID', VMID_PAYLOAD, VM_GET_ID_REPLY),
  VM_LOOKUP_URI: req(0x56000011, 'VM_LOOKUP_URI', VM_LOOKUP_STRING_REQUEST, VM_LOOKUP_REPLY),
  VM_LOOKUP_GUID: req(0x56000012, 'VM_LOOKUP_GUID', VM_LOOKUP_GUID_REQUEST, VM_LOOKUP_REPLY),
  VM_LOOKUP_NAME: req(0x56000013, 'VM_LOOKUP_NAME', VM_LOOKUP_STRING_REQUEST, VM_LOOKUP_REPLY),
  VM_GET_OWNER: req(0x56000015, 'VM_GET_OWNER', EMPTY, U32_VMID),
  VM_GET_STATE: req(0x56000017, 'VM_GET_STATE', VMID_PAYLOAD, VM_STATE_PAYLOAD),
  VM_GET_CRASH_MSG: req(0x56000019, 'VM_GET_CRASH_MSG', VMID_PAYLOAD, CRASH_MSG_PAYLOAD),
  VM_GET_HYP_RESOURCES: req(0x56000020, 'VM_GET_HYP_RESOURCES', VMID_PAYLOAD, VM_GET_HYP_RESOURCES_REPLY),
  VM_GET_HYP_CAPIDS: req(0x56000021, 'VM_GET_HYP_CAPIDS', RAW, RAW, false),
  VM_GET_HYP_IRQS: req(0x56000022, 'VM_GET_HYP_IRQS', RAW, RAW, false),
  VM_GET_VMID: req(0x56000024, 'VM_GET_VMID', EMPTY, U32_VMID),
  VM_GET_PEERS: req(0x56000025, 'VM_GET_PEERS', EMPTY, VM_GET_PEERS_REPLY),
  VM_SET_TIME_BASE: req(0x56000030, 'VM_SET_TIME_BASE', VM_SET_TIME_BASE_REQUEST, EMPTY),
  VM_SET_BOOT_CONTEXT: req(0x56000031, 'VM_SET_BOOT_CONTEXT', VM_SET_BOOT_CONTEXT_REQUEST, EMPTY),
  VM_SET_FIRMWARE_MEM: req(0x56000032, 'VM_SET_FIRMWARE_MEM', VM_SET_FIRMWARE_MEM_REQUEST, EMPTY),
  VM_SET_DEMAND_PAGING: req(0x56000033, 'VM_SET_DEMAND_PAGING', VM_SET_DEMAND_PAGING_REQUEST, EMPTY),
  VM_SET_ADDRESS_LAYOUT: req(0x56000034, 'VM_SET_ADDRESS_LAYOUT', VM_SET_ADDRESS_LAYOUT_REQUEST, EMPTY),
  VM_MINIDUMP_GET_INFO: req(0x56000040, 'VM_MINIDUMP_GET_INFO', RAW, RAW, false),
  VM_MINIDUMP_REGISTER_RANGE: req(0x56000041, 'VM_MINIDUMP_REGISTER_RANGE', RAW, RAW, false),
  VM_MINIDUMP_DEREGISTER_SLOT: req(0x56000042, 'VM_MINIDUMP_DEREGISTER_SLOT', RAW, RAW, false),
  VM_MINIDUMP_GET_SLOT_NUMBER: req(0x56000043, 'VM_MINIDUMP_GET_SLOT_NUMBER', RAW, RAW, false),
  VM_IRQ_ACCEPT: req(0x56000050, 'VM_IRQ_ACCEPT', VM_IRQ_ACCEPT_REQUEST, VIRQ_PAYLOAD),
  VM_IRQ_LEND: req(0x56000051, 'VM_IRQ_LEND', VM_IRQ_LEND_REQUEST, HANDLE_PAYLOAD),
  VM_IRQ_RELEASE: req(0x56000052, 'VM_IRQ_RELEASE', HANDLE_PAYLOAD, EMPTY),
  VM_IRQ_RECLAIM: req(0x56000053, 'VM_IRQ_RECLAIM', HANDLE_PAYLOAD, EMPTY),
  VM_IRQ_NOTIFY: req(0x56000054, 'VM_IRQ_NOTIFY', VM_IRQ_NOTIFY_REQUEST, EMPTY),
  VM_IRQ_UNMAP: req(0x56000055, 'VM_IRQ_UNMAP', RAW, RAW, false),
  VM_DEVICE_ACCEPT: req(0x56000060, 'VM_DEVICE_ACCEPT', RAW, RAW, false),
  VM_DEVICE_LEND: req(0x56000061, 'VM_DEVICE_LEND', RAW, RAW, false),
  VM_DEVICE_RELEASE: req(0x56000062, 'VM_DEVICE_RELEASE', RAW, RAW, false),
  VM_DEVICE_RECLAIM: req(0x56000063, 'VM_DEVICE_RECLAIM', RAW, RAW, false),
  VM_DEVICE_NOTIFY: req(0x56000064, 'VM_DEVICE_NOTIFY', RAW, RAW, false),
  VM_DEVICE_FIND_HANDLE: req(0x56000065, 'VM_DEVICE_FIND_HANDLE', RAW, RAW, false),
  VM_DEVICE_GET_RESOURCES: req(0x56000066, 'VM_DEVICE_GET_RESOURCES', RAW, RAW, false),
  VM_DEVICE_BUS_LOCKDOWN: req(0x56000067, 'VM_DEVICE_BUS_LOCKDOWN', RAW, RAW, false),
  VM_DEVICE_BUS_UNLOCK: req(0x56000068, 'VM_DEVICE_BUS_UNLOCK', RAW, RAW, false),
  VM_SET_STATUS: req(0x56000080, 'VM_SET_STATUS', VM_STATE_PAYLOAD, EMPTY),
  VM_CONSOLE_OPEN: req(0x56000081, 'VM_CONSOLE_OPEN', VMID_PAYLOAD, EMPTY),
  VM_CONSOLE_CLOSE: req(0x56000082, 'VM_CONSOLE_CLOSE', VMID_PAYLOAD, EMPTY),
  VM_CONSOLE_WRITE: req(0x56000083, 'VM_CONSOLE_WRITE', CONSOLE_CHARS_PAYLOAD, EMPTY),
  VM_CONSOLE_FLUSH: req(0x56000084, 'VM_CONSOLE_FLUSH', VMID_PAYLOAD, EMPTY),
  VM_EXIT: req(0x56000085, 'VM_EXIT', VM_EXIT_REQUEST, EMPTY),
  VM_SET_CRASH_MSG: req(0x56000086, 'VM_SET_CRASH_MSG', CRASH_MSG_PAYLOAD, EMPTY),
  VM_HOST_GET_TYPE: req(0x560000a0, 'VM_HOST_GET_TYPE', EMPTY, VM_HOST_GET_TYPE_REPLY),
  IPA_RESERVE: req(0x560000b0, 'IPA_RESERVE', IPA_RESERVE_REQUEST, RAW),
  IPA_UNRESERVE: req(0x560000b1, 'IPA_UNRESERVE', RAW, RAW, false),
  GET_LOG_ADDRESS: req(0x56000100, 'GET_LOG_ADDRESS', RAW, RAW, false),
});

/** Every notification of spec §3.2 by name. */
export const RM_NOTIFICATIONS: { readonly [N in RmNotificationName]: RmNotificationDef<N> } = Object.freeze({
  MEM_SHARED: ntf(0x51100011, 'MEM_SHARED', MEM_SHARED_NOTIFICATION),
  MEM_RELEASED: ntf(0x51100012, 'MEM_RELEASED', MEM_BORROWER_NOTIFICATION),
  MEM_ACCEPTED: ntf(0x51100013, 'MEM_ACCEPTED', MEM_BORROWER_NOTIFICATION),
  MEM_RECALL: ntf(0x51100014, 'MEM_RECALL', MEM_RECALL_NOTIFICATION),
  VM_EXITED: ntf(0x56100001, 'VM_EXITED', VM_EXITED_NOTIFICATION),
  VM_SHUTDOWN: ntf(0x56100002, 'VM_SHUTDOWN', VM_SHUTDOWN_NOTIFICATION),
  VM_STATUS: ntf(0x56100008, 'VM_STATUS', VM_STATUS_NOTIFICATION),
  VM_IRQ_LENT: ntf(0x56100011, 'VM_IRQ_LENT', VM_IRQ_LENT_NOTIFICATION),
  VM_IRQ_RELEASED: ntf(0x56100012, 'VM_IRQ_RELEASED', HANDLE_PAYLOAD),
  VM_IRQ_ACCEPTED: ntf(0x56100013, 'VM_IRQ_ACCEPTED', HANDLE_PAYLOAD),
  VM_CONSOLE_CHARS: ntf(0x56100080, 'VM_CONSOLE_CHARS', CONSOLE_CHARS_PAYLOAD),
});

const BY_ID = new Map<number, RmMessageDef>();
for (const def of [...Object.values(RM_REQUESTS), ...Object.values(RM_NOTIFICATIONS)] as RmMessageDef[]) {
  BY_ID.set(def.id, def);
}

/**
 * The catalogue entry of a message ID, or `undefined` when the ID is not in spec §3.
 *
 * @example
 * ```ts
 * lookupMessage(0x56000004)?.name; // 'VM_START'
 * ```
 */
export function lookupMessage(msgId: number): RmMessageDef | undefined {
  return BY_ID.get(msgId);
}

/** Every catalogue entry, requests first, in ID order. */
export function allMessages(): RmMessageDef[] {
  return [...BY_ID.values()].sort((a, b) => (a.kind === b.kind ? a.id - b.id : a.kind === 'request' ? -1 : 1));
}

/**
 * The catalogue entry of a request ID.
 *
 * @throws {RmProtocolError} UNKNOWN_MESSAGE when the ID is unknown or names a notification.
 */
export function requestDef(msgId: number): RmRequestDef {
  const def = BY_ID.get(msgId);
  if (def?.kind !== 'request') {
    throw new RmProtocolError('UNKNOWN_MESSAGE', `${hex32(msgId)} is not a request in the catalogue`);
  }
  return def;
}

/**
 * The catalogue entry of a notification ID.
 *
 * @throws {RmProtocolError} UNKNOWN_MESSAGE when the ID is unknown or names a request.
 */
export function notificationDef(msgId: number): RmNotificationDef {
  const def = BY_ID.get(msgId);
  if (def?.kind !== 'notification') {
    throw new RmProtocolError('UNKNOWN_MESSAGE', `${hex32(msgId)} is not a notification in the catalogue`);
  }
  return def;
}
