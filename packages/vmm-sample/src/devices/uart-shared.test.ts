// Uart8250 over a shared state: instances in one or several threads behave as one device.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { absorbMmioWrite, encodeMmioSink, type MmioSink } from '@gunyah-ts/sys';
import { UART_FIFO_SIZE, UART_OUT_BUFFER, Uart8250, UartError } from './uart8250.js';
import { createConsoleUart, createWorkerMmio, uartWorkerMmio } from './uart-fast.js';

function pair() {
  const state = Uart8250.createSharedState();
  const written: number[] = [];
  let irqs = 0;
  const mk = () => new Uart8250({ shared: state, write: (b) => written.push(...b), trigger: () => irqs++ });
  return { state, a: mk(), b: mk(), written, irqs: () => irqs };
}

const r = (u: Uart8250, o: number): number => Number(u.read(o, 1));
const w = (u: Uart8250, o: number, v: number): void => u.write(o, 1, BigInt(v));

describe('Uart8250 shared state', () => {
  it('two instances over one buffer are one device: registers, FIFO, output order, counters', () => {
    const { a, b, written } = pair();
    expect(a.shared && b.shared).toBe(true);
    w(a, 3, 0x80); // DLAB via a
    w(b, 0, 0x01); // divisor via b
    expect(r(a, 0)).toBe(0x01);
    w(a, 3, 0x03);
    w(b, 7, 0x5a);
    expect(r(a, 7)).toBe(0x5a);
    expect(a.enqueue(Uint8Array.of(10, 11, 12))).toBe(3);
    expect(r(b, 5) & 1).toBe(1);
    expect([r(b, 0), r(a, 0), r(b, 0)]).toEqual([10, 11, 12]);
    expect(r(a, 5) & 1).toBe(0);
    for (const c of 'ab') w(a, 0, c.charCodeAt(0));
    for (const c of 'cd') w(b, 0, c.charCodeAt(0));
    expect(written).toEqual([]); // batched until flushed
    b.flushOutput();
    expect(String.fromCharCode(...written)).toBe('abcd');
    expect(a.stats).toEqual(b.stats);
    expect(a.stats).toMatchObject({ txBytes: 4, rxBytes: 3 });
  });

  it('interrupts: enabling THRE on one instance raises; input on the other raises RDA', () => {
    const { a, b, irqs } = pair();
    w(a, 1, 0x02);
    expect(irqs()).toBe(1);
    expect(r(b, 2) & 0x0f).toBe(0x02); // THR empty pending, acknowledged by this read
    expect(r(a, 2) & 0x0f).toBe(0x01);
    w(b, 1, 0x01);
    b.enqueue(Uint8Array.of(1));
    expect(r(a, 2) & 0x0f).toBe(0x04);
  });

  it('a full output buffer is written out at once, in order', () => {
    const { a, written } = pair();
    for (let i = 0; i < UART_OUT_BUFFER + 10; i++) w(a, 0, i & 0xff);
    expect(written.length).toBe(UART_OUT_BUFFER);
    a.flushOutput();
    expect(written).toEqual(Array.from({ length: UART_OUT_BUFFER + 10 }, (_, i) => i & 0xff));
  });

  it('property: any sequence of operations gives the same reads, output and interrupts as a private-state UART', () => {
    const op = fc.oneof(
      fc.record({ k: fc.constant('r' as const), off: fc.integer({ min: 0, max: 8 }), via: fc.boolean() }),
      fc.record({ k: fc.constant('w' as const), off: fc.integer({ min: 0, max: 8 }), v: fc.integer({ min: 0, max: 255 }), via: fc.boolean() }),
      fc.record({ k: fc.constant('in' as const), bytes: fc.uint8Array({ maxLength: 80 }), via: fc.boolean() }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const out: number[] = [];
        let irqA = 0;
        const local = new Uart8250({ output: (b) => out.push(b), trigger: () => irqA++ });
        const { a, b, written, irqs } = pair();
        for (const o of ops) {
          const u = o.via ? a : b;
          if (o.k === 'r') expect(u.read(o.off, 1)).toBe(local.read(o.off, 1));
          else if (o.k === 'w') {
            u.write(o.off, 1, BigInt(o.v));
            local.write(o.off, 1, BigInt(o.v));
          } else expect(u.enqueue(o.bytes)).toBe(local.enqueue(o.bytes));
        }
        a.flushOutput();
        expect(written).toEqual(out);
        expect(irqs()).toBe(irqA);
        expect(a.stats).toEqual(local.stats);
        expect(a.rxSpace).toBe(local.rxSpace);
      }),
      { numRuns: 200 },
    );
  });

  it('refuses a buffer that is not a UART state', () => {
    for (const bad of [new SharedArrayBuffer(16), new SharedArrayBuffer(Uart8250.createSharedState().byteLength), new ArrayBuffer(8)]) {
      expect(() => new Uart8250({ shared: bad as SharedArrayBuffer, write: () => {} })).toThrow(expect.objectContaining({ code: 'BAD_SHARED_STATE' }) as Error);
    }
  });

  it('the main instance hears drains and flushes output made by another instance (watch)', async () => {
    const { a, b, written } = pair();
    let space = 0;
    a.onRxSpace = () => space++;
    a.enqueue(Uint8Array.of(1, 2));
    r(b, 0);
    r(b, 0); // drained by the other instance
    w(b, 0, 0x41);
    await new Promise((res) => setTimeout(res, 30));
    expect(space).toBeGreaterThan(0);
    expect(written).toEqual([0x41]);
    a.onRxSpace = undefined;
  });
});

