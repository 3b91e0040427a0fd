/**
 * Misuse codes of {@link FdtWriter} (one per way of using the writer wrongly).
 *
 * - `PROPERTY_OUTSIDE_NODE`: a property setter was called with no node open.
 * - `PROPERTY_AFTER_NODE`: a property was added to a node after one of its child nodes.
 * - `INVALID_NODE_NAME` / `INVALID_PROPERTY_NAME`: a name outside the devicetree character set
 *   (or the root node was given a name, or a child none).
 * - `INVALID_STRING`: a string value contains a NUL byte.
 * - `VALUE_OUT_OF_RANGE`: a cell value does not fit 32 (or 64) unsigned bits.
 * - `DUPLICATE_PROPERTY` / `DUPLICATE_NODE`: the same name twice in one node.
 * - `UNBALANCED_NODE`: `endNode` with a handle that is not the innermost open node.
 * - `UNCLOSED_NODE`: `finish` while nodes are still open.
 * - `MULTIPLE_ROOTS`: a second top-level node.
 * - `EMPTY_TREE`: `finish` before any node was written.
 * - `DUPLICATE_PHANDLE` / `INVALID_PHANDLE`: a phandle used twice, or 0 / 0xffffffff / not 4 bytes.
 * - `OVERLAPPING_RESERVATIONS` / `INVALID_RESERVATION`: memory reservations that overlap, or
 *   that wrap past 2^64.
 * - `MAX_DEPTH`: nodes nested deeper than the configured limit.
 * - `TOO_LARGE`: the blob would exceed the configured size limit.
 * - `FINISHED`: the writer was used after `finish`.
 */
export type FdtErrorCode =
  | 'PROPERTY_OUTSIDE_NODE'
  | 'PROPERTY_AFTER_NODE'
  | 'INVALID_NODE_NAME'
  | 'INVALID_PROPERTY_NAME'
  | 'INVALID_STRING'
  | 'VALUE_OUT_OF_RANGE'
  | 'DUPLICATE_PROPERTY'
  | 'DUPLICATE_NODE'
  | 'UNBALANCED_NODE'
  | 'UNCLOSED_NODE'
  | 'MULTIPLE_ROOTS'
  | 'EMPTY_TREE'
  | 'DUPLICATE_PHANDLE'
  | 'INVALID_PHANDLE'
  | 'OVERLAPPING_RESERVATIONS'
  | 'INVALID_RESERVATION'
  | 'MAX_DEPTH'
  | 'TOO_LARGE'
  | 'FINISHED';

/**
 * Error thrown by {@link FdtWriter} (and the tree serializer) when it is used wrongly.
 * Tests and callers compare {@link FdtError.code}, never the message.
 */
