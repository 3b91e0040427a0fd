import { FdtParseError } from './errors.js';
import { parseDtb } from './parser.js';
import type { DeviceTree, FdtNode, FdtProperty } from './tree.js';

// Checks a VMM-supplied devicetree against the rules the Gunyah RM enforces when it parses and
// overlays it (spec gunyah-vm-devicetree.md §2, §2.6, §6, §7; gunyah-rm-protocol.md §7).

/**
 * Rules {@link validateGunyahVmDt} checks (spec gunyah-vm-devicetree.md):
 *
 * - `DTB_INVALID`: the blob does not parse (only from {@link validateGunyahVmDtb}).
 * - `DTB_TOO_LARGE`: the blob exceeds the 2 MiB DTB region (§2.6, §7.1).
 * - `NO_HYPERVISOR_NODE`: `/hypervisor` exists; the RM refuses it (§2.6).
 * - `MEMORY_NODE_NAME`: a `device_type = "memory"` node other than `/memory` (§2.6).
 * - `CHOSEN_MISSING`: no `/chosen`, which the RM's overlay targets (§2.6).
 * - `VM_CONFIG_MISSING`: no `/gunyah-vm-config` (or `/qcom,vm-config`) (§2).
 * - `IMAGE_NAME`: `image-name` absent, not a string or ≥ 80 bytes (§2.1).
 * - `VM_STRINGS`: malformed `vm-uri` (≥ 80 bytes), `vm-guid` or `vm-attrs` (§2.1).
 * - `CONFIG_MEMORY`: `memory/base-address`, `size-min`, `size-max` not decodable with the
 *   config node's cells (default 2/1), not page aligned, base not 2 MiB aligned, or wrapping (§2.2, §6).
 * - `MEMORY_BASE_MISMATCH` (warning): `base-address` is not the start of a `/memory` range (§6).
 * - `GIC`: the GIC named by `interrupts/config` (phandle or path) or the root
 *   `interrupt-parent` is missing or not a valid GICv3 node for the RM (§2.3).
 * - `VCPUS`: `vcpus` affinity, affinity-map, priority, timeslice or CPU-node rules (§2.4).
 * - `PSCI_IDLE_STATES`: PSCI enabled, affinity not proxy, a CPU without `cpu-idle-states` (§2.4).
 * - `PSCI_METHOD`: a PSCI node whose `method` is not `"hvc"` (§4, §7).
 * - `NOT_PROXY` (warning): vCPUs not proxy-scheduled, so the VMM sees no MMIO exits (§2.4, §5).
 * - `VDEVICE`: a doorbell vdevice without `peer-default`/`peer`, with a bad `interrupts`, or a
 *   `label` that is not one cell (§2.5).
 */
export type GunyahDtRule =
  | 'DTB_INVALID'
  | 'DTB_TOO_LARGE'
  | 'NO_HYPERVISOR_NODE'
  | 'MEMORY_NODE_NAME'
  | 'CHOSEN_MISSING'
  | 'VM_CONFIG_MISSING'
  | 'IMAGE_NAME'
  | 'VM_STRINGS'
  | 'CONFIG_MEMORY'
  | 'MEMORY_BASE_MISMATCH'
  | 'GIC'
  | 'VCPUS'
  | 'PSCI_IDLE_STATES'
  | 'PSCI_METHOD'
  | 'NOT_PROXY'
  | 'VDEVICE';

/** One finding of {@link validateGunyahVmDt}. */
export interface GunyahDtViolation {
  /** The rule broken. */
  readonly rule: GunyahDtRule;
  /** `error`: the RM would refuse or mis-read the tree; `warning`: it works but likely not as meant. */
  readonly severity: 'error' | 'warning';
  /** Path of the node concerned (`/` for the whole tree). */
  readonly path: string;
  /** Human-readable explanation. */
  readonly message: string;
}

/** Largest DTB region the VMM hands the RM (spec §7.1: at most 2 MiB). */
export const GUNYAH_MAX_DTB_SIZE = 0x200000;

const PAGE = 0x1000n;
const MIB2 = 0x200000n;

function cellsOf(node: FdtNode, name: string, dflt: number): number {
  const p = node.property(name);
  return p !== undefined && p.value.length === 4 ? p.asU32() : dflt;
}

function tryString(p: FdtProperty | undefined): string | undefined {
  if (p === undefined) return undefined;
  try {
    return p.asString();
  } catch {
    return undefined;
  }
}

function tryStrings(p: FdtProperty | undefined): string[] | undefined {
  if (p === undefined) return undefined;
  try {
    return p.asStringList();
  } catch {
    return undefined;
  }
}

function num(p: FdtProperty, cells: number): bigint | undefined {
  if (cells < 1 || cells > 2 || p.value.length !== cells * 4) return undefined;
  return p.asCellNumbers(cells)[0];
}