describe('Uart8250 shared state across threads', () => {
  it('three workers and the main thread writing at once: no byte lost, duplicated or reordered per writer', async () => {
    const dist = new URL('../../dist/devices/uart8250.js', import.meta.url);
    if (!existsSync(fileURLToPath(dist))) throw new Error(`build first: ${fileURLToPath(dist)} is missing`);
    const state = Uart8250.createSharedState();
    const N = 20_000;
    const WORKERS = 3;
    // the output log every writer appends to (under the UART's writer lock): [length, bytes...]
    const log = new Int32Array(new SharedArrayBuffer(4 * (1 + (WORKERS + 1) * N)));
    const go = new Int32Array(new SharedArrayBuffer(8)); // [start flag, workers ready]
    const code = `
      const { workerData, parentPort } = require('node:worker_threads');
      import(workerData.dist).then(({ Uart8250 }) => {
        const log = new Int32Array(workerData.log);
        const go = new Int32Array(workerData.go);
        Atomics.add(go, 1, 1);
        Atomics.wait(go, 0, 0); // start together with the others
        const u = new Uart8250({ shared: workerData.state, write: (b) => { for (const x of b) { const n = log[0]; log[1 + n] = x; log[0] = n + 1; } } });
        for (let i = 0; i < workerData.n; i++) u.write(0, 1, BigInt(workerData.k * 60 + (i % 60)));
        u.flushOutput();
        parentPort.postMessage('done');
      });`;
    const workers = Array.from({ length: WORKERS }, (_, k) => new Worker(code, { eval: true, workerData: { dist: dist.href, state, log: log.buffer, go: go.buffer, n: N, k } }));
    const main = new Uart8250({ shared: state, write: (b) => { for (const x of b) { const n = log[0] as number; log[1 + n] = x; log[0] = n + 1; } } });
    while (Atomics.load(go, 1) < WORKERS) await new Promise((res) => setTimeout(res, 5));
    Atomics.store(go, 0, 1);
    Atomics.notify(go, 0);
    for (let i = 0; i < N; i++) main.write(0, 1, BigInt(WORKERS * 60 + (i % 60)));
    await Promise.all(workers.map((wk) => new Promise((res, rej) => { wk.once('message', res); wk.once('error', rej); })));
    main.flushOutput();
    await Promise.all(workers.map((wk) => wk.terminate()));
    const out = Array.from(log.subarray(1, 1 + (log[0] as number)));
    expect(out.length).toBe((WORKERS + 1) * N);
    expect(main.stats.txBytes).toBe((WORKERS + 1) * N);
    for (let k = 0; k <= WORKERS; k++) {
      const mine = out.filter((x) => Math.floor(x / 60) === k);
      expect(mine).toEqual(Array.from({ length: N }, (_, i) => k * 60 + (i % 60)));
    }
  }, 30_000);
});

