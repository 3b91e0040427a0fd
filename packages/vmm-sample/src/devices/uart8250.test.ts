import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UART_FIFO_SIZE, Uart8250 } from './uart8250.js';

function make() {
  const out: number[] = [];
  let irqs = 0;
  const uart = new Uart8250({ output: (b) => out.push(b), trigger: () => irqs++ });
  return { uart, out, irqs: () => irqs, r: (o: number) => Number(uart.read(o, 1)), w: (o: number, v: number) => uart.write(o, 1, BigInt(v)) };
}

describe('Uart8250 (16550A register model)', () => {
  it('transmits THR writes to the sink and always reports an empty transmitter', () => {
    const { out, r, w } = make();
    for (const c of 'hi\n') w(0, c.charCodeAt(0));
    expect(String.fromCharCode(...out)).toBe('hi\n');
    expect(r(5) & 0x60).toBe(0x60); // THRE | TEMT
    expect(r(5) & 0x01).toBe(0); // no data ready
  });

  it('queues input up to the FIFO size, reports data ready, and drains in order', () => {
    const { uart, r } = make();
    const input = Uint8Array.from({ length: 100 }, (_, i) => i);
    expect(uart.enqueue(input)).toBe(UART_FIFO_SIZE);
    expect(uart.enqueue(Uint8Array.of(1))).toBe(0);
    expect(r(5) & 1).toBe(1);
    const got: number[] = [];
    while (r(5) & 1) got.push(r(0));
    expect(got).toEqual([...input.subarray(0, UART_FIFO_SIZE)]);
    expect(r(0)).toBe(0); // reading an empty RBR
    expect(uart.stats.rxBytes).toBe(UART_FIFO_SIZE);
  });

  it('tells its owner when the guest drained the FIFO', () => {
    const { uart, r } = make();
    let calls = 0;
    uart.onRxSpace = () => calls++;
    uart.enqueue(Uint8Array.of(1, 2));
    r(0);
    expect(calls).toBe(0);
    r(0);
    expect(calls).toBe(1);
  });

  it('raises a received-data interrupt only when enabled, and IIR reports it first', () => {
    const { uart, r, w, irqs } = make();
    uart.enqueue(Uint8Array.of(0x41));
    expect(irqs()).toBe(0);
    expect(r(2) & 0x0f).toBe(0x01); // nothing pending while disabled
    r(0);
    w(1, 0x01); // IER: RDA
    uart.enqueue(Uint8Array.of(0x42));
    expect(irqs()).toBe(1);
    expect(r(2) & 0x0f).toBe(0x04);
    expect(r(0)).toBe(0x42);
    expect(r(2) & 0x0f).toBe(0x01);
  });

  it('THR-empty: pending when enabled, acknowledged by reading IIR, re-raised by each write', () => {
    const { r, w, irqs } = make();
    w(1, 0x02); // IER: THRE — THR is empty, so the interrupt is pending at once
    expect(irqs()).toBe(1);
    expect(r(2) & 0x0f).toBe(0x02);
    expect(r(2) & 0x0f).toBe(0x01); // acknowledged
    w(0, 0x61);
    expect(irqs()).toBe(2);
    expect(r(2) & 0x0f).toBe(0x02);
  });

  it('data-ready outranks THR-empty in IIR', () => {
    const { uart, r, w } = make();
    w(1, 0x03);
    uart.enqueue(Uint8Array.of(9));
    expect(r(2) & 0x0f).toBe(0x04);
    r(0);
    expect(r(2) & 0x0f).toBe(0x02);
  });

  it('uses the divisor latch while DLAB is set, without touching THR/IER', () => {
    const { out, r, w } = make();
    w(3, 0x83); // DLAB | 8N1
    w(0, 0x01);
    w(1, 0x00);
    expect(r(0)).toBe(0x01);
    expect(r(1)).toBe(0x00);
    expect(out).toEqual([]);
    w(3, 0x03);
    expect(r(1)).toBe(0); // IER untouched
    expect(r(3)).toBe(0x03);
  });

  it('reports FIFO-enabled in IIR after FCR enables it, and FCR can clear the receive FIFO', () => {
    const { uart, r, w } = make();
    w(2, 0x01);
    expect(r(2) & 0xc0).toBe(0xc0);
    uart.enqueue(Uint8Array.of(1, 2, 3));
    w(2, 0x03);
    expect(r(5) & 1).toBe(0);
  });

  it('loops transmit back to receive in loopback mode and mirrors modem lines into MSR', () => {
    const { out, r, w } = make();
    w(4, 0x10 | 0x0b); // LOOP | OUT2 | RTS | DTR
    w(0, 0x5a);
    expect(out).toEqual([]);
    expect(r(5) & 1).toBe(1);
    expect(r(0)).toBe(0x5a);
    expect(r(6) & 0xf0).toBe(0x80 | 0x10 | 0x20); // DCD, CTS, DSR
    w(4, 0x10);
    expect(r(6) & 0xf0).toBe(0);
  });

  it('keeps scratch, ignores writes to LSR/MSR, and reads 0 past the registers', () => {
    const { r, w } = make();
    w(7, 0xa5);
    expect(r(7)).toBe(0xa5);
    w(5, 0);
    expect(r(5) & 0x60).toBe(0x60);
    w(6, 0);
    expect(r(6)).toBe(0xb0);
    expect(r(8)).toBe(0);
  });

  it('survives any sequence of register accesses with sane LSR/IIR values', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 9 }), fc.integer({ min: 0, max: 255 }), fc.nat(5)), { maxLength: 200 }),
        (ops) => {
          const { uart, r, w } = make();
          for (const [isWrite, off, val, inject] of ops) {
            if (inject) uart.enqueue(new Uint8Array(inject).fill(val));
            if (isWrite) w(off, val);
            else {
              const v = r(off);
              expect(v).toBeGreaterThanOrEqual(0);
              expect(v).toBeLessThanOrEqual(255);
            }
            expect(uart.rxSpace).toBeGreaterThanOrEqual(0);
            const iir = r(2) & 0x0f;
            expect([0x00, 0x01, 0x02, 0x04, 0x06]).toContain(iir);
          }
        },
      ),
    );
  });
});
