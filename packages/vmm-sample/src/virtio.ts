/**
 * The VMM side of virtio: which devices a configuration asks for, where they sit (generated DT, or
 * the `virtio,mmio` nodes of a user DT), and the wiring of each one — a `@gunyah-ts/virtio`
 * transport on the MMIO bus, an irqfd on the device's doorbell, one datamatch ioeventfd per queue on
 * `QueueNotify`, served by an `EventfdListener`. Device logic lives in `@gunyah-ts/virtio`.
 *
 * @module
 */
import { statSync } from 'node:fs';
import type { Writable } from 'node:stream';
import type { DeviceTree, GunyahDoorbell, GunyahVdeviceInfo } from '@gunyah-ts/devicetree';
import type { Vm } from '@gunyah-ts/ioctls';
import type { BindingModule } from '@gunyah-ts/sys';
import type { GuestMemory } from '@gunyah-ts/vm-memory';
import {
  EventfdListener,
  VirtioBlock,
  VirtioConsole,
  VirtioError as VirtioErrorClass,
  VirtioMmioTransport,
  VirtioRng,
  virtioMmioIoeventfds,
  virtioMmioLayout,
  type VirtioDevice,
  type VirtioError,
  type VirtioMmioDtEntry,
  type VirtqueueError,
} from '@gunyah-ts/virtio';
import { ConfigError, type VirtioDiskConfig, type VmmConfig } from './config.js';

/** Guest-physical base of the generated virtio-mmio windows (0x200 bytes each, consecutive). */
export const VIRTIO_MMIO_BASE = 0x0a00_0000n;
/** SPI of the first generated virtio-mmio window; the next windows take the following SPIs. */
export const VIRTIO_FIRST_SPI = 16;

/** The kinds of virtio device the VMM adds. */
export type VirtioDeviceKind = 'block' | 'console' | 'rng';

/** A device the configuration asks for, before it has a place. */
export interface VirtioRequest {
  /** Which device. */
  readonly kind: VirtioDeviceKind;
  /** The disk, for `block`. */
  readonly disk: VirtioDiskConfig | undefined;
}

/** A virtio device with its window, interrupt and doorbell, as the plan holds it. */
export interface PlannedVirtioDevice extends VirtioRequest {
  /** Guest-physical base of the 0x200-byte register window. */
  readonly address: bigint;
  /** Window size (0x200). */
  readonly size: bigint;
  /** SPI number (INTID − 32). */
  readonly spi: number;
  /** The doorbell label whose irqfd raises that SPI. */
  readonly irqLabel: number;
  /** What the guest sees: `/dev/vda`…, `/dev/hvc0`, `/dev/hwrng`. */
  readonly guestName: string;
}

/**
 * The devices `config` asks for, in window order: disks first (so they become `/dev/vda`, `/dev/vdb`,
 * … in order), then the console and the rng unless `virtio` is off.
 */
export function virtioRequests(config: VmmConfig): VirtioRequest[] {
  const out: VirtioRequest[] = (config.disks ?? []).map((disk) => ({ kind: 'block' as const, disk }));
  if (config.virtio === true) out.push({ kind: 'console', disk: undefined }, { kind: 'rng', disk: undefined });
  return out;
}

function guestNames(requests: readonly VirtioRequest[]): string[] {
  let blk = 0;
  return requests.map((r) => (r.kind === 'block' ? `/dev/vd${String.fromCharCode(0x61 + blk++)}` : r.kind === 'console' ? '/dev/hvc0' : '/dev/hwrng'));
}

/** Windows for a generated devicetree: consecutive from {@link VIRTIO_MMIO_BASE}, SPIs from {@link VIRTIO_FIRST_SPI}. */
export function generatedVirtioWindows(requests: readonly VirtioRequest[]): VirtioMmioDtEntry[] {
  return virtioMmioLayout(VIRTIO_MMIO_BASE, VIRTIO_FIRST_SPI, requests.length);
}

/**
 * Give each request the window of the same index and the doorbell label the generated DT declared
 * for its SPI.
 *
 * @throws {ConfigError} BAD_LAYOUT when the generator declared no doorbell for a window's SPI
 */
export function placeGenerated(
  requests: readonly VirtioRequest[],
  windows: readonly VirtioMmioDtEntry[],
  doorbells: readonly GunyahDoorbell[],
): PlannedVirtioDevice[] {
  const names = guestNames(requests);
  return requests.map((r, i) => {
    const w = windows[i];
    const bell = w === undefined ? undefined : doorbells.find((d) => d.spi === w.spi);
    if (w === undefined || bell === undefined) throw new ConfigError('BAD_LAYOUT', `no virtio-mmio window or doorbell for device ${i}`);
    return { ...r, address: w.address, size: w.size, spi: w.spi, irqLabel: bell.label, guestName: names[i] as string };
  });
}

