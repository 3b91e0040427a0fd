import { describe, expect, it } from 'vitest';
import { AsmError, b, nop } from './a64.js';
import { smcccGuest, spinGuest, storeLoopGuest, tinyGuest } from './guests.js';
import { Assembler, PSCI_SYSTEM_OFF, type GuestProgram } from './program.js';

// A tiny A64 interpreter for the instruction subset the assembler emits, decoding the bit fields
// independently of the encoders. It runs a program the way KVM would present it to a VMM: every
// load/store outside the program is an "mmio" event, `hvc`/`smc` is a "call" event.
type Event =
  | { kind: 'mmio'; addr: bigint; len: number; isWrite: boolean; data: bigint }
  | { kind: 'call'; conduit: 'hvc' | 'smc'; x: bigint[] };

const M64 = (1n << 64n) - 1n;

function interpret(
  prog: GuestProgram,
  handlers: { read?: (addr: bigint, len: number) => bigint; call?: (x: bigint[]) => bigint[] | 'stop' } = {},
  maxSteps = 100_000,
): Event[] {
  const x = new Array<bigint>(32).fill(0n);
  const events: Event[] = [];
  const get = (r: number): bigint => (r === 31 ? 0n : (x[r] ?? 0n));
  const set = (r: number, v: bigint, w64: boolean): void => {
    if (r !== 31) x[r] = w64 ? v & M64 : v & 0xffff_ffffn;
  };
  let pc = 0;
  for (let step = 0; step < maxSteps; step++) {
    const w = prog.words[pc / 4];
    if (w === undefined) throw new Error(`pc ${pc} left the program`);
    const rd = w & 31;
    const rn = (w >>> 5) & 31;
    let next = pc + 4;
    if ((w & 0x1f80_0000) === 0x1280_0000) {
      // move wide
      const sf = w >>> 31 === 1;
      const opc = (w >>> 29) & 3;
      const hw = BigInt(((w >>> 21) & 3) * 16);
      const imm = BigInt((w >>> 5) & 0xffff);
      if (opc === 2) set(rd, imm << hw, sf);
      else if (opc === 3) set(rd, (get(rd) & ~(0xffffn << hw)) | (imm << hw), sf);
      else throw new Error(`unsupported move-wide ${w.toString(16)}`);
    } else if ((w & 0x3b00_0000) === 0x3900_0000) {
      // load/store unsigned immediate
      const size = w >>> 30;
      const load = ((w >>> 22) & 3) === 1;
      const off = BigInt(((w >>> 10) & 0xfff) << size);
      const addr = (rn === 31 ? 0n : get(rn)) + off;
      const len = 1 << size;
      if (load) {
        const v = handlers.read?.(addr, len) ?? 0n;
        events.push({ kind: 'mmio', addr, len, isWrite: false, data: 0n });
        set(rd, v, true);
      } else {
        events.push({ kind: 'mmio', addr, len, isWrite: true, data: get(rd) & ((1n << BigInt(8 * len)) - 1n) });
      }
    } else if ((w & 0x1f00_0000) === 0x1100_0000) {
      // add/sub immediate
      const sf = w >>> 31 === 1;
      const sub = ((w >>> 30) & 1) === 1;
      const imm = BigInt(((w >>> 10) & 0xfff) << (((w >>> 22) & 1) === 1 ? 12 : 0));
      const a = rn === 31 ? 0n : get(rn);
      set(rd, sub ? a - imm : a + imm, sf);
    } else if ((w & 0x7e00_0000) === 0x3400_0000) {
      // cbz/cbnz
      const sf = w >>> 31 === 1;
      const nz = ((w >>> 24) & 1) === 1;
      let imm = (w >>> 5) & 0x7ffff;
      if (imm >= 1 << 18) imm -= 1 << 19;
      const v = sf ? get(rd) : get(rd) & 0xffff_ffffn;
      if ((v !== 0n) === nz) next = pc + imm * 4;
    } else if ((w & 0xfc00_0000) === 0x1400_0000) {
      let imm = w & 0x3ff_ffff;
      if (imm >= 1 << 25) imm -= 1 << 26;
      if (imm === 0) return events; // `b .`: the guest parks here
      next = pc + imm * 4;
    } else if (((w & 0xffe0_001c) >>> 0) === 0xd400_0000 && (w & 3) >= 2) {
      const ev: Event = { kind: 'call', conduit: (w & 3) === 2 ? 'hvc' : 'smc', x: x.slice(0, 4) };
      events.push(ev);
      const r = handlers.call?.(x.slice(0, 8)) ?? 'stop';
      if (r === 'stop') return events;
      r.forEach((v, i) => set(i, v, true));
    } else if (w === nop()) {
      // nothing
    } else {
      throw new Error(`unsupported instruction 0x${w.toString(16)} at ${pc}`);
    }
    pc = next;
  }
  throw new Error('step limit');
}

const stopOnOff = (r: bigint[]): bigint[] | 'stop' => (r[0] === BigInt(PSCI_SYSTEM_OFF) ? 'stop' : r.slice(0, 4));

