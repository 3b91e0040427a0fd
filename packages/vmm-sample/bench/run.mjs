// Benchmarks of vmm-sample against a minimal C VMM on raw KVM (bench/c-vmm/kvm-vmm.c), each as a
// ratio measured in the same run, rounds alternating between the two. Runs on arm64 Linux with
// /dev/kvm (inside the testbed on x86: `npm run bench -w @gunyah-ts/vmm-sample`).
//
// (a) boot: process start → the guest's userspace marker (GUNYAH-GUEST-OK), Debian arm64 kernel +
//     the testbed's busybox payload, 1 vCPU, both VMMs placing the same bytes at the same addresses
//     (the C VMM gets vmm-sample's own plan: Image, initrd and DTB addresses and the DTB itself).
// (b) MMIO exit: a guest loop of 8-byte stores to the UART at 0x3f8, then PSCI SYSTEM_OFF; the
//     per-exit cost is the time difference between a long and a short loop over the count difference
//     (so process start, guest setup and teardown cancel out).
//
// (c) breakdown (bench/breakdown.mjs): the pieces of an exit alone — KVM_RUN from Node on the main
//     thread and in a worker, and one worker ↔ main-thread hand-off — to say where the time goes.
//
// usage: node bench/run.mjs --c-vmm PATH [--rounds N] [--only boot|mmio|breakdown] [--kernel Image --initrd guest.cpio]
//        [--short 2000] [--long 100000] [--main-long 20000]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { 'c-vmm': { type: 'string' }, rounds: { type: 'string' }, only: { type: 'string' }, kernel: { type: 'string' }, initrd: { type: 'string' }, short: { type: 'string' }, long: { type: 'string' }, 'main-long': { type: 'string' } },
});
const manifest = process.env.GUNYAH_TESTBED_MANIFEST ? JSON.parse(readFileSync(process.env.GUNYAH_TESTBED_MANIFEST, 'utf8')) : {};
const kernel = values.kernel ?? manifest.guestKernel;
const initrd = values.initrd ?? manifest.guestInitramfs;
const cVmm = values['c-vmm'];
const rounds = Number(values.rounds ?? 3);
const SHORT = Number(values.short ?? 2000);
// 100 000 stores: ~15 s of exits, so the start-up time of a Node process under TCG (which varies by
// ±0.5 s from run to run and is not part of an exit) moves a per-exit figure by ~5 µs, not ~30 µs as
// with 20 000. The main-thread UART (~1.5 ms per exit) keeps the shorter loop.
const LONG = Number(values.long ?? 100000);
const MAIN_LONG = Number(values['main-long'] ?? 20000);
if (!kernel || !initrd || !cVmm) {
  console.error('usage: node bench/run.mjs --c-vmm PATH [--kernel Image --initrd cpio] (or run inside the testbed)');
  process.exit(2);
}
// the command as installed (package.json "bin": the bundle), and its unbundled modules for (a)
const cli = fileURLToPath(new URL('../dist/bundle/vmm-sample.js', import.meta.url));
const cliModules = fileURLToPath(new URL('../dist/bin/cli.js', import.meta.url));
const { dryRunPlan, parseCommandLine } = await import('@gunyah-ts/vmm-sample');
const { storeLoopGuest } = await import('@gunyah-ts/emu/guest');
const dir = mkdtempSync(join(tmpdir(), 'vmm-sample-bench-'));
const BOOTARGS = 'console=ttyS0,115200 earlycon=uart8250,mmio,0x3f8 panic=-1 quiet';
const MARKER = 'GUNYAH-GUEST-OK';

