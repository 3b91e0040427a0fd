// End-to-end test run inside the arm64 testbed host (npm run test:e2e); node:test, plain JS,
// because the host runs the repository's files with Node arm64 directly over 9p.
// It proves that the host has KVM, that Node runs there, that the arm64 build of the
// @gunyah-ts/sys addon loads and performs real ioctls, and that the guest payload is reachable.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { describe, it } from 'node:test';

const inTestbed = process.env.GUNYAH_TESTBED === '1';
const skip = inTestbed ? false : 'runs only inside the testbed: npm run test:e2e';
const manifest = inTestbed ? JSON.parse(readFileSync(process.env.GUNYAH_TESTBED_MANIFEST, 'utf8')) : undefined;

// KVM uapi request numbers (linux/kvm.h): _IO(0xAE, nr) = 0xAE00 | nr.
const KVM_GET_API_VERSION = 0xae00;
const KVM_CREATE_VM = 0xae01;
const KVM_CHECK_EXTENSION = 0xae03;
const KVM_CREATE_VCPU = 0xae41;
const KVM_CAP_ARM_PSCI_0_2 = 102;

describe('testbed host', { skip }, () => {
  it('runs Node for arm64', () => {
    assert.equal(process.arch, 'arm64');
    assert.equal(process.platform, 'linux');
    assert.equal(process.version, `v${manifest.versions.node}`);
  });

  it('has /dev/kvm as character device 10:232', () => {
    const st = statSync('/dev/kvm');
    assert.ok(st.isCharacterDevice(), '/dev/kvm is not a character device');
    assert.equal(Math.floor(st.rdev / 256), 10);
    assert.equal(st.rdev % 256, 232);
  });

  it('kvm-probe: API version 12, a VM and a vCPU can be created', () => {
    const out = execFileSync('kvm-probe', { encoding: 'utf8', timeout: 30_000 });
    const r = JSON.parse(out);
    assert.equal(r.api, 12);
    assert.equal(r.vm, true, `KVM_CREATE_VM failed with errno ${r.vmErrno}`);
    assert.equal(r.vcpu, true, `KVM_CREATE_VCPU failed with errno ${r.vcpuErrno}`);
    assert.equal(r.capPsci02, 1);
    assert.equal(r.ok, true);
  });

  it('the guest payload is readable over the share', () => {
    for (const f of [manifest.guestKernel, manifest.guestInitramfs]) {
      assert.ok(statSync(f).size > 1024, `${f} is missing or empty`);
    }
    const head = Buffer.alloc(64);
    const fd = openSync(manifest.guestKernel, 'r');
    try {
      readSync(fd, head, 0, 64, 0);
    } finally {
      closeSync(fd);
    }
    assert.equal(head.readUInt32LE(0x38), 0x644d5241, 'guest kernel lacks the arm64 Image magic');
  });
});

describe('@gunyah-ts/sys addon (arm64 build)', { skip: skip || (manifest?.addon ? false : 'no arm64 addon was built') }, () => {
  it('loads from GUNYAH_SYS_BINDING and issues real KVM ioctls', async () => {
    assert.equal(process.env.GUNYAH_SYS_BINDING, manifest.addon);
    const sys = await import('@gunyah-ts/sys');
    const { O_RDWR } = sys.sysConstants();
    const kvm = sys.open('/dev/kvm', O_RDWR);
    try {
      assert.equal(sys.io(0xae, 0x00), KVM_GET_API_VERSION);
      assert.equal(sys.ioctl(kvm, KVM_GET_API_VERSION), 12);
      assert.equal(sys.ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_ARM_PSCI_0_2), 1);
      const vm = sys.ioctl(kvm, KVM_CREATE_VM, 0);
      assert.ok(vm > 2, `VM fd ${vm}`);
      const vcpu = sys.ioctl(vm, KVM_CREATE_VCPU, 0);
      assert.ok(vcpu > 2, `vCPU fd ${vcpu}`);
      sys.close(vcpu);
      sys.close(vm);
    } finally {
      sys.close(kvm);
    }
  });

  it('reports errno as ErrnoError (EBADF on a closed fd)', async () => {
    const sys = await import('@gunyah-ts/sys');
    assert.throws(() => sys.ioctl(-2, KVM_GET_API_VERSION), (err) => err instanceof sys.ErrnoError && err.code === 'EBADF');
  });
});
