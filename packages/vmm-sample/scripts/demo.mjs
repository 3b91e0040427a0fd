#!/usr/bin/env node
// `npm run demo`: boot a Linux guest with vmm-sample and print its console.
//
// - On a Gunyah host (/dev/gunyah): natively.
// - On arm64 Linux with /dev/kvm: on the @gunyah-ts/emu emulator, directly.
// - Elsewhere (e.g. x86_64): inside the testbed's arm64 QEMU machine, on the emulator there.
//
// The guest (the Debian arm64 kernel and the testbed's busybox payload, fetched and built by the
// testbed's prepare step from Debian packages) prints its markers and powers off; the demo's exit
// status is vmm-sample's (0 when the guest powered off). Every stage is bounded by a timeout.
import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const pkgDir = dirname(here);
const repoRoot = dirname(dirname(pkgDir));
const cli = join(pkgDir, 'dist', 'bundle', 'vmm-sample.js'); // the command as installed (package.json "bin")
const BOOTARGS = 'console=ttyS0,115200 earlycon=uart8250,mmio,0x3f8 panic=-1 quiet';
const TIMEOUT_S = Number(process.env.VMM_DEMO_TIMEOUT ?? 600);

function say(line) {
  process.stderr.write(`demo: ${line}\n`);
}

/** Runs a command with inherited stdio, killed (process group) after `timeoutS`. */
function run(cmd, args, timeoutS, cwd = repoRoot) {
  return new Promise((resolve) => {
    say(`$ ${[cmd, ...args].map((a) => (/[\s"']/.test(a) ? JSON.stringify(a) : a)).join(' ')}`);
    const child = spawn(cmd, args, { stdio: 'inherit', cwd, detached: true });
    const timer = setTimeout(() => {
      say(`timed out after ${timeoutS} s; stopping`);
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }, timeoutS * 1000);
    const forward = (sig) => {
      try {
        process.kill(-child.pid, sig);
      } catch {
        // already gone
      }
    };
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      resolve(code ?? (signal === 'SIGKILL' ? 124 : 1));
    });
  });
}

function usable(path) {
  try {
    accessSync(path, constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

// 1. Kernel and initramfs: the testbed's prepare step (Debian packages, cached; a no-op when current).
let code = await run(npm, ['run', 'prepare-testbed', '-w', '@gunyah-ts/testbed'], 1200);
if (code !== 0) {
  say(`preparing the guest payload failed (${code}); see packages/testbed/README.md for the host packages it needs`);
  process.exit(code);
}
const manifestPath = process.env.GUNYAH_TESTBED_MANIFEST ?? join(repoRoot, 'packages', 'testbed', 'cache', 'manifest.json');
const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
const guestArgs = ['--kernel', manifest.guestKernel, '--initrd', manifest.guestInitramfs, '--cmdline', BOOTARGS];

// 2. Where to run.
if (existsSync('/dev/gunyah')) {
  say('found /dev/gunyah: booting natively');
  code = await run(process.execPath, [cli, '--backend', 'gunyah', ...guestArgs], TIMEOUT_S);
} else if (process.platform === 'linux' && process.arch === 'arm64' && usable('/dev/kvm')) {
  say('arm64 with /dev/kvm: booting on the @gunyah-ts/emu emulator');
  code = await run(process.execPath, [cli, '--backend', 'emu', ...guestArgs], TIMEOUT_S);
} else {
  say(`${process.arch} without Gunyah or arm64 KVM: booting inside the testbed's arm64 machine (QEMU), on the emulator there`);
  const inner = ['node', relative(repoRoot, cli), '--backend', 'emu', ...guestArgs];
  code = await run(npm, ['run', 'run', '-w', '@gunyah-ts/testbed', '--', '--cwd', repoRoot, '--timeout', String(TIMEOUT_S), '--', ...inner], TIMEOUT_S + 180);
}
say(code === 0 ? 'the guest powered off: exit status 0' : `exit status ${code}`);
process.exit(code);
