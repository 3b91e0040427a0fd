/*
 * kvm-probe: a tiny static arm64 program for the testbed's first end-to-end test. It opens
 * /dev/kvm, asks for the API version (KVM_GET_API_VERSION, _IO(0xAE, 0x00), expected 12),
 * creates a VM (KVM_CREATE_VM, _IO(0xAE, 0x01), type 0) and one vCPU (KVM_CREATE_VCPU,
 * _IO(0xAE, 0x41)), queries a few capabilities (KVM_CHECK_EXTENSION, _IO(0xAE, 0x03)) and prints
 * one JSON line. Exit status 0 when every step worked, 1 otherwise.
 * Written for gunyah-ts; built by packages/testbed at prepare time with aarch64-linux-gnu-gcc -static.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define KVMIO 0xAE
#define KVM_GET_API_VERSION _IO(KVMIO, 0x00)
#define KVM_CREATE_VM _IO(KVMIO, 0x01)
#define KVM_CHECK_EXTENSION _IO(KVMIO, 0x03)
#define KVM_CREATE_VCPU _IO(KVMIO, 0x41)

/* Capability numbers from the KVM uapi (linux/kvm.h). */
#define KVM_CAP_USER_MEMORY 3
#define KVM_CAP_ONE_REG 70
#define KVM_CAP_ARM_PSCI_0_2 102
#define KVM_CAP_ARM_VM_IPA_SIZE 165

int main(void) {
  int ok = 1;
  int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm < 0) {
    printf("{\"ok\":false,\"step\":\"open\",\"errno\":%d,\"error\":\"%s\"}\n", errno, strerror(errno));
    return 1;
  }
  int api = ioctl(kvm, KVM_GET_API_VERSION, 0);
  int vm = ioctl(kvm, KVM_CREATE_VM, 0);
  int vm_errno = vm < 0 ? errno : 0;
  int vcpu = vm >= 0 ? ioctl(vm, KVM_CREATE_VCPU, 0) : -1;
  int vcpu_errno = vcpu < 0 ? errno : 0;
  int cap_mem = ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY);
  int cap_reg = ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_ONE_REG);
  int cap_psci = ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_ARM_PSCI_0_2);
  int ipa = ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_ARM_VM_IPA_SIZE);
  if (api != 12 || vm < 0 || vcpu < 0) ok = 0;
  printf("{\"ok\":%s,\"api\":%d,\"vm\":%s,\"vmErrno\":%d,\"vcpu\":%s,\"vcpuErrno\":%d,"
         "\"capUserMemory\":%d,\"capOneReg\":%d,\"capPsci02\":%d,\"ipaSize\":%d}\n",
         ok ? "true" : "false", api, vm >= 0 ? "true" : "false", vm_errno, vcpu >= 0 ? "true" : "false",
         vcpu_errno, cap_mem, cap_reg, cap_psci, ipa);
  if (vcpu >= 0) close(vcpu);
  if (vm >= 0) close(vm);
  close(kvm);
  return ok ? 0 : 1;
}
