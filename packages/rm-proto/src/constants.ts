/**
 * Protocol constants: sizes, message types, VM status values, exit types and the small enums used
 * in payloads. Every value cites spec/gunyah-rm-protocol.md.
 */

/** Largest message-queue message on an RM link, in bytes (spec §1.1). */
export const RM_MESSAGE_SIZE = 240;
/** Fragment header size in bytes: always 2 words (spec §1.2). */
export const RM_HEADER_SIZE = 8;
/** Payload bytes per fragment: 240 − 8 (spec §1.3). */
export const RM_FRAGMENT_PAYLOAD = 232;
/** Largest continuation count accepted in a header (spec §1.3). */
export const RM_MAX_CONTINUATIONS = 62;
/** Largest message payload RM sends or accepts: 63 × 232 (spec §1.3). */
export const RM_MAX_PAYLOAD = 14616;
/** Largest request payload Linux sends: 62 × 232 (larger → -E2BIG, spec §1.3). */
export const RM_LINUX_MAX_REQUEST_PAYLOAD = 14384;
/** The fixed first header byte: API version 1, header length 2 words (spec §1.2). */
export const RM_API_BYTE = 0x21;
/** RM protocol API version (header bits 3:0). */
export const RM_API_VERSION = 1;
/** Header length in 32-bit words (header bits 7:4). */
export const RM_HEADER_WORDS = 2;
/** Largest entry count RM accepts in an ACL/SGL/attribute list (spec §4.1). */
export const RM_MAX_LIST_ENTRIES = 512;

/** Message types carried in header byte 1, bits 1:0 (spec §1.2). */
export const RM_MSG_TYPE = {
  /** Second to last fragment of a multi-fragment message. */
  CONTINUATION: 0,
  /** VM → RM, answered by a reply. */
  REQUEST: 1,
  /** RM → VM, answers a request with the same seq and msg_id. */
  REPLY: 2,
  /** RM → VM, unsolicited. */
  NOTIFICATION: 3,
} as const;

/** Well-known VMIDs (spec §4.2). */
export const RM_VMID = {
  /** The hypervisor itself. */
  HYP: 0,
  /** The host (HLOS) VM. */
  HLOS: 3,
  /** First dynamically allocated VMID. */
  DYNAMIC_BASE: 0x80,
  /** Last dynamically allocated VMID (the RM's end bound 0xBF is exclusive). */
  DYNAMIC_LAST: 0xbe,
} as const;

/** VM status values, `vm_status` of VM_STATUS and VM_GET_STATE (spec §5.1). */
export const RM_VM_STATUS = {
  /** No state (not allocated). */
  NO_STATE: 0,
  /** Configured, waiting for VM_INIT. */
  INIT: 1,
  /** Initialised, waiting for VM_START. */
  READY: 2,
  /** Running. */
  RUNNING: 3,
  /** Paused. */
  PAUSED: 4,
  /** Allocated, waiting for VM_CONFIG_IMAGE. */
  LOAD: 5,
  /** Waiting for VM_AUTH_IMAGE. */
  AUTH: 6,
  /** Configuration or start failed. */
  INIT_FAILED: 8,
  /** Stopped or exited. */
  EXITED: 9,
  /** Reset in progress. */
  RESETTING: 10,
  /** Reset complete; may be configured again or deallocated. */
  RESET: 11,
} as const;

/** Guest OS status values, `os_status` (spec §5.1). */
export const RM_OS_STATUS = {
  /** No status reported. */
  NONE: 0,
  /** Early boot. */
  EARLY_BOOT: 1,
  /** Boot. */
  BOOT: 2,
  /** OS initialisation. */
  INIT: 3,
  /** Running. */
  RUN: 4,
  /** Shutting down. */
  SHUTDOWN: 5,
  /** Halted. */
  HALTED: 6,
  /** Crashed. */
  CRASHED: 7,
} as const;

/** VM_EXITED `exit_type` values (spec §5.2). */
export const RM_EXIT_TYPE = {
  /** The guest called VM_EXIT. */
  VM_EXIT: 0,
  /** PSCI SYSTEM_OFF. */
  PLATFORM_OFF: 1,
  /** PSCI SYSTEM_RESET. */
  PLATFORM_RESET: 2,
  /** PSCI SYSTEM_RESET2 (extra reason words). */
  PSCI_SYSTEM_RESET2: 3,
  /** Watchdog bite. */
  WATCHDOG_BITE: 4,
  /** Software error. */
  SOFTWARE_ERROR: 5,
  /** Asynchronous hardware error. */
  ASYNC_HW_ERROR: 6,
  /** Forced VM_STOP by the owner. */
  VM_STOP_FORCED: 7,
} as const;

/** Exit codes in the first VM_EXITED reason word (bits 31:16) and VM_EXIT (spec §5.2, §4.2). */
export const RM_EXIT_CODE = {
  /** Normal exit. */
  NORMAL: 0,
  /** Software error. */
  SOFTWARE_ERROR: 1,
  /** Unknown error (rejected by VM_EXIT). */
  UNKNOWN_ERROR: 2,
  /** Bus error. */
  BUS_ERROR: 3,
  /** Device error. */
  DEVICE_ERROR: 4,
} as const;