describe('tinyGuest', () => {
  const prog = tinyGuest({ mmioAddr: 0x0900_0000n, ioeventAddr: 0x0a00_0000n });

  it('performs the documented access sequence', () => {
    const events = interpret(prog, { read: () => 0x11n, call: stopOnOff });
    expect(events).toEqual([
      { kind: 'mmio', addr: 0x0900_0000n, len: 8, isWrite: true, data: 0x42n },
      { kind: 'mmio', addr: 0x0900_0000n, len: 8, isWrite: false, data: 0n },
      { kind: 'mmio', addr: 0x0900_0008n, len: 8, isWrite: true, data: 0x12n },
      { kind: 'mmio', addr: 0x0a00_0000n, len: 4, isWrite: true, data: 1n },
      { kind: 'call', conduit: 'hvc', x: [BigInt(PSCI_SYSTEM_OFF), 0x42n, 0x12n, 0x0a00_0000n] },
    ]);
  });

  it('ends in a hvc #0 then b .', () => {
    expect(prog.words.at(-2)).toBe(0xd400_0002);
    expect(prog.words.at(-1)).toBe(0x1400_0000);
    expect(prog.bytes.length).toBe(prog.words.length * 4);
    expect(new DataView(prog.bytes.buffer).getUint32(0, true)).toBe(prog.words[0]);
  });

  it('honours custom values and high addresses', () => {
    const p = tinyGuest({ mmioAddr: 0xffff_0000_1000n, ioeventAddr: 0x8000_0004, firstValue: 7, ioeventValue: 0xdead });
    const ev = interpret(p, { read: () => 0xffff_ffff_ffff_fffen, call: stopOnOff });
    expect(ev[0]).toMatchObject({ addr: 0xffff_0000_1000n, data: 7n });
    expect(ev[2]).toMatchObject({ addr: 0xffff_0000_1008n, data: 0xffff_ffff_ffff_ffffn });
    expect(ev[3]).toMatchObject({ addr: 0x8000_0004n, len: 4, data: 0xdeadn });
  });

  it('rejects bad addresses', () => {
    expect(() => tinyGuest({ mmioAddr: 0x1004, ioeventAddr: 0 })).toThrow(AsmError);
    expect(() => tinyGuest({ mmioAddr: 0, ioeventAddr: 2 })).toThrow(AsmError);
    expect(() => tinyGuest({ mmioAddr: -8, ioeventAddr: 0 })).toThrow(AsmError);
    expect(() => tinyGuest({ mmioAddr: 1n << 48n, ioeventAddr: 0 })).toThrow(AsmError);
  });
});

describe('smcccGuest', () => {
  it('calls the function id and stores x0..x3', () => {
    const prog = smcccGuest({ functionId: 0x8600_ff01, mmioAddr: 0x0900_0000, args: [1, 2n, 3] });
    const answers = [0xcd8f_d5c1n, 0xdb5f_53a4n, 0x36ce_6592n, 0x145f_3d67n];
    let first = true;
    const events = interpret(prog, {
      call: (r) => {
        if (first) {
          first = false;
          return answers;
        }
        return stopOnOff(r);
      },
    });
    expect(events[0]).toEqual({ kind: 'call', conduit: 'hvc', x: [0x8600_ff01n, 1n, 2n, 3n] });
    expect(events.slice(1, 5)).toEqual(answers.map((v, i) => ({ kind: 'mmio', addr: 0x0900_0000n + BigInt(8 * i), len: 8, isWrite: true, data: v })));
    expect(events[5]).toMatchObject({ kind: 'call', x: [BigInt(PSCI_SYSTEM_OFF), answers[1], answers[2], answers[3]] });
  });

  it('can use smc', () => {
    const events = interpret(smcccGuest({ functionId: 0xc600_8000, mmioAddr: 0x1000, conduit: 'smc' }), { call: () => 'stop' });
    expect(events).toEqual([{ kind: 'call', conduit: 'smc', x: [0xc600_8000n, 0n, 0n, 0n] }]);
  });

  it('rejects bad input', () => {
    expect(() => smcccGuest({ functionId: -1, mmioAddr: 0 })).toThrow(AsmError);
    expect(() => smcccGuest({ functionId: 2 ** 32, mmioAddr: 0 })).toThrow(AsmError);
    expect(() => smcccGuest({ functionId: 1, mmioAddr: 4 })).toThrow(AsmError);
    expect(() => smcccGuest({ functionId: 1, mmioAddr: 0, args: [1, 2, 3, 4] })).toThrow(AsmError);
  });
});

describe('storeLoopGuest', () => {
  it('stores count..1 then powers off', () => {
    const events = interpret(storeLoopGuest({ addr: 0x2000, count: 5 }), { call: () => 'stop' });
    expect(events.filter((e) => e.kind === 'mmio').map((e) => (e.kind === 'mmio' ? e.data : -1n))).toEqual([5n, 4n, 3n, 2n, 1n]);
    expect(events.at(-1)).toEqual({ kind: 'call', conduit: 'hvc', x: [BigInt(PSCI_SYSTEM_OFF), 0n, 0n, 0n] });
  });

  it('handles large counts with few instructions', () => {
    const p = storeLoopGuest({ addr: 0x2000, count: 0xffff_ffff });
    expect(p.words.length).toBeLessThan(16);
    expect(() => storeLoopGuest({ addr: 0x2000, count: 0 })).toThrow(AsmError);
    expect(() => storeLoopGuest({ addr: 0x2001, count: 1 })).toThrow(AsmError);
  });
});

describe('spinGuest and Assembler', () => {
  it('spins on b .', () => {
    expect([...spinGuest().words]).toEqual([0x1400_0000]);
  });

  it('resolves forward and backward labels', () => {
    const a = new Assembler().b('end').label('back').emit(nop()).label('end').b('back');
    expect([...a.assemble().words]).toEqual([b(8), nop(), b(-4)]);
  });

  it('reports label misuse', () => {
    expect(() => new Assembler().b('nowhere').assemble()).toThrow(expect.objectContaining({ code: 'UNKNOWN_LABEL' }));
    expect(() => new Assembler().label('x').label('x')).toThrow(expect.objectContaining({ code: 'DUPLICATE_LABEL' }));
    expect(() => new Assembler().emit(-1)).toThrow(expect.objectContaining({ code: 'IMM_RANGE' }));
  });
});