/**
 * Checks a tree against every rule a VMM's devicetree must follow for the Gunyah RM to accept
 * it and configure the VM as the tree says (see {@link GunyahDtRule}). Expected problems are
 * returned, not thrown.
 * @param tree - the VMM's devicetree.
 * @returns the violations found (empty if none).
 * @example
 * ```ts
 * const errors = validateGunyahVmDt(tree).filter((v) => v.severity === 'error');
 * ```
 */
export function validateGunyahVmDt(tree: DeviceTree): GunyahDtViolation[] {
  const out: GunyahDtViolation[] = [];
  const add = (rule: GunyahDtRule, path: string, message: string, severity: 'error' | 'warning' = 'error'): void => {
    out.push({ rule, severity, path, message });
  };
  const root = tree.root;

  if (root.children.some((c) => c.name === 'hypervisor')) add('NO_HYPERVISOR_NODE', '/hypervisor', 'the RM creates /hypervisor and refuses a DT that has one');
  if (root.child('chosen') === undefined) add('CHOSEN_MISSING', '/chosen', 'the RM overlay targets /chosen, which must exist');
  let psciEnabled = false;
  for (const { path, node } of tree.walk()) {
    if (tryString(node.property('device_type')) === 'memory' && path !== '/memory') {
      add('MEMORY_NODE_NAME', path, 'a memory node must be the root child named exactly "memory"');
    }
    const compat = tryStrings(node.property('compatible')) ?? [];
    if (compat.includes('arm,psci-0.2') || compat.includes('arm,psci-1.0')) {
      psciEnabled = true;
      if (tryString(node.property('method')) !== 'hvc') add('PSCI_METHOD', path, 'PSCI must use method = "hvc" under Gunyah');
    }
  }

  const cfgNode = root.children.find((c) => c.name === 'gunyah-vm-config' || c.name === 'qcom,vm-config');
  if (cfgNode === undefined) {
    add('VM_CONFIG_MISSING', '/gunyah-vm-config', 'no /gunyah-vm-config node');
    return out;
  }
  const cfgPath = `/${cfgNode.name}`;
  const name = cfgNode.property('image-name');
  const nameStr = tryString(name);
  if (nameStr === undefined || name === undefined || name.value.length - 1 >= 80 || nameStr.length === 0) {
    add('IMAGE_NAME', cfgPath, 'image-name must be a non-empty string shorter than 80 bytes');
  }
  const uri = cfgNode.property('vm-uri');
  if (uri !== undefined && (tryString(uri) === undefined || uri.value.length - 1 >= 80)) add('VM_STRINGS', cfgPath, 'vm-uri must be a string shorter than 80 bytes');
  const guid = cfgNode.property('vm-guid');
  if (guid !== undefined && !/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(tryString(guid) ?? '')) {
    add('VM_STRINGS', cfgPath, 'vm-guid must look like xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx');
  }
  if (cfgNode.has('vm-attrs') && tryStrings(cfgNode.property('vm-attrs')) === undefined) add('VM_STRINGS', cfgPath, 'vm-attrs must be a string list');

  // §2.2: memory properties decode with the config node's cells, default 2 and 1.
  const ac = cellsOf(cfgNode, '#address-cells', 2);
  const sc = cellsOf(cfgNode, '#size-cells', 1);
  const mem = cfgNode.child('memory');
  let base: bigint | undefined;
  if (mem !== undefined) {
    const mpath = `${cfgPath}/memory`;
    const read = (prop: string, cells: number): bigint | undefined => {
      const p = mem.property(prop);
      if (p === undefined) return undefined;
      const v = num(p, cells);
      if (v === undefined) add('CONFIG_MEMORY', mpath, `${prop} is not ${cells} cell(s) as ${cfgPath}'s cells say: the RM would ignore it`);
      return v;
    };
    base = read('base-address', ac);
    const sizeMin = read('size-min', sc);
    const sizeMax = read('size-max', sc);
    if (base !== undefined) {
      if (base % PAGE !== 0n) add('CONFIG_MEMORY', mpath, 'base-address must be page aligned');
      else if (base % MIB2 !== 0n) add('CONFIG_MEMORY', mpath, 'base-address is not 2 MiB aligned: the RM would move it');
    }
    for (const [k, v] of [['size-min', sizeMin], ['size-max', sizeMax]] as const) {
      if (v !== undefined && v % PAGE !== 0n) add('CONFIG_MEMORY', mpath, `${k} must be page aligned`);
    }
    if (base !== undefined && sizeMax !== undefined && base + sizeMax > 1n << 64n) add('CONFIG_MEMORY', mpath, 'base-address + size-max wraps');
  }
  const memNode = root.child('memory');
  if (base !== undefined && memNode !== undefined && memNode.name === 'memory') {
    const rac = cellsOf(root, '#address-cells', 2);
    const rsc = cellsOf(root, '#size-cells', 1);
    const reg = memNode.property('reg');
    const w = (rac + rsc) * 4;
    const starts: bigint[] = [];
    if (reg !== undefined && rac >= 1 && rac <= 2 && rsc >= 1 && rsc <= 2 && reg.value.length % w === 0) {
      const dv = new DataView(reg.value.buffer, reg.value.byteOffset, reg.value.byteLength);
      for (let i = 0; i < reg.value.length; i += w) {
        starts.push(rac === 2 ? dv.getBigUint64(i, false) : BigInt(dv.getUint32(i, false)));
      }
    }
    if (!starts.includes(base)) {
      add('MEMORY_BASE_MISMATCH', `${cfgPath}/memory`, 'base-address is not the start of a /memory range', 'warning');
    }
  }

  // §2.3: the GIC, via interrupts/config (path or phandle) or the root interrupt-parent.
  const vcpusNode = cfgNode.child('vcpus');
  const cpusPath = tryString(vcpusNode?.property('config')) ?? '/cpus';
  const cpuContainer = tree.findNode(cpusPath);
  const cpuNodes = (cpuContainer?.children ?? []).filter((c) => tryString(c.property('device_type')) === 'cpu');
  const gicRef = cfgNode.child('interrupts')?.property('config') ?? root.property('interrupt-parent');
  let gic: FdtNode | undefined;
  if (gicRef !== undefined) {
    const p = tryString(gicRef);
    if (p !== undefined && p.startsWith('/')) gic = tree.findNode(p);
    else if (gicRef.value.length === 4) gic = tree.nodeByPhandle(gicRef.asU32());
  }
  if (gic === undefined) {
    add('GIC', `${cfgPath}/interrupts`, 'interrupts/config (or the root interrupt-parent) does not name a node');
  } else {
    const g = `GIC node ${gic.name}`;
    if (!(tryStrings(gic.property('compatible')) ?? []).includes('arm,gic-v3')) add('GIC', cfgPath, `${g} is not compatible with arm,gic-v3`);
    if (!gic.has('interrupt-controller')) add('GIC', cfgPath, `${g} lacks interrupt-controller`);
    if (gic.property('#interrupt-cells')?.value.length !== 4 || gic.u32('#interrupt-cells') !== 3) add('GIC', cfgPath, `${g} must have #interrupt-cells = <3>`);
    const rr = gic.property('#redistributor-regions');
    if (rr !== undefined && (rr.value.length !== 4 || rr.asU32() !== 1)) add('GIC', cfgPath, `${g}: #redistributor-regions must be 1`);
    const stride = gic.property('redistributor-stride');
    let strideV = 0x20000n;
    if (stride !== undefined) {
      const v = stride.value.length === 8 ? stride.asU64() : stride.value.length === 4 ? BigInt(stride.asU32()) : undefined;
      if (v === undefined || v < 0x20000n || v % 0x10000n !== 0n) add('GIC', cfgPath, `${g}: redistributor-stride must be ≥ 0x20000 and 64 KiB aligned`);
      else strideV = v;
    }
    const reg = gic.property('reg');
    if (reg !== undefined) {
      const rac = cellsOf(root, '#address-cells', 2);
      const rsc = cellsOf(root, '#size-cells', 1);
      const w = (rac + rsc) * 4;
      if (rac < 1 || rac > 2 || rsc < 1 || rsc > 2 || reg.value.length < 2 * w || reg.value.length % w !== 0) {
        add('GIC', cfgPath, `${g}: reg must hold the GICD and GICR ranges`);
      } else {
        const nums = reg.asCellNumbers(1);
        const pick = (i: number, cells: number): bigint => (cells === 2 ? ((nums[i] as bigint) << 32n) | (nums[i + 1] as bigint) : (nums[i] as bigint));
        const gicd = pick(0, rac);
        const gicr = pick(rac + rsc, rac);
        const gicrSize = pick(2 * rac + rsc, rsc);
        if (gicd % 0x10000n !== 0n || gicr % 0x10000n !== 0n) add('GIC', cfgPath, `${g}: GICD and GICR must be 64 KiB aligned`);
        if (gicrSize < strideV * BigInt(Math.max(cpuNodes.length, 1))) add('GIC', cfgPath, `${g}: GICR range too small for ${cpuNodes.length} vCPU(s)`);
      }
    }
  }

  // §2.4: vCPUs.
  const vpath = `${cfgPath}/vcpus`;
  const affinity = tryString(vcpusNode?.property('affinity')) ?? 'static';
  const proxy = affinity === 'proxy';
  if (!['static', 'sticky', 'pinned', 'proxy'].includes(affinity)) add('VCPUS', vpath, `unknown affinity "${affinity}"; the RM would use static`, 'warning');
  if (!proxy) add('NOT_PROXY', vpath, 'vCPUs are not proxy-scheduled: the VMM will not see MMIO exits', 'warning');
  if (cpuContainer === undefined) add('VCPUS', cpusPath, `no CPU container at ${cpusPath}`);
  if (cpuNodes.length === 0) add('VCPUS', cpusPath, 'no CPU node (device_type = "cpu"): at least one boot CPU is required');
  const statuses = cpuNodes.map((c) => tryString(c.property('status')));
  const anyStatus = statuses.some((x) => x !== undefined);
  const boot = anyStatus ? statuses.filter((x) => x === 'okay').length : cpuNodes.length > 0 ? 1 : 0;
  if (cpuNodes.length > 0 && boot === 0) add('VCPUS', cpusPath, 'no boot CPU (status = "okay")');
  const containerMethod = tryString(cpuContainer?.property('enable-method'));
  cpuNodes.forEach((c, i) => {
    const isBoot = anyStatus ? statuses[i] === 'okay' : i === 0;
    if (statuses[i]?.startsWith('fail') === true || isBoot) return;
    const m = tryString(c.property('enable-method')) ?? containerMethod;
    if (m !== 'psci' && m !== 'qcom,gunyah-hvc') add('VCPUS', `${cpusPath}/${c.name}`, 'secondary CPU needs enable-method "psci" or "qcom,gunyah-hvc"');
  });
  if (!proxy && vcpusNode !== undefined) {
    const map = vcpusNode.property('affinity-map');
    if (map === undefined || map.value.length % 4 !== 0 || map.value.length / 4 !== cpuNodes.length) {
      add('VCPUS', vpath, 'affinity-map is required unless proxy and must list one CPU per CPU node');
    }
    const prio = vcpusNode.property('sched-priority');
    if (prio !== undefined && (prio.value.length !== 4 || (prio.asU32() | 0) >= 0)) {
      add('VCPUS', vpath, 'sched-priority must be a negative offset for a VM the owner creates', 'warning');
    }
    const ts = vcpusNode.property('sched-timeslice');
    if (ts !== undefined && (ts.value.length !== 4 || ts.asU32() < 100 || ts.asU32() > 100_000)) add('VCPUS', vpath, 'sched-timeslice must be 100..100000 µs');
  }
  if (!psciEnabled) psciEnabled = cpuNodes.some((c) => tryString(c.property('enable-method')) === 'psci' || c.has('cpu-idle-states'));
  if (psciEnabled && !proxy) {
    for (const c of cpuNodes) {
      if (!c.has('cpu-idle-states')) add('PSCI_IDLE_STATES', `${cpusPath}/${c.name}`, 'with PSCI and non-proxy vCPUs every CPU needs cpu-idle-states');
    }
  }

  // §2.5: doorbells.
  for (const { path, node } of tree.walk()) {
    const type = tryString(node.property('vdevice-type'));
    if (type === undefined) continue;
    const label = node.property('qcom,label') ?? node.property('label');
    if (label !== undefined && label.value.length !== 4) add('VDEVICE', path, 'label must be one cell');
    if (type === 'doorbell' || type === 'doorbell-source') {
      if (!node.has('peer-default') && !node.has('peer')) add('VDEVICE', path, 'doorbell needs peer-default or peer');
      const irq = node.property('interrupts');
      if (type === 'doorbell' && irq !== undefined) {
        const c = irq.value.length === 12 ? irq.asU32Array() : undefined;
        if (c === undefined || (c[0] as number) > 3 || (c[2] !== 1 && c[2] !== 4)) {
          add('VDEVICE', path, 'interrupts must be 3 cells: type 0..3, number, trigger 1 (edge) or 4 (level)');
        }
      }
    }
  }
  return out;
}

/**
 * Parses a DTB and checks it with {@link validateGunyahVmDt}, adding the size rule. A blob
 * that does not parse yields one `DTB_INVALID` violation carrying the parse error's code.
 * @param dtb - the DTB bytes.
 * @returns the violations found (empty if none).
 */
export function validateGunyahVmDtb(dtb: Uint8Array): GunyahDtViolation[] {
  let tree: DeviceTree;
  try {
    tree = parseDtb(dtb);
  } catch (e) {
    if (e instanceof FdtParseError) return [{ rule: 'DTB_INVALID', severity: 'error', path: '/', message: `${e.code}: ${e.message}` }];
    throw e;
  }
  const out = validateGunyahVmDt(tree);
  const size = new DataView(dtb.buffer, dtb.byteOffset, dtb.byteLength).getUint32(4, false);
  if (size > GUNYAH_MAX_DTB_SIZE) out.unshift({ rule: 'DTB_TOO_LARGE', severity: 'error', path: '/', message: `DTB is ${size} bytes, over 2 MiB` });
  return out;
}