describe('worker fast path handler', () => {
  it('answers accesses inside the 8 registers and forwards the rest; bad data is a UartError', () => {
    const state = Uart8250.createSharedState();
    const h = createWorkerMmio({ state, base: 0x3f8n, outputFd: -1, irqfd: undefined }, 0) as (a: { addr: bigint; len: number; isWrite: boolean; data: bigint }) => unknown;
    expect(h({ addr: 0x3f7n, len: 1, isWrite: false, data: 0n })).toBe('forward');
    expect(h({ addr: 0x3ffn, len: 2, isWrite: false, data: 0n })).toBe('forward');
    expect(h({ addr: 0x3fdn, len: 1, isWrite: false, data: 0n })).toEqual({ value: 0x60n });
    expect(h({ addr: 0x3ffn, len: 1, isWrite: true, data: 0x33n })).toEqual({ value: 0n });
    const main = new Uart8250({ shared: state, write: () => {} });
    expect(r(main, 7)).toBe(0x33);
    expect(() => createWorkerMmio({ state: new ArrayBuffer(4), base: 0n, outputFd: 1 }, 0)).toThrow(UartError);
    expect(() => createWorkerMmio(null, 0)).toThrow(UartError);
  });

  it('createConsoleUart shares only for worker runs with an fd-backed stream', () => {
    const plain = createConsoleUart({ stream: {}, output: () => {}, base: 0x3f8n, workers: true });
    expect(plain.shared).toBe(false);
    expect(uartWorkerMmio(plain)).toBeUndefined();
    expect(createConsoleUart({ stream: { fd: 1 }, output: () => {}, base: 0x3f8n, workers: false }).shared).toBe(false);
    const fast = createConsoleUart({ stream: { fd: 1 }, output: () => {}, base: 0x3f8n, workers: true, irqfd: 7 });
    expect(fast.shared).toBe(true);
    expect(uartWorkerMmio(fast)).toMatchObject({ data: { base: 0x3f8n, outputFd: 1, irqfd: 7 } });
  });
});

const built = fileURLToPath(new URL('../../dist/devices/uart8250.js', import.meta.url));
describe.skipIf(!existsSync(built))('shared state across threads (needs `npx tsc -b`)', () => {
  it('input from the main thread drained by a worker thread keeps FIFO order; concurrent THR writes lose nothing', async () => {
    const { state, a, written } = pair();
    const N = 1500; // 2N output bytes stay below UART_OUT_BUFFER: the worker instance never flushes itself
    const code = `
      const { workerData, parentPort } = require('node:worker_threads');
      import(workerData.mod).then(({ Uart8250 }) => {
        const out = [];
        const u = new Uart8250({ shared: workerData.state, write: () => {} });
        const got = [];
        let k = 0;
        while (got.length < workerData.n) {
          if (Number(u.read(5, 1)) & 1) got.push(Number(u.read(0, 1)));
          if (k < workerData.n) u.write(0, 1, BigInt(0x80 | (k++ & 0x7f)));
        }
        while (k < workerData.n) u.write(0, 1, BigInt(0x80 | (k++ & 0x7f)));
        parentPort.postMessage(got);
      });`;
    const worker = new Worker(code, { eval: true, workerData: { state, n: N, mod: new URL('../../dist/devices/uart8250.js', import.meta.url).href } });
    const done = new Promise<number[]>((res, rej) => {
      worker.once('message', res);
      worker.once('error', rej);
    });
    let sent = 0;
    let mine = 0;
    while (sent < N) {
      sent += a.enqueue(Uint8Array.from({ length: Math.min(UART_FIFO_SIZE, N - sent) }, (_, i) => (sent + i) & 0x7f));
      if (mine < N) w(a, 0, mine++ & 0x7f);
      await new Promise((res) => setImmediate(res));
    }
    while (mine < N) w(a, 0, mine++ & 0x7f);
    const got = await done;
    await worker.terminate();
    a.flushOutput();
    expect(got).toEqual(Array.from({ length: N }, (_, i) => i & 0x7f));
    // each writer's bytes come out complete and in its own order
    const fromWorker = written.filter((x) => x & 0x80).map((x) => x & 0x7f);
    const fromMain = written.filter((x) => !(x & 0x80));
    expect(fromWorker).toEqual(Array.from({ length: N }, (_, i) => i & 0x7f));
    expect(fromMain).toEqual(Array.from({ length: N }, (_, i) => i & 0x7f));
    expect(a.stats.txBytes).toBe(2 * N);
  }, 30_000);
});

