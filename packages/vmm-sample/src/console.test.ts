import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { Console, ESCAPE_HELP, EscapeFilter, type ConsoleInput, type EscapeEvent } from './console.js';
import { Uart8250 } from './devices/uart8250.js';
import { sink } from '../test/helpers.js';

const bytes = (...b: number[]) => Uint8Array.from(b);
const data = (e: EscapeEvent[]) => e.flatMap((x) => (x.kind === 'data' ? [...x.bytes] : []));

describe('EscapeFilter', () => {
  it('passes plain input through', () => {
    expect(new EscapeFilter().feed(bytes(0x6c, 0x73, 0x0a))).toEqual([{ kind: 'data', bytes: bytes(0x6c, 0x73, 0x0a) }]);
  });
  it('Ctrl-A x quits (after the bytes before it); Ctrl-A X too', () => {
    expect(new EscapeFilter().feed(bytes(0x61, 0x01, 0x78, 0x62))).toEqual([{ kind: 'data', bytes: bytes(0x61) }, { kind: 'quit' }, { kind: 'data', bytes: bytes(0x62) }]);
    expect(new EscapeFilter().feed(bytes(0x01, 0x58))).toEqual([{ kind: 'quit' }]);
  });
  it('Ctrl-A Ctrl-A sends one Ctrl-A; Ctrl-A h asks for help; other escapes are dropped', () => {
    const f = new EscapeFilter();
    expect(f.feed(bytes(0x01, 0x01))).toEqual([{ kind: 'data', bytes: bytes(0x01) }]);
    expect(f.feed(bytes(0x01, 0x68))).toEqual([{ kind: 'help' }]);
    expect(f.feed(bytes(0x01, 0x7a, 0x63))).toEqual([{ kind: 'data', bytes: bytes(0x63) }]);
  });
  it('an escape split across chunks still pairs up', () => {
    const f = new EscapeFilter();
    expect(f.feed(bytes(0x61, 0x01))).toEqual([{ kind: 'data', bytes: bytes(0x61) }]);
    expect(f.feed(bytes(0x78))).toEqual([{ kind: 'quit' }]);
  });
  it('property: chunking does not change the result; input without Ctrl-A is unchanged', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.array(fc.nat(200), { maxLength: 5 }), (input, cuts) => {
        const whole = new EscapeFilter().feed(input);
        const f = new EscapeFilter();
        const points = [...new Set(cuts.map((c) => c % (input.length + 1)))].sort((a, b) => a - b);
        const parts: EscapeEvent[] = [];
        let prev = 0;
        for (const p of [...points, input.length]) {
          parts.push(...f.feed(input.subarray(prev, p)));
          prev = p;
        }
        expect(data(parts)).toEqual(data(whole));
        expect(parts.filter((e) => e.kind !== 'data')).toEqual(whole.filter((e) => e.kind !== 'data'));
        if (!input.includes(1)) expect(data(whole)).toEqual([...input]);
      }),
    );
  });
});

function tty(): PassThrough & ConsoleInput & { raw: boolean[] } {
  const s = new PassThrough() as unknown as PassThrough & ConsoleInput & { raw: boolean[]; isTTY: boolean };
  s.raw = [];
  (s as { isTTY: boolean }).isTTY = true;
  s.setRawMode = (r: boolean) => s.raw.push(r);
  return s;
}

describe('Console', () => {
  it('puts a terminal in raw mode and restores it on close; a pipe is left alone', () => {
    const input = tty();
    const c = new Console({ input, output: sink(), onQuit: () => {} });
    c.attach(new Uart8250({ output: () => {} }));
    expect(c.raw).toBe(true);
    c.close();
    c.close();
    expect(input.raw).toEqual([true, false]);
    const pipe = new PassThrough() as ConsoleInput;
    const c2 = new Console({ input: pipe, output: sink(), onQuit: () => {} });
    c2.attach(new Uart8250({ output: () => {} }));
    expect(c2.raw).toBe(false);
    c2.close();
  });

  it('attaching again (after --reboot) moves input to the new UART without a second listener', async () => {
    const input = tty();
    const c = new Console({ input, output: sink(), onQuit: () => {} });
    const u1 = new Uart8250({ output: () => {} });
    const u2 = new Uart8250({ output: () => {} });
    c.attach(u1);
    c.attach(u2);
    expect(input.listenerCount('data')).toBe(1);
    expect(input.raw).toEqual([true]);
    expect(u1.onRxSpace).toBeUndefined();
    input.write('z');
    await new Promise((r) => setImmediate(r));
    expect(u1.rxSpace).toBe(64);
    expect(u2.rxSpace).toBe(63);
    c.close();
  });

  it('batches guest output into one write per burst and flushes on close', async () => {
    const out = sink();
    const write = vi.spyOn(out, 'write');
    const c = new Console({ input: undefined, output: out, onQuit: () => {} });
    for (const b of Buffer.from('hello, world')) c.writeByte(b);
    expect(write).not.toHaveBeenCalled();
    await new Promise((r) => setTimeout(r, 30));
    expect(write).toHaveBeenCalledTimes(1);
    c.writeByte(0x21);
    c.close();
    await new Promise((r) => setImmediate(r));
    expect(out.text()).toBe('hello, world!');
  });

  it('feeds input as the UART FIFO drains (back-pressure), pausing a fast source', async () => {
    const input = new PassThrough();
    const uart = new Uart8250({ output: () => {} });
    const c = new Console({ input, output: sink(), onQuit: () => {}, highWater: 100 });
    c.attach(uart);
    const text = Buffer.alloc(300, 0x41);
    input.write(text);
    await new Promise((r) => setImmediate(r));
    expect(uart.rxSpace).toBe(0); // FIFO full: 64 bytes
    expect(c.queued).toBe(300 - 64);
    expect(input.isPaused()).toBe(true);
    let got = 0;
    for (let round = 0; round < 20 && got < 300; round++) {
      while (uart.read(5, 1) & 1n) {
        uart.read(0, 1);
        got++;
      }
      await new Promise((r) => setImmediate(r));
    }
    expect(got).toBe(300);
    expect(c.queued).toBe(0);
    expect(input.isPaused()).toBe(false);
    c.close();
  });

  it('Ctrl-A x calls onQuit; Ctrl-A h prints the help', async () => {
    const input = new PassThrough();
    const out = sink();
    const onQuit = vi.fn();
    const c = new Console({ input, output: out, onQuit });
    c.attach(new Uart8250({ output: () => {} }));
    input.write(bytes(0x01, 0x68));
    input.write(bytes(0x01, 0x78));
    await new Promise((r) => setImmediate(r));
    expect(onQuit).toHaveBeenCalledTimes(1);
    expect(out.text()).toBe(ESCAPE_HELP);
    c.close();
  });
});
