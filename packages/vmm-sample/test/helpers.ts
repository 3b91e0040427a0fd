// Test fixtures: generated arm64 Image headers, initrds and config objects (no kernel binary is committed).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { DEFAULTS, type VmmConfig } from '../src/config.js';

/** An arm64 Image: 64-byte header (magic at 0x38) plus a patterned body. */
export function imageBytes(o: { textOffset?: number; imageSize?: number; fileSize?: number } = {}): Uint8Array {
  const fileSize = o.fileSize ?? 64 * 1024;
  const b = new Uint8Array(fileSize);
  for (let i = 64; i < fileSize; i++) b[i] = (i * 7) & 0xff;
  const v = new DataView(b.buffer);
  v.setUint32(0, 0x14000010, true); // b +0x40 (code0)
  v.setBigUint64(8, BigInt(o.textOffset ?? 0), true);
  v.setBigUint64(16, BigInt(o.imageSize ?? 4 << 20), true);
  v.setBigUint64(24, 0xan, true); // LE, 4 KiB pages, anywhere in RAM
  v.setUint32(0x38, 0x644d5241, true);
  return b;
}

/** A temporary directory with files; `cleanup()` removes it. */
export function tempFiles(files: Record<string, Uint8Array | string>): { dir: string; path: (name: string) => string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'vmm-sample-test-'));
  for (const [name, data] of Object.entries(files)) writeFileSync(join(dir, name), data);
  return { dir, path: (n) => join(dir, n), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A full config with defaults, overridden by `o`. */
export function config(o: Partial<VmmConfig> & { kernel: string }): VmmConfig {
  return {
    dtb: undefined,
    initrd: undefined,
    cmdline: undefined,
    memSize: DEFAULTS.memSize,
    base: DEFAULTS.base,
    kernelOffset: undefined,
    dtbOffset: undefined,
    initrdOffset: undefined,
    dtbReserved: undefined,
    cpus: 1,
    backend: 'auto',
    abi: 'auto',
    dryRun: false,
    verbosity: 'normal',
    reboot: false,
    device: '/dev/gunyah',
    ...o,
  };
}

/** A writable that collects what is written. */
export function sink(): PassThrough & { text: () => string } {
  const s = new PassThrough() as PassThrough & { text: () => string };
  const chunks: Buffer[] = [];
  s.on('data', (c: Buffer) => chunks.push(c));
  s.text = () => Buffer.concat(chunks).toString('latin1');
  return s;
}