export class FdtError extends Error {
  /** Always `'FdtError'`. */
  override readonly name = 'FdtError';
  /** What went wrong. */
  readonly code: FdtErrorCode;
  /**
   * @param code - the misuse code.
   * @param message - a human-readable description.
   * @param options - standard error options (`cause`).
   */
  constructor(code: FdtErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/**
 * Reasons {@link parseDtb} rejects a blob.
 *
 * - `TRUNCATED`: the input is shorter than the header or than `totalsize`.
 * - `BAD_MAGIC`: the first word is not 0xd00dfeed.
 * - `UNSUPPORTED_VERSION`: version below 16, or `last_comp_version` above 17.
 * - `BAD_HEADER`: `totalsize` smaller than the header, or other inconsistent header fields.
 * - `BAD_BLOCK`: a block (reservation map, structure, strings) lies outside `totalsize`,
 *   inside the header, or overlaps another block.
 * - `MISALIGNED`: the reservation map is not 8-byte aligned or the structure block not 4-byte aligned.
 * - `BAD_RESERVATION`: the reservation map is unterminated or an entry wraps past 2^64.
 * - `BAD_TOKEN`: an unknown token, or a token where the grammar does not allow it
 *   (property outside a node or after a child node, a second root, END inside a node).
 * - `BAD_STRUCTURE`: the structure block ends before the END token, or a property's value runs
 *   past it.
 * - `BAD_STRING_OFFSET`: a property name offset outside the strings block, or with no NUL
 *   before its end.
 * - `BAD_NAME`: a node or property name that is empty, unterminated or outside the character set.
 * - `DUPLICATE_NAME`: two properties or two child nodes with the same name in one node.
 * - `DUPLICATE_PHANDLE` / `BAD_PHANDLE`: a phandle used by two nodes, or a phandle property that
 *   is not 4 bytes or is 0 / 0xffffffff.
 * - `TOO_DEEP`: nesting beyond the configured depth limit.
 * - `TOO_MANY_ITEMS`: more nodes or properties than the configured limit.
 */
export type FdtParseErrorCode =
  | 'TRUNCATED'
  | 'BAD_MAGIC'
  | 'UNSUPPORTED_VERSION'
  | 'BAD_HEADER'
  | 'BAD_BLOCK'
  | 'MISALIGNED'
  | 'BAD_RESERVATION'
  | 'BAD_TOKEN'
  | 'BAD_STRUCTURE'
  | 'BAD_STRING_OFFSET'
  | 'BAD_NAME'
  | 'DUPLICATE_NAME'
  | 'DUPLICATE_PHANDLE'
  | 'BAD_PHANDLE'
  | 'TOO_DEEP'
  | 'TOO_MANY_ITEMS';

/**
 * Error thrown by {@link parseDtb} for a malformed blob. `offset` is the byte offset in the
 * blob where the problem was found (when known).
 */
export class FdtParseError extends Error {
  /** Always `'FdtParseError'`. */
  override readonly name = 'FdtParseError';
  /** What is wrong with the blob. */
  readonly code: FdtParseErrorCode;
  /** Byte offset in the blob, or -1 when not tied to one place. */
  readonly offset: number;
  /**
   * @param code - the reason.
   * @param message - a human-readable description.
   * @param offset - byte offset of the problem (-1 if none).
   * @param options - standard error options (`cause`).
   */
  constructor(code: FdtParseErrorCode, message: string, offset = -1, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.offset = offset;
  }
}

/**
 * Reasons a typed property accessor refuses a value.
 *
 * - `MISSING`: the node has no property of that name.
 * - `BAD_LENGTH`: the value's length does not fit the requested type.
 * - `NOT_A_STRING`: the value is not NUL-terminated text (or holds an invalid UTF-8 sequence).
 */
export type FdtPropertyErrorCode = 'MISSING' | 'BAD_LENGTH' | 'NOT_A_STRING';

/** Error thrown by the typed accessors of {@link FdtProperty} and {@link FdtNode}. */
export class FdtPropertyError extends Error {
  /** Always `'FdtPropertyError'`. */
  override readonly name = 'FdtPropertyError';
  /** Why the value could not be read as requested. */
  readonly code: FdtPropertyErrorCode;
  /** Name of the property concerned. */
  readonly property: string;
  /**
   * @param code - the reason.
   * @param property - the property name.
   * @param message - a human-readable description.
   */
  constructor(code: FdtPropertyErrorCode, property: string, message: string) {
    super(message);
    this.code = code;
    this.property = property;
  }
}

/**
 * Reasons {@link applyOverlay} refuses an overlay.
 *
 * - `MISSING_TARGET`: a fragment with `__overlay__` has neither `target` nor `target-path`.
 * - `TARGET_NOT_FOUND`: the target phandle or path names no node of the base tree.
 * - `BAD_TARGET`: `target` is not a valid phandle or `target-path` not a string.
 * - `NO_SYMBOLS`: the overlay has `__fixups__` but the base tree has no `/__symbols__`.
 * - `UNRESOLVED_SYMBOL`: a `__fixups__` label is not in the base's `/__symbols__`, or its path
 *   names no node, or that node has no phandle.
 * - `BAD_FIXUP`: a malformed `__fixups__` entry (not `path:property:offset`, path or property
 *   missing in the overlay, offset out of range).
 * - `BAD_LOCAL_FIXUP`: a malformed `__local_fixups__` entry.
 * - `PHANDLE_OVERFLOW`: renumbering the overlay's phandles would pass 0xfffffffe.
 * - `BAD_SYMBOL`: an overlay `__symbols__` entry that is not a path, or names a missing fragment.
 * - `BAD_OVERLAY`: other structural problems: a phandle property that is not 4 bytes, or a
 *   result with an invalid or duplicate phandle.
 */
export type OverlayErrorCode =
  | 'MISSING_TARGET'
  | 'TARGET_NOT_FOUND'
  | 'BAD_TARGET'
  | 'NO_SYMBOLS'
  | 'UNRESOLVED_SYMBOL'
  | 'BAD_FIXUP'
  | 'BAD_LOCAL_FIXUP'
  | 'PHANDLE_OVERFLOW'
  | 'BAD_SYMBOL'
  | 'BAD_OVERLAY';

/** Error thrown by {@link applyOverlay}. */
export class OverlayError extends Error {
  /** Always `'OverlayError'`. */
  override readonly name = 'OverlayError';
  /** What is wrong with the overlay (or its fit to the base tree). */
  readonly code: OverlayErrorCode;
  /**
   * @param code - the reason.
   * @param message - a human-readable description.
   * @param options - standard error options (`cause`).
   */
  constructor(code: OverlayErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/**
 * Reasons {@link buildGunyahVmDt} refuses a configuration.
 *
 * - `BAD_MEMORY`: RAM base/size zero, not 2 MiB aligned, or wrapping past 2^64.
 * - `BAD_VCPU_COUNT`: vCPU count outside 1..{@link GUNYAH_MAX_VCPUS}.
 * - `BAD_ADDRESS`: an MMIO address or size that is misaligned, zero-sized or wraps.
 * - `OVERLAP`: two MMIO ranges (GIC, UART, virtio, RAM) overlap.
 * - `BAD_IRQ`: an SPI number out of range or used by two devices.
 * - `BAD_STRING`: a string (image name, bootargs, …) that is empty where required, too long or
 *   contains NUL.
 * - `BAD_INITRD`: initrd end before start, or outside RAM.
 */
export type GunyahDtConfigErrorCode =
  | 'BAD_MEMORY'
  | 'BAD_VCPU_COUNT'
  | 'BAD_ADDRESS'
  | 'OVERLAP'
  | 'BAD_IRQ'
  | 'BAD_STRING'
  | 'BAD_INITRD';

/** Error thrown by {@link buildGunyahVmDt} for a configuration the spec does not allow. */
export class GunyahDtConfigError extends Error {
  /** Always `'GunyahDtConfigError'`. */
  override readonly name = 'GunyahDtConfigError';
  /** What is wrong with the configuration. */
  readonly code: GunyahDtConfigErrorCode;
  /** The configuration field concerned (dotted path). */
  readonly field: string;
  /**
   * @param code - the reason.
   * @param field - dotted path of the configuration field.
   * @param message - a human-readable description.
   */
  constructor(code: GunyahDtConfigErrorCode, field: string, message: string) {
    super(message);
    this.code = code;
    this.field = field;
  }
}
