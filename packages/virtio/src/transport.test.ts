import { describe, expect, it, vi } from 'vitest';
import { DATA, RAM_BASE, V1_ONLY, makeMemory, probe, r32, w32 } from '../test/helpers/driver.js';
import { VIRTIO_F, VIRTIO_ID, VIRTIO_MMIO, VIRTIO_MMIO_INT, VIRTIO_STATUS, VIRTQ_DESC_F, featureBit } from './constants.js';
import type { VirtioDevice, VirtioDeviceContext } from './device.js';
import { VirtioRng } from './devices/rng.js';
import { VirtioError, VirtqueueError } from './errors.js';
import { VirtioMmioTransport } from './transport.js';

const { ACKNOWLEDGE: ACK, DRIVER, FEATURES_OK, DRIVER_OK, DEVICE_NEEDS_RESET, FAILED } = VIRTIO_STATUS;
const M = VIRTIO_MMIO;

/** A device recording what the transport does to it. */
class RecordingDevice implements VirtioDevice {
  readonly deviceId = 0x2a;
  readonly features = featureBit(3) | featureBit(40);
  readonly queueMaxSizes = [16, 4];
  readonly configSize = 8;
  readonly config = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
  ctx: VirtioDeviceContext | undefined;
  notified: number[] = [];
  resets = 0;
  failActivate = false;
  throwOnNotify: unknown;
  readConfig(offset: number, size: number): bigint {
    let v = 0n;
    for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(this.config[offset + i] ?? 0);
    return v;
  }
  writeConfig(offset: number, size: number, value: bigint): void {
    for (let i = 0; i < size; i++) this.config[offset + i] = Number((value >> BigInt(8 * i)) & 0xffn);
  }
  activate(ctx: VirtioDeviceContext): void {
    if (this.failActivate) throw new Error('no');
    this.ctx = ctx;
  }
  queueNotify(index: number): void {
    if (this.throwOnNotify !== undefined) throw this.throwOnNotify;
    this.notified.push(index);
  }
  reset(): void {
    this.resets++;
    this.ctx = undefined;
  }
}

function make(device: VirtioDevice = new RecordingDevice(), opts: { eventIdx?: boolean; indirect?: boolean; maxReports?: number } = {}) {
  const mem = makeMemory();
  const errors: (VirtioError | VirtqueueError)[] = [];
  const trigger = vi.fn();
  const t = new VirtioMmioTransport(device, { memory: mem, trigger, onError: (e) => errors.push(e), ...opts });
  return { mem, t, errors, trigger };
}

const codes = (errors: { code: string }[]): string[] => errors.map((e) => e.code);

describe('VirtioMmioTransport: identification and features', () => {
  it('reads magic, version, device and vendor id', () => {
    const { t } = make();
    expect(r32(t, M.MAGIC_VALUE)).toBe(0x74726976);
    expect(r32(t, M.VERSION)).toBe(2);
    expect(r32(t, M.DEVICE_ID)).toBe(0x2a);
    expect(r32(t, M.VENDOR_ID)).toBe(0);
    expect(r32(t, M.CONFIG_GENERATION)).toBe(0);
    expect(r32(t, M.SHM_LEN_LOW)).toBe(0xffff_ffff);
  });

  it('offers device bits plus VERSION_1 and the ring features, word by word', () => {
    const { t } = make();
    w32(t, M.DEVICE_FEATURES_SEL, 0);
    expect(r32(t, M.DEVICE_FEATURES)).toBe((1 << 3) | (1 << VIRTIO_F.INDIRECT_DESC) | (1 << VIRTIO_F.EVENT_IDX));
    w32(t, M.DEVICE_FEATURES_SEL, 1);
    expect(r32(t, M.DEVICE_FEATURES)).toBe((1 << 0) | (1 << 8)); // VERSION_1 (32) and bit 40
    w32(t, M.DEVICE_FEATURES_SEL, 2);
    expect(r32(t, M.DEVICE_FEATURES)).toBe(0);
    const plain = make(new RecordingDevice(), { eventIdx: false, indirect: false });
    expect(plain.t.offeredFeatures).toBe(featureBit(3) | featureBit(40) | featureBit(32));
  });

  it('negotiates a subset and hands it to the device', () => {
    const dev = new RecordingDevice();
    const { t, mem } = make(dev);
    probe(t, mem, { features: V1_ONLY | featureBit(3) });
    expect(t.status).toBe(ACK | DRIVER | FEATURES_OK | DRIVER_OK);
    expect(t.negotiatedFeatures).toBe(V1_ONLY | featureBit(3));
    expect(dev.ctx?.features).toBe(V1_ONLY | featureBit(3));
    expect(dev.ctx?.queues.map((q) => q?.size)).toEqual([16, 4]);
  });

  it('refuses FEATURES_OK for features not offered', () => {
    const { t, mem, errors } = make();
    expect(() => probe(t, mem, { features: V1_ONLY | featureBit(4) })).toThrow('FEATURES_OK refused');
    expect(t.status).toBe(ACK | DRIVER);
    expect(codes(errors)).toEqual(['FEATURE_VIOLATION']);
  });

  it('refuses FEATURES_OK without VERSION_1 (legacy driver)', () => {
    const { t, mem, errors } = make();
    expect(() => probe(t, mem, { features: featureBit(3) })).toThrow('FEATURES_OK refused');
    expect(codes(errors)).toEqual(['FEATURE_VIOLATION']);
  });

  it('refuses bits in feature words above 1', () => {
    const { t, errors } = make();
    w32(t, M.STATUS, ACK);
    w32(t, M.STATUS, ACK | DRIVER);
    w32(t, M.DRIVER_FEATURES_SEL, 1);
    w32(t, M.DRIVER_FEATURES, 1);
    w32(t, M.DRIVER_FEATURES_SEL, 5);
    w32(t, M.DRIVER_FEATURES, 1);
    w32(t, M.STATUS, ACK | DRIVER | FEATURES_OK);
    expect(t.status & FEATURES_OK).toBe(0);
    expect(codes(errors)).toEqual(['FEATURE_VIOLATION', 'FEATURE_VIOLATION']);
  });

  it('ignores driver features written before DRIVER or after FEATURES_OK', () => {
    const { t, mem, errors } = make();
    w32(t, M.DRIVER_FEATURES, 0xff);
    expect(codes(errors)).toEqual(['FEATURE_VIOLATION']);
    probe(t, mem, { features: V1_ONLY });
    w32(t, M.DRIVER_FEATURES_SEL, 0);
    w32(t, M.DRIVER_FEATURES, 8);
    expect(t.negotiatedFeatures).toBe(V1_ONLY);
  });
});