describe('Uart8250.txSink (the THR as a native MMIO write sink)', () => {
  it('is undefined for a private state and sits at base + 0 over the shared buffer', () => {
    expect(new Uart8250({ output: () => {} }).txSink(0x3f8n)).toBeUndefined();
    const u = new Uart8250({ shared: Uart8250.createSharedState(), write: () => {} });
    const s = u.txSink(0x1000n);
    expect(s?.addr).toBe(0x1000n);
    expect(s?.capacity).toBe(UART_OUT_BUFFER);
    expect(() => encodeMmioSink(s as MmioSink)).not.toThrow();
  });

  // The sink must be a pure shortcut: a write it absorbs leaves the device exactly as write() would.
  it('property: absorbing where it may and writing otherwise is the same device as always writing', () => {
    type Op = { kind: 'w'; off: number; v: number } | { kind: 'r'; off: number } | { kind: 'in'; n: number } | { kind: 'flush' };
    const op: fc.Arbitrary<Op> = fc.oneof(
      { weight: 8, arbitrary: fc.record({ kind: fc.constant('w' as const), off: fc.constant(0), v: fc.integer({ min: 0, max: 0x1ff }) }) },
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('w' as const), off: fc.integer({ min: 1, max: 7 }), v: fc.constantFrom(0, 0x02, 0x03, 0x10, 0x80, 0x83, 0x0f, 0x1f) }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('r' as const), off: fc.integer({ min: 0, max: 7 }) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('in' as const), n: fc.integer({ min: 1, max: 5 }) }) },
      { weight: 1, arbitrary: fc.constant({ kind: 'flush' as const }) },
    );
    let totalAbsorbed = 0;
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), fc.boolean(), (ops, small) => {
        const mk = () => {
          const state = Uart8250.createSharedState();
          const out: number[] = [];
          let irqs = 0;
          const u = new Uart8250({ shared: state, write: (b) => out.push(...b), trigger: () => irqs++ });
          return { state, u, out, irqs: () => irqs };
        };
        const ref = mk();
        const fast = mk();
        const sink = fast.u.txSink(0x3f8n) as MmioSink;
        // a small capacity reaches the "would fill" refusal often (the writer still flushes at 4096)
        const s: MmioSink = small ? { ...sink, capacity: 6 } : sink;
        let absorbed = 0;
        for (const o of ops) {
          if (o.kind === 'w') {
            ref.u.write(o.off, 1, BigInt(o.v));
            if (o.off === 0 && absorbMmioWrite(s, o.v)) absorbed++;
            else fast.u.write(o.off, 1, BigInt(o.v));
          } else if (o.kind === 'r') {
            expect(fast.u.read(o.off, 1)).toBe(ref.u.read(o.off, 1));
          } else if (o.kind === 'in') {
            const bytes = Uint8Array.from({ length: o.n }, (_, i) => 0x30 + i);
            expect(fast.u.enqueue(bytes)).toBe(ref.u.enqueue(bytes));
          } else {
            ref.u.flushOutput();
            fast.u.flushOutput();
          }
          expect(Buffer.from(fast.state).equals(Buffer.from(ref.state))).toBe(true);
          expect(fast.irqs()).toBe(ref.irqs());
        }
        ref.u.flushOutput();
        fast.u.flushOutput();
        expect(fast.out).toEqual(ref.out);
        expect(fast.u.stats).toEqual(ref.u.stats);
        totalAbsorbed += absorbed;
      }),
      { numRuns: 300 },
    );
    expect(totalAbsorbed).toBeGreaterThan(100); // the shortcut was taken, not always refused
  });
});
