// virtio-blk request throughput in-process: sequential 4 KiB and 64 KiB reads and writes through the
// transport, the split queue and VirtioBlock against a temp file, versus plain fs.readSync /
// fs.writeSync of the same sizes at the same offsets into the same guest-memory pages, in the same
// run, timed in CPU time. Guest memory is a memfd mapping (as in the VMM) when the @gunyah-ts/sys addon is built,
// otherwise an ArrayBuffer. Prints medians of RUNS runs.
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nativeBindingAvailable } from '@gunyah-ts/sys';
import { GuestMemory, guestAddress as ga } from '@gunyah-ts/vm-memory';
import { VIRTIO_MMIO, VirtioBlock, VirtioMmioTransport } from '../dist/index.js';

const FILE_SIZE = 64 << 20;
const RUNS = 7;
const DEPTH = 16; // requests per notification
const QSIZE = 64;
const RAM = 0x4000_0000n;

const dir = mkdtempSync(join(tmpdir(), 'virtio-bench-'));
const path = join(dir, 'disk.img');
writeFileSync(path, Buffer.alloc(FILE_SIZE, 0x5a));

const memfd = nativeBindingAvailable();
const regions = [{ start: RAM, size: 8 << 20 }];
const mem = memfd ? GuestMemory.createMemfd(regions) : GuestMemory.fromBuffers(regions);
const DATA = RAM + 0x10000n;
const w32 = (t, off, v) => t.write(off, 4, BigInt(v));

function bringUp(t) {
  w32(t, VIRTIO_MMIO.STATUS, 1);
  w32(t, VIRTIO_MMIO.STATUS, 3);
  w32(t, VIRTIO_MMIO.DRIVER_FEATURES_SEL, 1);
  w32(t, VIRTIO_MMIO.DRIVER_FEATURES, 1); // VERSION_1 only
  w32(t, VIRTIO_MMIO.STATUS, 11);
  const desc = RAM, avail = RAM + 0x1000n, used = RAM + 0x2000n;
  w32(t, VIRTIO_MMIO.QUEUE_NUM, QSIZE);
  w32(t, VIRTIO_MMIO.QUEUE_DESC_LOW, desc);
  w32(t, VIRTIO_MMIO.QUEUE_DRIVER_LOW, avail);
  w32(t, VIRTIO_MMIO.QUEUE_DEVICE_LOW, used);
  w32(t, VIRTIO_MMIO.QUEUE_READY, 1);
  w32(t, VIRTIO_MMIO.STATUS, 15);
  return { desc, avail, used };
}

function setDesc(q, i, addr, len, flags, next) {
  const at = q.desc + BigInt(16 * i);
  mem.writeU64(ga(at), addr);
  mem.writeU32(ga(at + 8n), len);
  mem.writeU16(ga(at + 12n), flags);
  mem.writeU16(ga(at + 14n), next);
}

function virtio(type, size) {
  const blk = VirtioBlock.open(path);
  const t = new VirtioMmioTransport(blk, { memory: mem, trigger: () => {}, eventIdx: false, indirect: false });
  const q = bringUp(t);
  // DEPTH requests, 3 descriptors each: header, data, status
  for (let r = 0; r < DEPTH; r++) {
    const hdr = RAM + 0x8000n + BigInt(r * 32);
    mem.writeU32(ga(hdr), type);
    setDesc(q, 3 * r, hdr, 16, 1, 3 * r + 1);
    setDesc(q, 3 * r + 1, DATA + BigInt(r * size), size, type === 0 ? 3 : 1, 3 * r + 2);
    setDesc(q, 3 * r + 2, hdr + 16n, 1, 2, 0);
  }
  let availIdx = 0;
  const start = process.cpuUsage();
  let pos = 0;
  while (pos < FILE_SIZE) {
    for (let r = 0; r < DEPTH && pos < FILE_SIZE; r++, pos += size) {
      mem.writeU64(ga(RAM + 0x8000n + BigInt(r * 32) + 8n), BigInt(pos / 512));
      mem.writeU16(ga(q.avail + 4n + BigInt(2 * (availIdx % QSIZE))), 3 * r);
      availIdx = (availIdx + 1) & 0xffff;
    }
    mem.writeU16(ga(q.avail + 2n), availIdx);
    t.write(VIRTIO_MMIO.QUEUE_NOTIFY, 4, 0n);
    const usedIdx = mem.readU16(ga(q.used + 2n));
    if (usedIdx !== availIdx) throw new Error(`device stalled: used ${usedIdx} avail ${availIdx}`);
  }
  const ns = cpuNs(start);
  if (t.broken || blk.stats.errors !== 0) throw new Error('device error during benchmark');
  blk.close();
  return ns;
}

function plain(type, size) {
  const fd = openSync(path, 'r+');
  // the same guest pages as the queue run: DEPTH buffers used in turn
  const buf = mem.hostView(ga(DATA), size * DEPTH);
  const start = process.cpuUsage();
  for (let pos = 0, r = 0; pos < FILE_SIZE; pos += size, r = (r + 1) % DEPTH) {
    if (type === 0) readSync(fd, buf, r * size, size, pos);
    else writeSync(fd, buf, r * size, size, pos);
  }
  const ns = cpuNs(start);
  closeSync(fd);
  return ns;
}

// CPU time (user + system, all threads) rather than wall time: the work is CPU-bound (page cache),
// and CPU time is far less disturbed by other jobs on a shared machine.
function cpuNs(start) {
  const d = process.cpuUsage(start);
  return (d.user + d.system) * 1000;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const mibs = (ns) => (FILE_SIZE / (1 << 20)) / (ns / 1e9);

console.log(`virtio-blk in-process, ${FILE_SIZE >> 20} MiB sequential per run, ${DEPTH} requests per notify, median of ${RUNS} paired runs, CPU time, guest memory: ${memfd ? 'memfd' : 'ArrayBuffer'}`);
console.log('| workload | virtio-blk (queue + device) | plain fs.readSync/writeSync | ratio | added per request |');
console.log('| --- | --- | --- | --- | --- |');
try {
  for (const [type, name] of [
    [0, 'read'],
    [1, 'write'],
  ]) {
    for (const size of [4096, 65536]) {
      virtio(type, size); // warm-up
      plain(type, size);
      const ours = [];
      const ref = [];
      for (let i = 0; i < RUNS; i++) {
        ours.push(virtio(type, size));
        ref.push(plain(type, size));
      }
      const a = mibs(median(ours));
      const b = mibs(median(ref));
      // ratio and per-request cost from each (ours, reference) pair run back to back, then the median
      const ratio = median(ours.map((o, i) => ref[i] / o));
      const perRequest = median(ours.map((o, i) => o - ref[i])) / (FILE_SIZE / size) / 1000;
      console.log(`| ${name} ${size >> 10} KiB | ${a.toFixed(0)} MiB/s | ${b.toFixed(0)} MiB/s | ${ratio.toFixed(2)}× | ${perRequest.toFixed(1)} µs |`);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