describe('VirtioMmioTransport: status state machine', () => {
  it('rejects steps out of order and cleared bits', () => {
    const { t, errors } = make();
    w32(t, M.STATUS, DRIVER); // no ACK
    expect(t.status).toBe(0);
    w32(t, M.STATUS, ACK);
    w32(t, M.STATUS, ACK | DRIVER_OK); // skips DRIVER and FEATURES_OK
    expect(t.status).toBe(ACK);
    w32(t, M.STATUS, ACK | DRIVER);
    w32(t, M.STATUS, ACK | DRIVER | DRIVER_OK); // skips FEATURES_OK
    w32(t, M.STATUS, ACK); // clears DRIVER
    expect(t.status).toBe(ACK | DRIVER);
    expect(codes(errors)).toEqual(['STATUS_VIOLATION', 'STATUS_VIOLATION', 'STATUS_VIOLATION', 'STATUS_VIOLATION']);
  });

  it('lets the driver set FAILED and ignores driver attempts to set NEEDS_RESET', () => {
    const { t } = make();
    w32(t, M.STATUS, ACK | DEVICE_NEEDS_RESET);
    expect(t.status).toBe(ACK);
    w32(t, M.STATUS, ACK | FAILED);
    expect(t.status).toBe(ACK | FAILED);
  });

  it('resets on status 0: queues, features, interrupt status, device', () => {
    const dev = new RecordingDevice();
    const { t, mem } = make(dev);
    probe(t, mem);
    dev.ctx!.usedBuffers(dev.ctx!.queues[0]!); // nothing published: no interrupt
    expect(t.interruptStatus).toBe(0);
    dev.ctx!.configChanged();
    expect(t.interruptStatus).toBe(VIRTIO_MMIO_INT.CONFIG);
    const stale = dev.ctx!;
    w32(t, M.STATUS, 0);
    expect(dev.resets).toBe(2); // probe's initial reset + this one
    expect(t.status).toBe(0);
    expect(t.interruptStatus).toBe(0);
    expect(t.negotiatedFeatures).toBe(0n);
    w32(t, M.QUEUE_SEL, 0);
    expect(r32(t, M.QUEUE_READY)).toBe(0);
    expect(stale.run(() => 1)).toBeUndefined(); // an old context is dead
    stale.configChanged();
    expect(t.interruptStatus).toBe(0);
    probe(t, mem);
    expect(t.active).toBe(true);
  });

  it('marks the device broken when activation fails', () => {
    const dev = new RecordingDevice();
    dev.failActivate = true;
    const { t, mem, errors, trigger } = make(dev);
    probe(t, mem);
    expect(t.status & DEVICE_NEEDS_RESET).toBe(DEVICE_NEEDS_RESET);
    expect(t.broken).toBe(true);
    expect(codes(errors)).toEqual(['ACTIVATE_FAILED']);
    expect(t.interruptStatus & VIRTIO_MMIO_INT.CONFIG).toBe(VIRTIO_MMIO_INT.CONFIG);
    expect(trigger).toHaveBeenCalledTimes(1);
  });
});