/** A `virtio,mmio` node of a user DT that the VMM can serve (it has an SPI with a doorbell). */
interface DtVirtioSlot {
  readonly address: bigint;
  readonly size: bigint;
  readonly spi: number;
  readonly label: number;
}

function dtVirtioSlots(tree: DeviceTree, doorbells: readonly GunyahVdeviceInfo[]): { usable: DtVirtioSlot[]; unusable: string[] } {
  const usable: DtVirtioSlot[] = [];
  const unusable: string[] = [];
  for (const e of tree.walk()) {
    let names: string[] = [];
    try {
      names = e.node.property('compatible')?.asStringList() ?? [];
    } catch {
      continue;
    }
    if (!names.includes('virtio,mmio')) continue;
    const reg = e.node.property('reg');
    const irq = e.node.property('interrupts');
    if (reg === undefined || reg.value.length !== 16 || irq === undefined || irq.value.length < 12) {
      unusable.push(`${e.path} (reg must be <addr64 size64>, interrupts <0 spi flags>)`);
      continue;
    }
    const v = new DataView(reg.value.buffer, reg.value.byteOffset, reg.value.byteLength);
    const address = v.getBigUint64(0, false);
    const size = v.getBigUint64(8, false);
    const cells = irq.asU32Array();
    const spi = cells[0] === 0 ? cells[1] : undefined;
    const bell = spi === undefined ? undefined : doorbells.find((d) => d.type === 'doorbell' && d.interrupts?.[0] === 0 && d.interrupts[1] === spi && d.label !== undefined);
    if (spi === undefined || bell?.label === undefined || size < 0x200n || address % 0x200n !== 0n) {
      unusable.push(`${e.path} (needs a 0x200-aligned window of at least 0x200 bytes and an SPI with a doorbell)`);
      continue;
    }
    usable.push({ address, size: 0x200n, spi, label: bell.label });
  }
  usable.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
  return { usable, unusable };
}

/**
 * Place the requests on the `virtio,mmio` nodes of a user DT, in address order. Disks must all get a
 * node; the console and the rng are left out (with a note in `notes`) when the DT has no room.
 *
 * @throws {ConfigError} BAD_DTB when `--disk` is given and the DT has too few usable `virtio,mmio` nodes
 */
export function placeInUserDt(
  requests: readonly VirtioRequest[],
  tree: DeviceTree,
  doorbells: readonly GunyahVdeviceInfo[],
  notes: string[],
): PlannedVirtioDevice[] {
  if (requests.length === 0) return [];
  const { usable, unusable } = dtVirtioSlots(tree, doorbells);
  const disks = requests.filter((r) => r.kind === 'block').length;
  if (disks > usable.length) {
    const why = unusable.length > 0 ? `; unusable: ${unusable.join(', ')}` : '';
    throw new ConfigError(
      'BAD_DTB',
      `--disk needs ${disks} virtio,mmio node${disks === 1 ? '' : 's'} (with an SPI and a doorbell) in the DTB, which has ${usable.length}${why}; leave out --dtb to have them generated`,
    );
  }
  const kept = requests.slice(0, Math.min(requests.length, usable.length));
  if (kept.length < requests.length) {
    notes.push(`the DTB has ${usable.length} usable virtio,mmio node${usable.length === 1 ? '' : 's'}: left out ${requests.slice(kept.length).map((r) => `virtio-${r.kind}`).join(', ')}`);
  }
  const names = guestNames(kept);
  return kept.map((r, i) => {
    const s = usable[i] as DtVirtioSlot;
    return { ...r, address: s.address, size: s.size, spi: s.spi, irqLabel: s.label, guestName: names[i] as string };
  });
}

/**
 * Check that every `--disk` file exists and is a regular file (or block device) before anything is
 * opened; the file is opened later, read-write unless `,ro`.
 *
 * @throws {ConfigError} FILE_NOT_FOUND, FILE_UNREADABLE, BAD_DISK (smaller than one sector)
 */
