import { isValidNodeName } from './format.js';
import { applyOverlay, buildOverlay } from './overlay.js';
import { DeviceTree, FdtNode, FdtProperty } from './tree.js';
import { validateGunyahVmDt, type GunyahDtViolation } from './validate.js';

// What the Resource Manager reads from a VMM's devicetree at VM_INIT and the overlay it applies
// at VM_START (spec gunyah-rm-protocol.md §7.1, §7.2; gunyah-vm-devicetree.md §2, §3.3). For
// RM models (an emulator, a fake RM) built on this package.

/**
 * Codes of {@link RmDtError}.
 *
 * - `INVALID_CONFIG`: the DT breaks a rule the RM enforces (see `violations`), or a vdevice's
 *   `generate` is not a valid node path.
 * - `HYPERVISOR_EXISTS`: the base DT already has `/hypervisor` (the RM answers DENIED).
 * - `BAD_OPTIONS`: overlay options that cannot be encoded (empty or overlapping memory,
 *   values out of range, a capability ID list of the wrong length).
 */
export type RmDtErrorCode = 'INVALID_CONFIG' | 'HYPERVISOR_EXISTS' | 'BAD_OPTIONS';

/** Error of {@link readGunyahVmConfig} and {@link buildRmGuestOverlay}. */
export class RmDtError extends Error {
  /** Always `'RmDtError'`. */
  override readonly name = 'RmDtError';
  /** What went wrong. */
  readonly code: RmDtErrorCode;
  /** The rule violations behind `INVALID_CONFIG` (error severity only). */
  readonly violations: readonly GunyahDtViolation[];
  /**
   * @param code - the reason.
   * @param message - a human-readable description.
   * @param violations - violations behind `INVALID_CONFIG`.
   */
  constructor(code: RmDtErrorCode, message: string, violations: readonly GunyahDtViolation[] = []) {
    super(message);
    this.code = code;
    this.violations = violations;
  }
}

/** A virtual device the RM recognises by its `vdevice-type` (spec §2.5). */
export interface GunyahVdeviceInfo {
  /** Path of the vdevice node in the VMM's DT. */
  readonly path: string;
  /** `vdevice-type`. */
  readonly type: string;
  /** `qcom,label`, else `label` (one cell), if present. */
  readonly label: number | undefined;
  /** `generate` path, if present. */
  readonly generate: string | undefined;
  /** `peer-default` present. */
  readonly peerDefault: boolean;
  /** `peer`, if present. */
  readonly peer: string | undefined;
  /** `source-can-clear` present. */
  readonly sourceCanClear: boolean;
  /** `interrupts` cells, if present. */
  readonly interrupts: readonly number[] | undefined;
}

/** A CPU node the RM turns into a vCPU (spec §2.4). */
export interface GunyahCpuInfo {
  /** Node path. */
  readonly path: string;
  /** First `reg` cell (the MPIDR affinity), if present. */
  readonly reg: number | undefined;
  /** Whether it is a boot CPU. */
  readonly boot: boolean;
}

/** What the RM reads from a VMM's devicetree (spec gunyah-rm-protocol.md §7.1). */
export interface GunyahVmConfigInfo {
  /** `/gunyah-vm-config` or `/qcom,vm-config`. */
  readonly path: string;
  /** `image-name`. */
  readonly imageName: string;
  /** `os-type`, if present. */
  readonly osType: string | undefined;
  /** `vm-attrs` (empty if absent). */
  readonly vmAttrs: readonly string[];
  /** `vm-uri`, if present. */
  readonly vmUri: string | undefined;
  /** `vm-guid`, if present. */
  readonly vmGuid: string | undefined;
  /** `memory/base-address` decoded with the config node's cells (2/1 by default); undefined → platform default. */
  readonly baseAddress: bigint | undefined;
  /** `memory/size-min`, if decodable. */
  readonly sizeMin: bigint | undefined;
  /** `memory/size-max`, if decodable. */
  readonly sizeMax: bigint | undefined;
  /** `memory/is-direct` present. */
  readonly isDirect: boolean;
  /** `vcpus/affinity` (`static` when absent or unknown). */
  readonly affinity: 'static' | 'sticky' | 'pinned' | 'proxy';
  /** CPU nodes (children of `vcpus/config`, default `/cpus`, with `device_type = "cpu"`), minus failed ones. */
  readonly cpus: readonly GunyahCpuInfo[];
  /** Path of the GIC node. */
  readonly gicPath: string;
  /** Whether the RM sets up its PSCI group (spec §2.4). */
  readonly psci: boolean;
  /** Virtual devices, in DT order. */
  readonly vdevices: readonly GunyahVdeviceInfo[];
}