describe('VirtioMmioTransport: queues', () => {
  it('reports QueueNumMax 0 for queues that do not exist', () => {
    const { t } = make();
    w32(t, M.QUEUE_SEL, 1);
    expect(r32(t, M.QUEUE_NUM_MAX)).toBe(4);
    w32(t, M.QUEUE_SEL, 2);
    expect(r32(t, M.QUEUE_NUM_MAX)).toBe(0);
  });

  it('ignores queue setup outside the FEATURES_OK window', () => {
    const { t, errors } = make();
    w32(t, M.QUEUE_SEL, 0);
    w32(t, M.QUEUE_NUM, 16);
    w32(t, M.QUEUE_READY, 1);
    expect(r32(t, M.QUEUE_READY)).toBe(0);
    expect(codes(errors)).toEqual(['QUEUE_CONFIG', 'QUEUE_CONFIG']);
  });

  it.each([
    ['a size that is not a power of two', [3]],
    ['a size above the maximum', [32]],
    ['a size of 0', [0]],
  ])('marks the device broken for %s', (_n, sizes) => {
    const { t, mem, errors } = make();
    probe(t, mem, { sizes, noDriverOk: true });
    expect(t.broken).toBe(true);
    expect(errors[0]).toBeInstanceOf(VirtqueueError);
    expect(codes(errors)[0]).toBe('BAD_QUEUE_CONFIG');
    expect(t.status & DEVICE_NEEDS_RESET).toBe(DEVICE_NEEDS_RESET);
  });

  it('marks the device broken for rings outside guest memory or misaligned', () => {
    for (const base of [0x1000n, RAM_BASE + 0x8n]) {
      const { t, mem, errors } = make();
      probe(t, mem, { base, noDriverOk: true });
      expect(codes(errors)[0]).toBe('BAD_QUEUE_CONFIG');
    }
  });

  it('refuses to change a ready queue and allows stopping it', () => {
    const { t, mem, errors } = make();
    probe(t, mem, { noDriverOk: true });
    w32(t, M.QUEUE_SEL, 0);
    w32(t, M.QUEUE_NUM, 8);
    expect(codes(errors)).toEqual(['QUEUE_CONFIG']);
    w32(t, M.QUEUE_READY, 0);
    expect(r32(t, M.QUEUE_READY)).toBe(0);
  });

  it('forwards notifications for ready queues of a live device only', () => {
    const dev = new RecordingDevice();
    const { t, mem } = make(dev);
    w32(t, M.QUEUE_NOTIFY, 0); // not live
    probe(t, mem);
    w32(t, M.QUEUE_NOTIFY, 1);
    t.notify(0);
    t.notify(7);
    t.notifyAll();
    expect(dev.notified).toEqual([1, 0, 0, 1]);
  });

  it('stops forwarding notifications for a queue the driver stops', () => {
    const dev = new RecordingDevice();
    const { t, mem } = make(dev);
    probe(t, mem);
    w32(t, M.QUEUE_SEL, 1);
    w32(t, M.QUEUE_READY, 0);
    t.notify(1);
    t.notify(0);
    expect(dev.notified).toEqual([0]);
  });

  it('marks the device broken when a notification throws, and recovers after reset', () => {
    const dev = new RecordingDevice();
    const { t, mem, errors, trigger } = make(dev);
    probe(t, mem);
    dev.throwOnNotify = new VirtqueueError('LOOP', 'loop', { queue: 0 });
    t.notify(0);
    expect(t.broken).toBe(true);
    expect(t.status).toBe(ACK | DRIVER | FEATURES_OK | DRIVER_OK | DEVICE_NEEDS_RESET);
    expect(r32(t, M.INTERRUPT_STATUS)).toBe(VIRTIO_MMIO_INT.CONFIG);
    expect(trigger).toHaveBeenCalledTimes(1);
    t.notify(0); // ignored now
    expect(codes(errors)).toEqual(['LOOP']);
    dev.throwOnNotify = new TypeError('bug');
    w32(t, M.STATUS, 0);
    probe(t, mem);
    t.notify(0);
    expect(codes(errors)).toEqual(['LOOP', 'DEVICE_ERROR']);
    expect(errors[1]?.cause).toBeInstanceOf(TypeError);
  });
});