export function checkDisks(config: VmmConfig): void {
  for (const d of config.disks ?? []) {
    let st;
    try {
      st = statSync(d.path);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') throw new ConfigError('FILE_NOT_FOUND', `disk ${d.path} does not exist`, { cause: e });
      throw new ConfigError('FILE_UNREADABLE', `disk ${d.path} cannot be read (${code ?? String(e)})`, { cause: e });
    }
    if (!st.isFile() && !st.isBlockDevice()) throw new ConfigError('FILE_UNREADABLE', `disk ${d.path} is not a regular file or block device`);
    if (st.isFile() && st.size < 512) throw new ConfigError('BAD_DISK', `disk ${d.path} is ${st.size} bytes: smaller than one 512-byte sector`);
  }
}

/** One line per device for `--dry-run` and `--verbose`. */
export function describeVirtio(d: PlannedVirtioDevice): string {
  const what = d.kind === 'block' ? `virtio-blk ${d.guestName} from ${d.disk?.path ?? '?'}${d.disk?.readOnly === true ? ' (read-only)' : ''}` : d.kind === 'console' ? `virtio-console ${d.guestName} to stdout` : `virtio-rng ${d.guestName}`;
  return `${what} at 0x${d.address.toString(16)}, SPI ${d.spi}, irqfd on doorbell label ${d.irqLabel}`;
}

/** What {@link VirtioSet.attach} needs from the VMM. */
export interface VirtioAttachOptions {
  /** The planned devices. */
  readonly devices: readonly PlannedVirtioDevice[];
  /** The VM (irqfd and ioeventfd functions). */
  readonly vm: Vm;
  /** The backend's binding (eventfds, writes to them). */
  readonly binding: BindingModule;
  /** Guest memory the transports read rings and buffers from. */
  readonly memory: GuestMemory;
  /** Registers each window on the VMM's MMIO bus. */
  readonly register: (base: bigint, size: bigint, device: VirtioMmioTransport, name: string) => void;
  /** Where the virtio-console's output goes. */
  readonly consoleOutput: Writable;
  /**
   * Whether the binding's eventfds are kernel eventfds (native addon, emulator). Then worker threads
   * block in `read(2)` on the ioeventfds; otherwise (a fake) notifications wait for
   * {@link VirtioSet.pollNotifications}.
   */
  readonly kernelEventfds: boolean;
  /** Registers a teardown step (eventfds and disk files are released there). */
  readonly onTeardown: (fn: () => void) => void;
  /** Runs one setup step (the VMM turns failures into its own error type and logs in verbose mode). */
  readonly step: <T>(what: string, fn: () => T) => T;
  /** VMM messages (guest mistakes and device failures, throttled by the transports). */
  readonly log: (line: string) => void;
}

/** One wired device. */
export interface AttachedVirtio {
  /** The plan entry. */
  readonly planned: PlannedVirtioDevice;
  /** The device model. */
  readonly device: VirtioBlock | VirtioConsole | VirtioRng;
  /** Its transport (on the bus). */
  readonly transport: VirtioMmioTransport;
  /** The irqfd (bound to the doorbell). */
  readonly irqfd: number;
  /** The ioeventfds, one per queue, in queue order. */
  readonly ioeventfds: readonly number[];
}

/**
 * The VM's virtio devices, wired: created by {@link VirtioSet.attach} during the build, started after
 * `VM_START`, stopped when the vCPUs have stopped.
 */
export class VirtioSet {
  /** The devices in window order. */
  readonly devices: readonly AttachedVirtio[];
  readonly #kernelEventfds: boolean;
  readonly #binding: BindingModule;
  readonly #log: (line: string) => void;
  #listener: EventfdListener | undefined;
  #stopped = false;

  private constructor(devices: AttachedVirtio[], options: VirtioAttachOptions) {
    this.devices = devices;
    this.#kernelEventfds = options.kernelEventfds;
    this.#binding = options.binding;
    this.#log = options.log;
  }