const str = (p: FdtProperty | undefined): string | undefined => {
  if (p === undefined) return undefined;
  try {
    return p.asString();
  } catch {
    return undefined;
  }
};
const strs = (p: FdtProperty | undefined): string[] | undefined => {
  if (p === undefined) return undefined;
  try {
    return p.asStringList();
  } catch {
    return undefined;
  }
};
const cellsOf = (n: FdtNode, name: string, dflt: number): number => {
  const p = n.property(name);
  return p !== undefined && p.value.length === 4 ? p.asU32() : dflt;
};
const numOf = (p: FdtProperty | undefined, cells: number): bigint | undefined =>
  p === undefined || cells < 1 || cells > 2 || p.value.length !== cells * 4 ? undefined : p.asCellNumbers(cells)[0];

/**
 * Reads what the RM takes from a VMM's devicetree, after checking it with
 * {@link validateGunyahVmDt} (any error-severity violation fails, as the RM's parse would).
 * @param tree - the VMM's devicetree.
 * @returns the decoded configuration.
 * @throws {RmDtError} INVALID_CONFIG with the violations.
 */
export function readGunyahVmConfig(tree: DeviceTree): GunyahVmConfigInfo {
  const errors = validateGunyahVmDt(tree).filter((v) => v.severity === 'error');
  if (errors.length > 0) {
    throw new RmDtError('INVALID_CONFIG', `the RM would refuse this DT: ${errors.map((e) => e.rule).join(', ')}`, errors);
  }
  // The validator guarantees the pieces below exist and decode.
  const cfg = tree.root.children.find((c) => c.name === 'gunyah-vm-config' || c.name === 'qcom,vm-config') as FdtNode;
  const ac = cellsOf(cfg, '#address-cells', 2);
  const sc = cellsOf(cfg, '#size-cells', 1);
  const mem = cfg.child('memory');
  const vcpus = cfg.child('vcpus');
  const aff = str(vcpus?.property('affinity'));
  const affinity = aff === 'sticky' || aff === 'pinned' || aff === 'proxy' ? aff : 'static';
  const cpusPath = str(vcpus?.property('config')) ?? '/cpus';
  const cpuNodes = (tree.findNode(cpusPath)?.children ?? []).filter((c) => str(c.property('device_type')) === 'cpu');
  const statuses = cpuNodes.map((c) => str(c.property('status')));
  const anyStatus = statuses.some((s) => s !== undefined);
  const cpus: GunyahCpuInfo[] = [];
  cpuNodes.forEach((c, i) => {
    if (statuses[i]?.startsWith('fail') === true) return;
    const reg = c.property('reg');
    cpus.push({
      path: `${cpusPath === '/' ? '' : cpusPath}/${c.name}`,
      reg: reg !== undefined && reg.value.length >= 4 ? reg.asU32Array()[0] : undefined,
      boot: anyStatus ? statuses[i] === 'okay' : i === 0,
    });
  });
  const gicRef = cfg.child('interrupts')?.property('config') ?? tree.root.property('interrupt-parent');
  let gicPath = '/';
  const asPath = str(gicRef);
  if (asPath !== undefined && asPath.startsWith('/')) gicPath = asPath;
  else if (gicRef !== undefined && gicRef.value.length === 4) gicPath = tree.pathOfPhandle(gicRef.asU32()) ?? '/';
  let psci = false;
  const vdevices: GunyahVdeviceInfo[] = [];
  for (const { path, node } of tree.walk()) {
    const compat = strs(node.property('compatible')) ?? [];
    if (compat.includes('arm,psci-0.2') || compat.includes('arm,psci-1.0')) psci = true;
    const type = str(node.property('vdevice-type'));
    if (type === undefined) continue;
    const label = node.property('qcom,label') ?? node.property('label');
    const irq = node.property('interrupts');
    vdevices.push({
      path,
      type,
      label: label !== undefined && label.value.length === 4 ? label.asU32() : undefined,
      generate: str(node.property('generate')),
      peerDefault: node.has('peer-default'),
      peer: str(node.property('peer')),
      sourceCanClear: node.has('source-can-clear'),
      interrupts: irq !== undefined && irq.value.length % 4 === 0 ? irq.asU32Array() : undefined,
    });
  }
  if (cpuNodes.some((c) => str(c.property('enable-method')) === 'psci' || c.has('cpu-idle-states'))) psci = true;
  return {
    path: `/${cfg.name}`,
    imageName: str(cfg.property('image-name')) as string,
    osType: str(cfg.property('os-type')),
    vmAttrs: strs(cfg.property('vm-attrs')) ?? [],
    vmUri: str(cfg.property('vm-uri')),
    vmGuid: str(cfg.property('vm-guid')),
    baseAddress: numOf(mem?.property('base-address'), ac),
    sizeMin: numOf(mem?.property('size-min'), sc),
    sizeMax: numOf(mem?.property('size-max'), sc),
    isDirect: mem?.has('is-direct') ?? false,
    affinity,
    cpus,
    gicPath,
    psci,
    vdevices,
  };
}

