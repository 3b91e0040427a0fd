import { describe, expect, it } from 'vitest';
import { DATA, ga, makeMemory, probe, type DriverQueue } from '../../test/helpers/driver.js';
import { VIRTIO_MMIO_INT, VIRTQ_DESC_F } from '../constants.js';
import { VirtioError } from '../errors.js';
import { VirtioMmioTransport } from '../transport.js';
import { VirtioConsole, type VirtioConsoleOptions } from './console.js';

const { WRITE } = VIRTQ_DESC_F;
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

function setup(opts: Partial<VirtioConsoleOptions> = {}) {
  const mem = makeMemory();
  const out: Uint8Array[] = [];
  const con = new VirtioConsole({ output: (b) => out.push(b), ...opts });
  let irqs = 0;
  const t = new VirtioMmioTransport(con, { memory: mem, trigger: () => irqs++ });
  const [rx, tx] = probe(t, mem) as [DriverQueue, DriverQueue];
  return { mem, con, t, rx, tx, out, irqs: () => irqs };
}

describe('VirtioConsole', () => {
  it('has two queues and a 12-byte config of zeros', () => {
    const { con, t } = setup();
    expect(con.queueMaxSizes).toEqual([128, 128]);
    expect(t.read(0x100, 4)).toBe(0n);
    expect(t.read(0x108, 4)).toBe(0n);
  });

  it('sends guest output to the sink, across segments, in order', () => {
    const { mem, tx, t, out, irqs } = setup();
    mem.writeAll(ga(DATA), enc('hello '));
    mem.writeAll(ga(DATA + 0x100n), enc('world'));
    mem.writeAll(ga(DATA + 0x200n), enc('!\n'));
    tx.push(
      tx.chain(0, [
        { addr: DATA, len: 6 },
        { addr: DATA + 0x100n, len: 5 },
      ]),
    );
    tx.push(tx.chain(2, [{ addr: DATA + 0x200n, len: 2 }]));
    t.notify(1);
    expect(out.map(dec).join('')).toBe('hello world!\n');
    expect(tx.takeUsed()).toEqual([
      { id: 0, len: 0 },
      { id: 2, len: 0 },
    ]);
    expect(irqs()).toBe(1);
    expect(t.interruptStatus & VIRTIO_MMIO_INT.VRING).toBe(1);
  });

  it('splits huge guest buffers into bounded pieces', () => {
    const { mem, tx, t, out } = setup({ maxChunk: 1000 });
    mem.fill(ga(DATA), 4500, 0x41);
    tx.push(tx.chain(0, [{ addr: DATA, len: 4500 }]));
    t.notify(1);
    expect(out.map((b) => b.length)).toEqual([1000, 1000, 1000, 1000, 500]);
  });

  it('delivers host input into posted receive buffers', () => {
    const { mem, rx, t, con } = setup();
    rx.push(rx.chain(0, [{ addr: DATA, len: 4, flags: WRITE }]));
    rx.push(rx.chain(1, [{ addr: DATA + 0x10n, len: 64, flags: WRITE }]));
    t.notify(0); // buffers posted, no input yet: nothing used
    expect(rx.takeUsed()).toEqual([]);
    expect(con.enqueue(enc('abcdefg'))).toBe(7);
    expect(rx.takeUsed()).toEqual([
      { id: 0, len: 4 },
      { id: 1, len: 3 },
    ]);
    expect(dec(mem.readBytes(ga(DATA), 4))).toBe('abcd');
    expect(dec(mem.readBytes(ga(DATA + 0x10n), 3))).toBe('efg');
    expect(con.pendingInput).toBe(0);
  });

  it('holds input until the guest posts buffers, bounded by inputLimit', () => {
    const { mem, rx, t, con } = setup({ inputLimit: 8 });
    expect(con.enqueue(enc('0123456789'))).toBe(8);
    expect(con.enqueue(enc('x'))).toBe(0);
    expect(con.pendingInput).toBe(8);
    expect(con.inputSpace).toBe(0);
    rx.push(rx.chain(0, [{ addr: DATA, len: 5, flags: WRITE }]));
    t.notify(0);
    expect(rx.takeUsed()).toEqual([{ id: 0, len: 5 }]);
    expect(dec(mem.readBytes(ga(DATA), 5))).toBe('01234');
    expect(con.pendingInput).toBe(3);
    expect(con.enqueue(enc('xyz'))).toBe(3);
    rx.push(rx.chain(1, [{ addr: DATA + 0x20n, len: 16, flags: WRITE }]));
    t.notify(0);
    expect(dec(mem.readBytes(ga(DATA + 0x20n), 6))).toBe('567xyz');
  });

  it('queues input that arrives before the driver is ready', () => {
    const mem = makeMemory();
    const con = new VirtioConsole({ output: () => {} });
    const t = new VirtioMmioTransport(con, { memory: mem, trigger: () => {} });
    expect(con.enqueue(enc('early'))).toBe(5);
    const [rx] = probe(t, mem) as [DriverQueue];
    rx.push(rx.chain(0, [{ addr: DATA, len: 16, flags: WRITE }]));
    t.notify(0);
    expect(dec(mem.readBytes(ga(DATA), 5))).toBe('early');
  });

  it('marks the device broken when input meets a hostile receive chain, without throwing', () => {
    const { rx, t, con } = setup();
    rx.push(0x200); // head out of range
    expect(() => con.enqueue(enc('x'))).not.toThrow();
    expect(t.broken).toBe(true);
    expect(t.lastError?.code).toBe('INDEX_OUT_OF_RANGE');
  });

  it('keeps going when the output sink throws', () => {
    const { mem, tx, t } = setup({
      output: () => {
        throw new Error('EPIPE');
      },
    });
    mem.writeAll(ga(DATA), enc('x'));
    tx.push(tx.chain(0, [{ addr: DATA, len: 1 }]));
    t.notify(1);
    expect(tx.takeUsed()).toEqual([{ id: 0, len: 0 }]);
    expect(t.broken).toBe(false);
  });

  it('validates options', () => {
    const output = (): void => {};
    expect(() => new VirtioConsole({ output, inputLimit: 0 })).toThrow(VirtioError);
    expect(() => new VirtioConsole({ output, queueSize: 6 })).toThrow(VirtioError);
    expect(() => new VirtioConsole({ output, maxChunk: 0 })).toThrow(VirtioError);
  });
});