  /**
   * Create each device, its transport on the bus, its irqfd (`ADD_FUNCTION` irqfd with the doorbell
   * label) and one ioeventfd per queue (`ADD_FUNCTION` ioeventfd, 4-byte datamatch = queue index at
   * `QueueNotify`). Everything created is released through `onTeardown`.
   *
   * @throws {ConfigError} FILE_UNREADABLE when a disk cannot be opened (e.g. read-write on a read-only file)
   */
  static attach(options: VirtioAttachOptions): VirtioSet {
    const { binding, vm, step } = options;
    const c = binding.constants();
    const one = new BigUint64Array([1n]);
    const attached: AttachedVirtio[] = [];
    for (const p of options.devices) {
      const device = step(`open ${p.kind === 'block' ? `disk ${p.disk?.path ?? ''}` : `virtio-${p.kind}`}`, () => makeDevice(p, options.consoleOutput));
      options.onTeardown(() => {
        if (device instanceof VirtioBlock) device.close();
      });
      const irqfd = step('eventfd', () => binding.eventfd(0, c.EFD_CLOEXEC | c.EFD_NONBLOCK));
      options.onTeardown(() => binding.close(irqfd));
      step(`ADD_FUNCTION irqfd label ${p.irqLabel} (${p.guestName})`, () => vm.addIrqfd({ fd: irqfd, label: p.irqLabel }));
      const trigger = (): void => {
        try {
          binding.write(irqfd, one);
        } catch {
          // EAGAIN: the counter is saturated, the doorbell is pending anyway
        }
      };
      const name = `virtio-${p.kind}@${p.address.toString(16)}`;
      const transport = new VirtioMmioTransport(device as VirtioDevice, {
        memory: options.memory,
        trigger,
        onError: (e: VirtioError | VirtqueueError) => options.log(`${name}: ${e.name} ${e.code}: ${e.message}`),
      });
      step(`MMIO ${name}`, () => options.register(p.address, p.size, transport, name));
      const ioeventfds: number[] = [];
      for (const io of virtioMmioIoeventfds({ address: p.address, size: p.size, spi: p.spi }, device.queueMaxSizes.length)) {
        // Blocking: a listener worker sleeps in read(2) on it.
        const fd = step('eventfd', () => binding.eventfd(0, c.EFD_CLOEXEC));
        options.onTeardown(() => binding.close(fd));
        step(`ADD_FUNCTION ioeventfd 0x${io.address.toString(16)} datamatch ${io.datamatch} (${name} queue ${io.queue})`, () =>
          vm.addIoeventfd({ fd, addr: io.address, len: io.length, datamatch: io.datamatch }),
        );
        ioeventfds.push(fd);
      }
      attached.push({ planned: p, device, transport, irqfd, ioeventfds });
    }
    return new VirtioSet(attached, options);
  }

  /**
   * Start serving queue notifications: with kernel eventfds, one `EventfdListener` worker per
   * ioeventfd (blocked in `read(2)`; no polling). Idempotent.
   */
  start(): void {
    if (this.#listener !== undefined || !this.#kernelEventfds || this.#stopped) return;
    const watches = this.devices.flatMap((d) =>
      d.ioeventfds.map((fd, queue) => ({
        fd,
        onEvent: () => {
          if (!this.#stopped) d.transport.notify(queue);
        },
      })),
    );
    if (watches.length === 0) return;
    this.#listener = new EventfdListener(watches, { onError: (e) => this.#log(`virtio: ${e.message}`) });
  }

  /**
   * Read every ioeventfd without blocking and notify the queues that were signalled; returns how many
   * were. For bindings without kernel eventfds (the fake), where no listener runs.
   */
  pollNotifications(): number {
    let n = 0;
    const buf = new BigUint64Array(1);
    for (const d of this.devices) {
      d.ioeventfds.forEach((fd, queue) => {
        let got = 0;
        try {
          got = this.#binding.read(fd, buf);
        } catch {
          got = 0; // EAGAIN: not signalled
        }
        if (got === 8 && buf[0] !== 0n && !this.#stopped) {
          n++;
          d.transport.notify(queue);
        }
      });
    }
    return n;
  }

  /** Stop the listener (after the vCPUs stopped); later notifications are ignored. Idempotent. */
  async stop(): Promise<void> {
    this.#stopped = true;
    const l = this.#listener;
    this.#listener = undefined;
    if (l !== undefined) await l.close();
  }
}

function makeDevice(p: PlannedVirtioDevice, out: Writable): VirtioBlock | VirtioConsole | VirtioRng {
  switch (p.kind) {
    case 'block': {
      const disk = p.disk as VirtioDiskConfig;
      try {
        return VirtioBlock.open(disk.path, { readOnly: disk.readOnly, serial: p.guestName.slice(5) });
      } catch (e) {
        // e.g. a read-only file without ",ro": bad input (exit 2), not a VMM failure
        if (e instanceof VirtioErrorClass && e.code === 'FILE_ERROR') throw new ConfigError('FILE_UNREADABLE', `disk ${disk.path}: ${e.message}`, { cause: e });
        throw e;
      }
    }
    case 'console':
      return new VirtioConsole({ output: (b) => out.write(Buffer.from(b)) });
    case 'rng':
      return new VirtioRng();
  }
}