/** A guest-physical range the RM accepted for the VM. */
export interface RmMemoryRange {
  /** Start (IPA). */
  readonly base: bigint;
  /** Size in bytes (non-zero). */
  readonly size: bigint;
}

/** Inputs of {@link buildRmGuestOverlay}: what only the RM knows. */
export interface RmGuestOverlayOptions {
  /** The VM's VMID (`qcom,vmid`). */
  readonly vmid: number;
  /** The owner's VMID (`qcom,owner-vmid`). */
  readonly ownerVmid: number;
  /** Accepted memory ranges (sorted and merged into `/memory`). */
  readonly memory: readonly RmMemoryRange[];
  /** `/chosen/kaslr-seed`. */
  readonly kaslrSeed: bigint;
  /** Capability ID per vCPU, in the order of {@link GunyahVmConfigInfo.cpus}. Default none. */
  readonly vcpuCapIds?: readonly bigint[];
  /** Capability ID per doorbell vdevice, in DT order. Default: 0x1000 + index. */
  readonly doorbellCapIds?: readonly bigint[];
  /** `qcom,vendor`. Default `Qualcomm`. */
  readonly vendor?: string;
}

const hx = (n: bigint): string => n.toString(16);

function rangesProp(name: string, ranges: readonly RmMemoryRange[], ac: number, sc: number): FdtProperty {
  const cells: number[] = [];
  const push = (v: bigint, n: number): void => {
    for (let i = n - 1; i >= 0; i--) cells.push(Number((v >> BigInt(32 * i)) & 0xffffffffn));
  };
  for (const r of ranges) {
    push(r.base, ac);
    push(r.size, sc);
  }
  return FdtProperty.u32(name, ...cells);
}

/** Places `node` at `path` (creating empty parents) inside a tree rooted at `root`. */
function placeAt(root: FdtNode, path: string, node: FdtNode): FdtNode {
  const parts = path.split('/').filter((p) => p !== '');
  const chain: FdtNode[] = [root];
  for (const p of parts.slice(0, -1)) {
    const parent = chain[chain.length - 1] as FdtNode;
    chain.push(parent.children.find((c) => c.name === p) ?? new FdtNode(p));
  }
  let cur = node;
  for (let i = chain.length - 1; i >= 0; i--) cur = (chain[i] as FdtNode).withChild(cur);
  return cur;
}

