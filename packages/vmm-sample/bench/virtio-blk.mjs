#!/usr/bin/env node
// virtio-blk throughput benchmark: prepares the testbed and its arm64 QEMU bundle (Debian's
// qemu-system-arm with its libraries, cache/qemu-arm64), then runs bench/virtio-blk-run.mjs inside
// the testbed's arm64 host: dd in the guest on vmm-sample versus qemu-system-aarch64 -accel kvm,
// same kernel, initramfs and image, same run. Extra arguments go to the inner script
// (--rounds N, --mib M). Usage: npm run build && node bench/virtio-blk.mjs
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkgDir = dirname(dirname(fileURLToPath(import.meta.url)));
const repoRoot = dirname(dirname(pkgDir));

function run(cmd, args, timeoutS) {
  return new Promise((resolve) => {
    process.stderr.write(`bench: $ ${cmd} ${args.join(' ')}\n`);
    const child = spawn(cmd, args, { stdio: 'inherit', cwd: repoRoot, detached: true });
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }, timeoutS * 1000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(code ?? 124);
    });
  });
}

let code = await run('npm', ['run', 'prepare-testbed', '-w', '@gunyah-ts/testbed', '--', '--qemu-bundle'], 1200);
if (code !== 0) process.exit(code);
const cache = join(repoRoot, 'packages', 'testbed', 'cache');
const manifest = JSON.parse(readFileSync(join(cache, 'manifest.json'), 'utf8'));
const bundle = JSON.parse(readFileSync(join(cache, 'qemu-arm64', 'bundle.json'), 'utf8'));
if (!manifest.guestVirtioInitramfs) throw new Error('the testbed has no virtio guest initramfs');
const args = [
  relative(repoRoot, join(pkgDir, 'bench', 'virtio-blk-run.mjs')),
  '--kernel', manifest.guestKernel, '--initrd', manifest.guestVirtioInitramfs, '--qemu', bundle.binary, '--qemu-lib', bundle.libraryPath,
  ...process.argv.slice(2),
];
code = await run('npm', ['run', 'run', '-w', '@gunyah-ts/testbed', '--', '--cwd', repoRoot, '--timeout', '3000', '--', 'node', ...args], 3300);
process.exit(code);