/** VM_GET_HYP_RESOURCES resource types (spec §4.2). 9 and 10 are Linux v17 additions. */
export const RM_RESOURCE_TYPE = {
  /** Doorbell, sending side. */
  DOORBELL_TX: 0,
  /** Doorbell, receiving side. */
  DOORBELL_RX: 1,
  /** Message queue, sending side. */
  MSGQ_TX: 2,
  /** Message queue, receiving side. */
  MSGQ_RX: 3,
  /** vCPU. */
  VCPU: 4,
  /** Virtual PM group. */
  VPM_GROUP: 5,
  /** Virtio-MMIO backend. */
  VIRTIO_MMIO: 6,
  /** Virtual RTC. */
  VRTC: 7,
  /** Watchdog. */
  WATCHDOG: 8,
  /** Memory extent (Linux v17 only; UNCONFIRMED on the RM side). */
  MEM_EXTENT: 9,
  /** Address space (Linux v17 only; UNCONFIRMED on the RM side). */
  ADDR_SPACE: 10,
} as const;

/** VM_CONFIG_IMAGE authentication mechanisms (spec §4.2). */
export const RM_AUTH = {
  /** No authentication. */
  NONE: 0,
  /** Platform authentication (Linux: QCOM_PIL_ELF). */
  PLATFORM: 1,
  /** Android protected VM (Linux: QCOM_ANDROID_PVM). */
  ANDROID: 2,
} as const;

/** Memory parcel `mem_type` (spec §4.3). */
export const RM_MEM_TYPE = {
  /** Normal memory. */
  NORMAL: 0,
  /** IO memory. */
  IO: 1,
} as const;

/** Memory parcel transaction types (MEM_ACCEPT, MEM_SHARED; spec §4.3). */
export const RM_TRANS_TYPE = {
  /** Donate. */
  DONATE: 0,
  /** Lend. */
  LEND: 1,
  /** Share. */
  SHARE: 2,
} as const;

/** Flags of MEM_LEND/SHARE/DONATE (spec §4.3). */
export const RM_MEM_FLAGS = {
  /** Sanitize (not for IO). */
  SANITIZE: 1,
  /** More SGL entries follow with MEM_APPEND. */
  APPEND: 2,
} as const;

/** ACL rights bits (spec §4.1). RM accepts R, RX, RW and RWX only. */
export const RM_ACL_RIGHTS = {
  /** Execute. */
  X: 1,
  /** Write. */
  W: 2,
  /** Read. */
  R: 4,
  /** Read + write. */
  RW: 6,
  /** Read + execute. */
  RX: 5,
  /** Read + write + execute. */
  RWX: 7,
} as const;

/** Memory attribute values (spec §4.1). */
export const RM_MEM_ATTR = {
  /** Normal. */
  NORMAL: 0,
  /** Device (only value for IO parcels). */
  DEVICE: 1,
  /** Uncached. */
  UNCACHED: 2,
  /** Cached. */
  CACHED: 3,
} as const;

/** MEM_ACCEPT flags (spec §4.3). */
export const RM_MEM_ACCEPT_FLAGS = {
  /** Validate that the parcel was sanitized. */
  VALIDATE_SANITIZED: 1,
  /** Validate ACL and attributes. */
  VALIDATE_ACL_ATTRS: 2,
  /** Validate the label. */
  VALIDATE_LABEL: 4,
  /** Map into another VM (`map_vmid`). */
  MAP_OTHER: 8,
  /** Map contiguously. */
  MAP_CONTIGUOUS: 16,
  /** Sanitize. */
  SANITIZE: 32,
  /** Done. */
  DONE: 128,
} as const;

/** MEM_NOTIFY flags (spec §4.3). */
export const RM_MEM_NOTIFY_FLAGS = {
  /** Notify shared (VMID list follows). */
  SHARED: 1,
  /** Notify released. */
  RELEASED: 2,
  /** Notify accepted. */
  ACCEPTED: 4,
  /** Notify recall (VMID list follows). */
  RECALL: 8,
} as const;

/** VM_IRQ_NOTIFY flags (spec §4.4). */
export const RM_IRQ_NOTIFY_FLAGS = {
  /** Lent (optional one-entry VMID list follows). */
  LENT: 1,
  /** Released. */
  RELEASED: 2,
  /** Accepted. */
  ACCEPTED: 4,
} as const;

/** VM_STOP flags (spec §4.2). */
export const RM_STOP_FLAGS = {
  /** Forced stop. */
  FORCE: 1,
} as const;

/** Stop reason Linux sends with a forced VM_STOP (spec §4.2). */
export const RM_STOP_REASON_FORCE_STOP = 3;

/** VM_SET_BOOT_CONTEXT register sets (spec §4.2). */
export const RM_BOOT_REG_SET = {
  /** General register X0–X31 (`reg_index` 0…31). */
  X: 0,
  /** Program counter (`reg_index` 0). */
  PC: 1,
  /** Stack pointer (`reg_index` 0…2, Linux validation). */
  SP: 2,
} as const;

/** VM_SET_ADDRESS_LAYOUT range IDs (spec §4.2). */
export const RM_RANGE_ID = {
  /** Image range. */
  IMAGE: 0,
  /** Firmware range. */
  FIRMWARE: 1,
} as const;

/** VM_GET_ID identity types (spec §4.2). */
export const RM_VM_ID_TYPE = {
  /** 16-byte GUID, always first. */
  GUID: 0,
  /** URI. */
  URI: 1,
  /** Name. */
  NAME: 2,
  /** Signing authority, always last. */
  SIGN_AUTH: 3,
} as const;

/** VM_HOST_GET_TYPE reply value: AArch64, Gunyah + RM, version 1 (spec §4.2). */
export const RM_HOST_TYPE_GUNYAH_AARCH64 = 0x01000164;
