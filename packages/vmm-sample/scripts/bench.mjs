#!/usr/bin/env node
// `npm run bench`: builds the reference C VMM (bench/c-vmm/kvm-vmm.c, static arm64) and runs
// bench/run.mjs where arm64 KVM is: directly on arm64 Linux with /dev/kvm, else inside the testbed.
import { spawn } from 'node:child_process';
import { accessSync, constants, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkgDir = dirname(dirname(fileURLToPath(import.meta.url)));
const repoRoot = dirname(dirname(pkgDir));
const out = join(pkgDir, 'bench', 'c-vmm', 'build', 'kvm-vmm');

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

const nativeKvm = (() => {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    return process.platform === 'linux' && process.arch === 'arm64';
  } catch {
    return false;
  }
})();
mkdirSync(dirname(out), { recursive: true });
const gcc = nativeKvm ? 'gcc' : 'aarch64-linux-gnu-gcc';
let code = await run(gcc, ['-static', '-O2', '-Wall', '-o', out, join(pkgDir, 'bench', 'c-vmm', 'kvm-vmm.c')], 120);
if (code !== 0) process.exit(code);
code = await run('npm', ['run', 'prepare-testbed', '-w', '@gunyah-ts/testbed'], 1200);
if (code !== 0) process.exit(code);
const manifest = JSON.parse(readFileSync(join(repoRoot, 'packages', 'testbed', 'cache', 'manifest.json'), 'utf8'));
const args = [relative(repoRoot, join(pkgDir, 'bench', 'run.mjs')), '--c-vmm', out, '--kernel', manifest.guestKernel, '--initrd', manifest.guestInitramfs, ...process.argv.slice(2)];
if (nativeKvm) code = await run(process.execPath, args, 3600);
else code = await run('npm', ['run', 'run', '-w', '@gunyah-ts/testbed', '--', '--cwd', repoRoot, '--timeout', '3000', '--', 'node', ...args], 3300);
process.exit(code);