/** Runs a command; resolves with ms to `marker` in stdout (or to exit) and the exit code. */
function timed(cmd, args, marker, env) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(env !== undefined ? { env: { ...process.env, ...env } } : {}) });
    let out = '';
    let err = '';
    let at;
    child.stdout.on('data', (c) => {
      if (marker === undefined || at !== undefined) return;
      out += c.toString('latin1');
      if (out.includes(marker)) at = process.hrtime.bigint();
      if (out.length > 1 << 16) out = out.slice(-256);
    });
    child.stderr.on('data', (c) => (err += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 600_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      const end = process.hrtime.bigint();
      if (code !== 0) return reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err.slice(-1500)}`));
      if (marker !== undefined && at === undefined) return reject(new Error(`${cmd}: no ${marker} in the output`));
      resolve(Number(((at ?? end) - t0) / 1000n) / 1000);
    });
  });
}

/** vmm-sample's plan for a config, and the C VMM's arguments for the same placement. */
async function planFor(args) {
  const cl = parseCommandLine(args);
  const plan = await dryRunPlan(cl.config, 'C');
  const dtb = join(dir, `plan-${Math.random().toString(36).slice(2)}.dtb`);
  writeFileSync(dtb, plan.dtb);
  const l = plan.layout;
  const c = [cl.config.kernel, `0x${l.kernel.loadAddress.toString(16)}`, dtb, `0x${l.dtb.address.toString(16)}`, String(plan.memory.size)];
  if (cl.config.initrd) c.push(cl.config.initrd, `0x${l.initrd.address.toString(16)}`);
  return c;
}

/** An arm64 Image around a raw program: `b #0x40` at 0, header fields, magic at 0x38, code at 0x40. */
function wrapImage(program) {
  const size = Math.ceil((0x40 + program.length) / 4096) * 4096;
  const b = new Uint8Array(size);
  const v = new DataView(b.buffer);
  v.setUint32(0, 0x14000010, true);
  v.setBigUint64(8, 0n, true);
  v.setBigUint64(16, BigInt(size), true);
  v.setBigUint64(24, 0xan, true);
  v.setUint32(0x38, 0x644d5241, true);
  b.set(program, 0x40);
  return b;
}

const median = (xs) => (xs.length === 0 ? NaN : [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]);

// (a) boot to the userspace marker
const bootArgs = ['--backend', 'emu', '--no-virtio', '--kernel', kernel, '--initrd', initrd, '--cmdline', BOOTARGS, '-q'];
const cBoot = await planFor(bootArgs);
const boot = { ours: [], ref: [], unbundled: [] };
for (let r = 0; r < (values.only === 'boot' || values.only === undefined ? rounds : 0); r++) {
  boot.ref.push(await timed(cVmm, cBoot, MARKER));
  boot.ours.push(await timed(process.execPath, [cli, ...bootArgs], MARKER));
  boot.unbundled.push(await timed(process.execPath, [cliModules, ...bootArgs], MARKER));
  console.error(
    `bench: boot round ${r + 1}: vmm-sample ${boot.ours.at(-1).toFixed(0)} ms (unbundled ${boot.unbundled.at(-1).toFixed(0)} ms), C VMM ${boot.ref.at(-1).toFixed(0)} ms`,
  );
}

// (b) MMIO exits: UART store loops
const loops = {};
for (const n of new Set([SHORT, LONG, MAIN_LONG])) {
  const path = join(dir, `loop-${n}.Image`);
  writeFileSync(path, wrapImage(storeLoopGuest({ addr: 0x3f8, count: n }).bytes));
  const args = ['--backend', 'emu', '--no-virtio', '--kernel', path, '--mem', '64M', '--cmdline', '', '-q'];
  loops[n] = { args, c: await planFor(args) };
}
// `mainThread`: vmm-sample with the UART on the main thread (VMM_SAMPLE_MAIN_THREAD_UART=1), i.e.
// every exit handed from the vCPU worker to the main thread, as before the worker fast path.
// `noSink`: the UART served by the vCPU worker's JavaScript handler for every exit
// (VMM_SAMPLE_UART_SINK=0), i.e. without the native run loop's MMIO sink.
const mmio = { ours: [], ref: [], noSink: [], mainThread: [] };
const ENV = { mainThread: { VMM_SAMPLE_MAIN_THREAD_UART: '1' }, noSink: { VMM_SAMPLE_UART_SINK: '0' } };
for (let r = 0; r < (values.only === 'mmio' || values.only === undefined ? rounds : 0); r++) {
  const t = {};
  const whos = ['ref', 'ours', 'noSink', 'mainThread'];
  const long = (who) => (who === 'mainThread' ? MAIN_LONG : LONG);
  for (const who of whos) {
    for (const n of [SHORT, long(who)]) {
      t[`${who}${n}`] = who === 'ref' ? await timed(cVmm, loops[n].c) : await timed(process.execPath, [cli, ...loops[n].args], undefined, ENV[who]);
    }
  }
  for (const who of whos) mmio[who].push(((t[`${who}${long(who)}`] - t[`${who}${SHORT}`]) * 1000) / (long(who) - SHORT));
  console.error(
    `bench: MMIO round ${r + 1}: vmm-sample ${mmio.ours.at(-1).toFixed(2)} µs/exit (no native sink: ${mmio.noSink.at(-1).toFixed(2)}; UART on the main thread: ${mmio.mainThread.at(-1).toFixed(2)}), C VMM ${mmio.ref.at(-1).toFixed(2)} µs/exit`,
  );
}
rmSync(dir, { recursive: true, force: true });

// (c) where the time of an exit goes
let parts;
if (values.only === undefined || values.only === 'breakdown') {
  const { breakdown } = await import('./breakdown.mjs');
  parts = await breakdown(rounds);
  console.error(`bench: breakdown (µs, medians): ${Object.entries(parts).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')}`);
}

const rows = [
  ['(a) start → guest userspace marker', `${median(boot.ours).toFixed(0)} ms`, `${median(boot.ref).toFixed(0)} ms`, median(boot.ours) / median(boot.ref), 1.5],
  ['(a) same, unbundled (dist/bin/cli.js)', `${median(boot.unbundled).toFixed(0)} ms`, `${median(boot.ref).toFixed(0)} ms`, median(boot.unbundled) / median(boot.ref), 1.5],
  ['(b) one MMIO exit (UART store loop)', `${median(mmio.ours).toFixed(2)} µs`, `${median(mmio.ref).toFixed(2)} µs`, median(mmio.ours) / median(mmio.ref), 1.5],
  ['(b) without the native MMIO sink (worker JavaScript handler)', `${median(mmio.noSink).toFixed(2)} µs`, `${median(mmio.ref).toFixed(2)} µs`, median(mmio.noSink) / median(mmio.ref), 1.5],
  ['(b) with the UART on the main thread', `${median(mmio.mainThread).toFixed(2)} µs`, `${median(mmio.ref).toFixed(2)} µs`, median(mmio.mainThread) / median(mmio.ref), 1.5],
];
console.log(`\n${rounds} alternating rounds, medians; reference: bench/c-vmm/kvm-vmm.c on raw KVM`);
console.log('| benchmark | vmm-sample | C VMM | ratio | target |');
console.log('| --- | --- | --- | --- | --- |');
for (const [name, ours, ref, ratio, target] of rows.filter((r) => Number.isFinite(r[3]))) console.log(`| ${name} | ${ours} | ${ref} | ${ratio.toFixed(2)}× | ≤ ${target}× ${ratio <= target ? 'met' : 'missed'} |`);
if (parts !== undefined) {
  console.log('\n| piece of one exit (alone) | µs |');
  console.log('| --- | --- |');
  for (const [k, v] of Object.entries(parts)) console.log(`| ${k} | ${v.toFixed(1)} |`);
}
console.log(JSON.stringify({ boot, mmio, parts }));