describe('VirtioMmioTransport: interrupts with a device', () => {
  it('raises a used-buffer interrupt and clears it on ACK', () => {
    const { t, mem, trigger } = make(new VirtioRng(), { eventIdx: false });
    const [q] = probe(t, mem);
    q!.setDesc(0, { addr: DATA, len: 32, flags: VIRTQ_DESC_F.WRITE });
    q!.push(0);
    w32(t, M.QUEUE_NOTIFY, 0);
    expect(q!.takeUsed()).toEqual([{ id: 0, len: 32 }]);
    expect(trigger).toHaveBeenCalledTimes(1);
    expect(r32(t, M.INTERRUPT_STATUS)).toBe(VIRTIO_MMIO_INT.VRING);
    w32(t, M.INTERRUPT_ACK, VIRTIO_MMIO_INT.VRING);
    expect(r32(t, M.INTERRUPT_STATUS)).toBe(0);
  });

  it('goes to NEEDS_RESET on a hostile descriptor and never throws', () => {
    const { t, mem, errors } = make(new VirtioRng());
    const [q] = probe(t, mem);
    q!.setDesc(0, { addr: DATA, len: 8, flags: VIRTQ_DESC_F.WRITE | VIRTQ_DESC_F.NEXT, next: 0 });
    q!.push(0);
    expect(() => w32(t, M.QUEUE_NOTIFY, 0)).not.toThrow();
    expect(t.status & DEVICE_NEEDS_RESET).toBe(DEVICE_NEEDS_RESET);
    expect(codes(errors)).toEqual(['LOOP']);
    expect(q!.usedIdx).toBe(0);
  });

  it('survives a failing trigger and a failing error sink', () => {
    const mem = makeMemory();
    const t = new VirtioMmioTransport(new VirtioRng(), {
      memory: mem,
      trigger: () => {
        throw new Error('irqfd gone');
      },
      onError: () => {
        throw new Error('logger gone');
      },
    });
    const [q] = probe(t, mem);
    q!.setDesc(0, { addr: DATA, len: 8, flags: VIRTQ_DESC_F.WRITE });
    q!.push(0);
    expect(() => t.notify(0)).not.toThrow();
    expect(t.lastError?.code).toBe('DEVICE_ERROR');
    expect(t.broken).toBe(false);
  });
});

describe('VirtioMmioTransport: register access rules', () => {
  it('reads config space at every width and refuses accesses past it', () => {
    const { t, errors } = make();
    expect(t.read(0x100, 1)).toBe(1n);
    expect(t.read(0x101, 2)).toBe(0x0302n);
    expect(t.read(0x104, 4)).toBe(0x08070605n);
    expect(t.read(0x100, 8)).toBe(0x0807060504030201n);
    expect(t.read(0x106, 4)).toBe(0n);
    expect(t.read(0x1ff, 1)).toBe(0n);
    t.write(0x100, 2, 0xbeefn);
    expect(t.read(0x100, 2)).toBe(0xbeefn);
    expect(codes(errors)).toEqual(['BAD_REGISTER_ACCESS', 'BAD_REGISTER_ACCESS']);
  });

  it('refuses narrow, wide and unaligned control register accesses', () => {
    const { t, errors } = make();
    expect(t.read(M.MAGIC_VALUE, 1)).toBe(0n);
    expect(t.read(M.MAGIC_VALUE, 8)).toBe(0n);
    expect(t.read(2, 4)).toBe(0n);
    t.write(M.STATUS, 1, 1n);
    expect(t.status).toBe(0);
    t.write(M.MAGIC_VALUE, 4, 1n); // read-only
    expect(r32(t, M.QUEUE_NUM)).toBe(0); // write-only
    expect(r32(t, 0x0f0)).toBe(0); // unknown
    expect(codes(errors)).toEqual(Array(7).fill('BAD_REGISTER_ACCESS'));
  });

  it('stops reporting after maxReports but keeps counting', () => {
    const { t, errors } = make(new RecordingDevice(), { maxReports: 3 });
    for (let i = 0; i < 10; i++) t.read(1, 1);
    expect(errors).toHaveLength(3);
    expect(t.droppedReports).toBe(7);
    expect(t.lastError?.code).toBe('BAD_REGISTER_ACCESS');
  });

  it('validates its construction', () => {
    const mem = makeMemory();
    const trigger = (): void => {};
    const dev = (patch: Partial<VirtioDevice>): VirtioDevice => Object.assign(new RecordingDevice(), patch);
    for (const d of [dev({ queueMaxSizes: [] }), dev({ queueMaxSizes: [3] }), dev({ queueMaxSizes: [65536] }), dev({ configSize: 0x101 })]) {
      expect(() => new VirtioMmioTransport(d, { memory: mem, trigger })).toThrow(VirtioError);
    }
    expect(() => new VirtioMmioTransport(new RecordingDevice(), { memory: mem, trigger, maxReports: -1 })).toThrow(VirtioError);
    expect(VIRTIO_ID.RNG).toBe(new VirtioRng().deviceId);
  });
});
