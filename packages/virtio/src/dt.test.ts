import { describe, expect, it } from 'vitest';
import { VirtioError } from './errors.js';
import { virtioMmioDtEntry, virtioMmioIoeventfds, virtioMmioLayout, virtioMmioNode } from './dt.js';

describe('devicetree helpers', () => {
  it('describes a window the way buildGunyahVmDt expects', () => {
    expect(virtioMmioDtEntry(0x0a00_0000n, 16)).toEqual({ address: 0x0a00_0000n, size: 0x200n, spi: 16 });
    expect(virtioMmioNode(virtioMmioDtEntry(0x0a00_0200n, 17))).toEqual({
      name: 'virtio_mmio@a000200',
      compatible: 'virtio,mmio',
      reg: [0x0a00_0200n, 0x200n],
      interrupts: [0, 17, 1],
      dmaCoherent: true,
    });
  });

  it('lays out consecutive windows with consecutive SPIs', () => {
    expect(virtioMmioLayout(0x0a00_0000n, 16, 3)).toEqual([
      { address: 0x0a00_0000n, size: 0x200n, spi: 16 },
      { address: 0x0a00_0200n, size: 0x200n, spi: 17 },
      { address: 0x0a00_0400n, size: 0x200n, spi: 18 },
    ]);
    expect(virtioMmioLayout(0n, 0, 0)).toEqual([]);
  });

  it('lists one datamatch ioeventfd per queue on QueueNotify', () => {
    expect(virtioMmioIoeventfds(virtioMmioDtEntry(0x0a00_0000n, 16), 2)).toEqual([
      { queue: 0, address: 0x0a00_0050n, length: 4, datamatch: 0n },
      { queue: 1, address: 0x0a00_0050n, length: 4, datamatch: 1n },
    ]);
  });

  it.each([
    [0x100n, 1],
    [-0x200n, 1],
    [(1n << 64n) - 0x200n + 0x200n, 1],
    [0x200n, -1],
    [0x200n, 988],
    [0x200n, 1.5],
  ])('refuses address %s / SPI %s', (address, spi) => {
    expect(() => virtioMmioDtEntry(address, spi)).toThrow(VirtioError);
  });

  it('refuses bad counts', () => {
    expect(() => virtioMmioLayout(0n, 0, -1)).toThrow(VirtioError);
    expect(() => virtioMmioLayout(0n, 980, 10)).toThrow(VirtioError);
  });
});
