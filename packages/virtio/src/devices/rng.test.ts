import { describe, expect, it } from 'vitest';
import { DATA, ga, makeMemory, probe, type DriverQueue } from '../../test/helpers/driver.js';
import { VIRTQ_DESC_F } from '../constants.js';
import { VirtioError } from '../errors.js';
import { VirtioMmioTransport } from '../transport.js';
import { VirtioRng, type VirtioRngOptions } from './rng.js';

const { WRITE } = VIRTQ_DESC_F;

function setup(opts: VirtioRngOptions = {}) {
  const mem = makeMemory();
  const rng = new VirtioRng(opts);
  const t = new VirtioMmioTransport(rng, { memory: mem, trigger: () => {} });
  const [q] = probe(t, mem) as [DriverQueue];
  return { mem, rng, t, q };
}

describe('VirtioRng', () => {
  it('fills writable buffers of every length and reports the count', () => {
    const { mem, q, t, rng } = setup();
    const lens = [1, 7, 64, 4096, 70000];
    let base = DATA;
    lens.forEach((len, i) => {
      mem.fill(ga(base), len, 0);
      q.push(q.chain(i, [{ addr: base, len, flags: WRITE }]));
      base += BigInt(len + 0x100);
    });
    t.notify(0);
    const used = q.takeUsed();
    expect(used.map((u) => u.len)).toEqual([1, 7, 64, 4096, 65536]); // capped at 64 KiB
    expect(rng.bytesServed).toBe(1 + 7 + 64 + 4096 + 65536);
    // a 4 KiB random buffer is not all zeros; the untouched tail of the capped one is
    const b = mem.readBytes(ga(DATA + BigInt(1 + 7 + 64 + 0x300)), 4096);
    expect(b.some((x) => x !== 0)).toBe(true);
    const capped = DATA + BigInt(1 + 7 + 64 + 4096 + 0x400);
    expect(mem.readBytes(ga(capped + 65536n), 70000 - 65536).every((x) => x === 0)).toBe(true);
  });

  it('spreads bytes over several writable segments from the given source', () => {
    let next = 0;
    const { mem, q, t } = setup({
      random: (b) => {
        for (let i = 0; i < b.length; i++) b[i] = next++ & 0xff;
      },
      maxBytesPerRequest: 10,
    });
    q.push(
      q.chain(0, [
        { addr: DATA, len: 4, flags: WRITE },
        { addr: DATA + 0x10n, len: 8, flags: WRITE },
      ]),
    );
    t.notify(0);
    expect(q.takeUsed()).toEqual([{ id: 0, len: 10 }]);
    expect([...mem.readBytes(ga(DATA), 4)]).toEqual([0, 1, 2, 3]);
    expect([...mem.readBytes(ga(DATA + 0x10n), 8)]).toEqual([4, 5, 6, 7, 8, 9, 0, 0]);
  });

  it('completes a chain with no writable buffer with length 0', () => {
    const { q, t } = setup();
    q.push(q.chain(0, [{ addr: DATA, len: 16 }]));
    t.notify(0);
    expect(q.takeUsed()).toEqual([{ id: 0, len: 0 }]);
  });

  it('validates options', () => {
    expect(() => new VirtioRng({ maxBytesPerRequest: 0 })).toThrow(VirtioError);
    expect(() => new VirtioRng({ queueSize: 100 })).toThrow(VirtioError);
  });
});
