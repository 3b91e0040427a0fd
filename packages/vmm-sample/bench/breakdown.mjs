// Where the time of one MMIO exit goes, measured in the same process as the rest of bench/run.mjs
// (inside the arm64 testbed): the pieces vmm-sample's exit path is made of, each alone.
//
// - kvm-raw: `ioctl(KVM_RUN)` from Node on the main thread + one read of exit_reason (the floor
//   for JavaScript), over a guest storing to an address no device claims.
// - kvm-wrapper: the same with `KvmVcpu.run()` (ioctl + decoding into the exit union).
// - kvm-worker: kvm-raw inside a worker thread (what a vCPU worker does per exit at least).
// - handoff-async: one round trip between a worker (Atomics.wait) and the main thread
//   (Atomics.waitAsync): what each exit forwarded to the main thread costs on top.
// - handoff-sync: the same with the main thread in Atomics.wait (no event-loop turn).
import { Worker } from 'node:worker_threads';

const RAM_BASE = 0x8000_0000n;
const RAM_SIZE = 2 * 1024 * 1024;
const DIST_BASE = 0x3fff_0000n;
const REDIST_BASE = 0x3ffd_0000n;
const MMIO = 0x0900_0000n;

const kvmUrl = import.meta.resolve('@gunyah-ts/emu/kvm');
const guestUrl = import.meta.resolve('@gunyah-ts/emu/guest');

/** µs per exit of `count` guest stores run with `KVM_RUN` in this thread. */
export async function kvmLoop(count, wrapper) {
  const sys = await import('@gunyah-ts/sys');
  const K = await import(kvmUrl);
  const G = await import(guestUrl);
  const kvm = K.Kvm.open();
  const vm = kvm.createVm();
  const memfd = sys.memfdCreate('guest-ram');
  sys.ftruncate(memfd, RAM_SIZE);
  const ram = sys.mmap(memfd, RAM_SIZE);
  new Uint8Array(ram).set(G.storeLoopGuest({ addr: MMIO, count }).bytes, 0);
  vm.setUserMemoryRegion({ slot: 0, guestPhysAddr: RAM_BASE, size: RAM_SIZE, userspaceAddr: sys.addressOf(ram) });
  const vcpu = vm.createVcpu(0);
  vcpu.init();
  vm.createVgicV3({ distBase: DIST_BASE, redistBase: REDIST_BASE, nrIrqs: 128 });
  vm.initVgic();
  vcpu.setPc(RAM_BASE);
  try {
    let exits = 0;
    const page = new DataView(vcpu.runView().buffer);
    const t0 = process.hrtime.bigint();
    for (;;) {
      let mmio;
      if (wrapper) mmio = vcpu.run().kind === 'mmio';
      else {
        sys.ioctl(vcpu.fd, K.KVM_REQUEST.RUN, 0);
        mmio = page.getUint32(8, true) === K.KVM_EXIT.MMIO;
      }
      if (!mmio) break;
      exits++;
    }
    const ns = process.hrtime.bigint() - t0;
    if (exits !== count) throw new Error(`expected ${count} exits, saw ${exits}`);
    return Number(ns) / 1000 / count;
  } finally {
    vcpu.close();
    vm.close();
    kvm.close();
    sys.munmap(ram);
    sys.close(memfd);
  }
}

const workerSrc = `
const { workerData, parentPort } = require('node:worker_threads');
if (workerData.kind === 'kvm') {
  import(workerData.self).then((m) => m.kvmLoop(workerData.count, false)).then((us) => parentPort.postMessage(us));
} else {
  const s = new Int32Array(workerData.sab);
  for (let i = 0; i < workerData.count; i++) {
    Atomics.store(s, 0, 1);
    Atomics.notify(s, 0);
    while (Atomics.load(s, 0) === 1) Atomics.wait(s, 0, 1);
  }
  parentPort.postMessage(0);
}`;

/** µs per round trip: the worker asks (state 1), the main thread answers (state 0). */
async function handoff(count, sync) {
  const sab = new SharedArrayBuffer(8);
  const s = new Int32Array(sab);
  const w = new Worker(workerSrc, { eval: true, workerData: { kind: 'handoff', sab, count } });
  const done = new Promise((res, rej) => {
    w.once('message', res);
    w.once('error', rej);
  });
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    if (sync) {
      while (Atomics.load(s, 0) !== 1) Atomics.wait(s, 0, 0);
    } else {
      while (Atomics.load(s, 0) !== 1) {
        const r = Atomics.waitAsync(s, 0, 0);
        if (r.async) await r.value;
      }
    }
    Atomics.store(s, 0, 0);
    Atomics.notify(s, 0);
  }
  const ns = process.hrtime.bigint() - t0;
  await done;
  await w.terminate();
  return Number(ns) / 1000 / count;
}

async function inWorker(count) {
  const w = new Worker(workerSrc, { eval: true, workerData: { kind: 'kvm', count, self: import.meta.url } });
  const us = await new Promise((res, rej) => {
    w.once('message', res);
    w.once('error', rej);
  });
  await w.terminate();
  return us;
}

/** Runs every piece `rounds` times (interleaved) and returns the medians, µs. */
export async function breakdown(rounds = 3, count = 10_000) {
  const all = { 'kvm-raw': [], 'kvm-wrapper': [], 'kvm-worker': [], 'handoff-async': [], 'handoff-sync': [] };
  for (let r = 0; r < rounds; r++) {
    all['kvm-raw'].push(await kvmLoop(count, false));
    all['kvm-wrapper'].push(await kvmLoop(count, true));
    all['kvm-worker'].push(await inWorker(count));
    all['handoff-async'].push(await handoff(count, false));
    all['handoff-sync'].push(await handoff(count, true));
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return Object.fromEntries(Object.entries(all).map(([k, v]) => [k, median(v)]));
}