/**
 * Builds the overlay the RM applies to the VMM's devicetree at VM_START (spec
 * gunyah-rm-protocol.md §7.2, gunyah-vm-devicetree.md §3.3), for the parts that concern a
 * VMM-created Linux VM: `/memory` with the accepted ranges (sorted, merged, root cells);
 * `/chosen/kaslr-seed` (its own fragment with `target-path = "/chosen"`, so a DT without
 * `/chosen` fails as libfdt would); `/hypervisor` with `qcom,gunyah-vm` and one node per
 * doorbell at its `generate` path suffixed `@<capid>`; `qcom,gunyah-capability` on CPU nodes;
 * `/reserved-memory` and `/vsoc` when absent. Left out: shared-memory buffers, message queues,
 * rm-rpc, virtio-mmio, watchdog and RTC vdevices, and the GIC patch of the QEMU platform.
 * @param tree - the VMM's devicetree (must pass {@link readGunyahVmConfig}).
 * @param options - what the RM decided (VMIDs, memory, capability IDs, seed).
 * @returns the overlay, for {@link applyOverlay}.
 * @throws {RmDtError} INVALID_CONFIG, HYPERVISOR_EXISTS, BAD_OPTIONS
 */
export function buildRmGuestOverlay(tree: DeviceTree, options: RmGuestOverlayOptions): DeviceTree {
  if (tree.root.children.some((c) => c.name === 'hypervisor')) {
    throw new RmDtError('HYPERVISOR_EXISTS', 'the VMM DT already has /hypervisor: the RM refuses it (DENIED)');
  }
  const info = readGunyahVmConfig(tree);
  const u32ok = (v: number): boolean => Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
  if (!u32ok(options.vmid) || !u32ok(options.ownerVmid)) throw new RmDtError('BAD_OPTIONS', 'VMIDs must be 32-bit');
  const sorted = [...options.memory].sort((a, b) => (a.base < b.base ? -1 : a.base > b.base ? 1 : 0));
  const merged: { base: bigint; size: bigint }[] = [];
  for (const r of sorted) {
    if (r.size <= 0n || r.base < 0n || r.base + r.size > 1n << 64n) throw new RmDtError('BAD_OPTIONS', 'memory ranges must be non-empty and below 2^64');
    const last = merged[merged.length - 1];
    if (last !== undefined && r.base <= last.base + last.size) {
      const end = r.base + r.size > last.base + last.size ? r.base + r.size : last.base + last.size;
      last.size = end - last.base;
    } else merged.push({ base: r.base, size: r.size });
  }
  if (merged.length === 0) throw new RmDtError('BAD_OPTIONS', 'the VM has no memory');
  const ac = cellsOf(tree.root, '#address-cells', 2);
  const sc = cellsOf(tree.root, '#size-cells', 1);
  if (ac < 1 || ac > 2 || sc < 1 || sc > 2 || merged.some((r) => (ac === 1 && r.base > 0xffffffffn) || (sc === 1 && r.size > 0xffffffffn))) {
    throw new RmDtError('BAD_OPTIONS', 'memory ranges do not fit the root #address-cells/#size-cells');
  }
  const vcpuCaps = options.vcpuCapIds ?? [];
  if (vcpuCaps.length !== 0 && vcpuCaps.length !== info.cpus.length) throw new RmDtError('BAD_OPTIONS', `need ${info.cpus.length} vCPU capability IDs`);
  const bells = info.vdevices.filter((v) => v.type === 'doorbell' || v.type === 'doorbell-source');
  const bellCaps = options.doorbellCapIds ?? bells.map((_, i) => 0x1000n + BigInt(i));
  if (bellCaps.length !== bells.length) throw new RmDtError('BAD_OPTIONS', `need ${bells.length} doorbell capability IDs`);

  const P = FdtProperty;
  let root = new FdtNode('', [], [
    new FdtNode('memory', [P.strings('device_type', 'memory'), rangesProp('reg', merged, ac, sc)]),
  ]);
  if (tree.root.child('reserved-memory') === undefined) {
    root = root.withChild(new FdtNode('reserved-memory', [P.u32('#address-cells', ac), P.u32('#size-cells', sc), P.empty('ranges')]));
  }
  if (tree.root.child('vsoc') === undefined) {
    root = root.withChild(new FdtNode('vsoc', [P.u32('#address-cells', 2), P.u32('#size-cells', 2), P.empty('ranges'), P.strings('compatible', 'simple-bus')]));
  }
  const vmNode = new FdtNode('qcom,gunyah-vm', [
    P.strings('compatible', 'qcom,gunyah-vm-id-1.0', 'qcom,gunyah-vm-id'),
    P.u32('qcom,vmid', options.vmid),
    P.u32('qcom,owner-vmid', options.ownerVmid),
    P.strings('qcom,vendor', options.vendor ?? 'Qualcomm'),
    P.strings('qcom,image-name', info.imageName),
    ...(info.vmUri !== undefined ? [P.strings('qcom,vm-uri', info.vmUri)] : []),
    ...(info.vmGuid !== undefined ? [P.strings('qcom,vm-guid', info.vmGuid)] : []),
  ]);
  root = placeAt(
    root,
    '/hypervisor',
    new FdtNode(
      'hypervisor',
      [P.u32('#address-cells', 2), P.u32('#size-cells', 0), P.strings('compatible', 'gunyah-hypervisor', 'qcom,gunyah-hypervisor-1.0', 'qcom,gunyah-hypervisor', 'simple-bus')],
      [vmNode],
    ),
  );
  let nextVirq = 960; // RM-allocated doorbell vIRQs start at INTID 960 (spec §2.5)
  bells.forEach((b, i) => {
    const cap = bellCaps[i] as bigint;
    const base = b.generate ?? `/hypervisor/${b.path.split('/').pop() ?? 'doorbell'}`;
    const props = [
      P.strings('compatible', b.type === 'doorbell' ? 'qcom,gunyah-doorbell' : 'qcom,gunyah-doorbell-source', 'qcom,gunyah-capability'),
      P.u64('reg', cap),
    ];
    if (b.type === 'doorbell') props.push(P.u32('interrupts', ...(b.interrupts ?? [0, nextVirq++ - 32, 1])));
    if (b.label !== undefined) props.push(P.u32('qcom,label', b.label), P.u32('label', b.label));
    const path = `${base}@${hx(cap)}`;
    const parts = path.split('/');
    if (!path.startsWith('/') || parts.slice(1).some((x) => !isValidNodeName(x))) {
      throw new RmDtError('INVALID_CONFIG', `${b.path}: generate path '${base}' is not a valid node path`);
    }
    root = placeAt(root, path, new FdtNode(path.split('/').pop() as string, props));
  });
  info.cpus.forEach((c, i) => {
    const cap = vcpuCaps[i];
    if (cap === undefined) return;
    root = placeAt(root, c.path, new FdtNode(c.path.split('/').pop() as string, [P.u64('qcom,gunyah-capability', cap)]));
  });
  const overlay = buildOverlay([
    { target: '/', node: root },
    { target: '/chosen', node: new FdtNode('', [P.u64('kaslr-seed', options.kaslrSeed)]) },
  ]);
  return overlay;
}

/**
 * Builds the RM's overlay with {@link buildRmGuestOverlay} and applies it, giving the DT the
 * guest boots with.
 * @param tree - the VMM's devicetree.
 * @param options - what the RM decided.
 * @returns the guest's devicetree.
 * @throws {RmDtError} as {@link buildRmGuestOverlay}
 */
export function applyRmGuestOverlay(tree: DeviceTree, options: RmGuestOverlayOptions): DeviceTree {
  return applyOverlay(tree, buildRmGuestOverlay(tree, options));
}
