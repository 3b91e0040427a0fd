/*
 * kvm-vmm: a minimal C VMM on raw arm64 KVM, the reference for vmm-sample's benchmarks.
 * Written for gunyah-ts (our own code). It does what vmm-sample does for a guest, minus Gunyah:
 * one RAM region at 0x8000_0000, the Image, initrd and DTB placed at addresses given on the
 * command line (the benchmark takes them from vmm-sample's own plan, so both boot the same
 * bytes at the same places), one vCPU with PSCI 0.2, an in-kernel GICv3 at the DTB's addresses,
 * and a 16550A UART at 0x3f8 (the same register model as vmm-sample's: THR/RBR, IER, IIR/FCR,
 * LCR, MCR, LSR, MSR, SCR; the THR-empty interrupt raised on SPI 0 with KVM_IRQ_LINE). Guest
 * output goes to stdout; unclaimed MMIO reads return 0. Exits 0 on PSCI SYSTEM_OFF, 5 on reset,
 * 4 on anything else.
 *
 * usage: kvm-vmm IMAGE IMAGE_ADDR DTB DTB_ADDR MEM_BYTES [INITRD INITRD_ADDR]
 * Built statically with aarch64-linux-gnu-gcc by bench/run.mjs.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define RAM_BASE 0x80000000ULL
#define GICD_BASE 0x3fff0000ULL
#define GICR_SIZE 0x20000ULL
#define UART_BASE 0x3f8ULL
#define UART_SPI 0

static int vm_fd;
static uint8_t *ram;
static uint64_t ram_size;

static void die(const char *what) {
  fprintf(stderr, "kvm-vmm: %s: %s\n", what, strerror(errno));
  exit(4);
}

static uint64_t num(const char *s) { return strtoull(s, NULL, 0); }

static void load(const char *path, uint64_t gpa) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) die(path);
  struct stat st;
  if (fstat(fd, &st) < 0) die(path);
  if (gpa < RAM_BASE || gpa + (uint64_t)st.st_size > RAM_BASE + ram_size) {
    fprintf(stderr, "kvm-vmm: %s does not fit at 0x%llx\n", path, (unsigned long long)gpa);
    exit(2);
  }
  uint8_t *dst = ram + (gpa - RAM_BASE);
  off_t done = 0;
  while (done < st.st_size) {
    ssize_t n = read(fd, dst + done, (size_t)(st.st_size - done));
    if (n <= 0) die(path);
    done += n;
  }
  close(fd);
}

/* ---- 16550A register model (mirrors vmm-sample's Uart8250) ---- */
static struct {
  uint8_t ier, lcr, mcr, scr, dll, dlm, msr;
  int fifo, thr_pending;
} uart = { .lcr = 0x03, .mcr = 0x08, .dll = 0x0c, .msr = 0xb0 };

static void irq_pulse(void) {
  struct kvm_irq_level l = { .irq = (KVM_ARM_IRQ_TYPE_SPI << KVM_ARM_IRQ_TYPE_SHIFT) | (32 + UART_SPI), .level = 1 };
  if (ioctl(vm_fd, KVM_IRQ_LINE, &l) < 0) die("KVM_IRQ_LINE");
  l.level = 0;
  if (ioctl(vm_fd, KVM_IRQ_LINE, &l) < 0) die("KVM_IRQ_LINE");
}

static uint8_t uart_iir(void) {
  uint8_t fifo = uart.fifo ? 0xc0 : 0;
  if ((uart.ier & 0x02) && uart.thr_pending) return 0x02 | fifo;
  if ((uart.ier & 0x08) && (uart.msr & 0x0f)) return 0x00 | fifo;
  return 0x01 | fifo;
}

static uint8_t uart_read(unsigned off) {
  int dlab = uart.lcr & 0x80;
  switch (off) {
  case 0: return dlab ? uart.dll : 0;
  case 1: return dlab ? uart.dlm : uart.ier;
  case 2: {
    uint8_t iir = uart_iir();
    if ((iir & 0x0f) == 0x02) uart.thr_pending = 0;
    return iir;
  }
  case 3: return uart.lcr;
  case 4: return uart.mcr;
  case 5: return 0x60; /* THRE | TEMT: transmission is instant, nothing received */
  case 6: {
    uint8_t v = uart.msr;
    uart.msr &= 0xf0;
    return v;
  }
  case 7: return uart.scr;
  }
  return 0;
}

static void uart_write(unsigned off, uint8_t v) {
  int dlab = uart.lcr & 0x80;
  switch (off) {
  case 0:
    if (dlab) { uart.dll = v; return; }
    if (!(uart.mcr & 0x10)) putchar(v);
    uart.thr_pending = 1;
    if (uart.ier & 0x02) irq_pulse();
    return;
  case 1:
    if (dlab) { uart.dlm = v; return; }
    {
      uint8_t before = uart.ier;
      uart.ier = v & 0x0f;
      if ((uart.ier & 0x02) && !(before & 0x02)) uart.thr_pending = 1;
      if ((uart_iir() & 0x0f) != 0x01) irq_pulse();
    }
    return;
  case 2: uart.fifo = v & 1; return;
  case 3: uart.lcr = v; return;
  case 4: uart.mcr = v & 0x1f; return;
  case 7: uart.scr = v; return;
  }
}

static void set_reg(int vcpu, uint64_t id, uint64_t value) {
  struct kvm_one_reg r = { .id = id, .addr = (uint64_t)(uintptr_t)&value };
  if (ioctl(vcpu, KVM_SET_ONE_REG, &r) < 0) die("KVM_SET_ONE_REG");
}

#define CORE_REG(name) (KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | KVM_REG_ARM_CORE_REG(name))

int main(int argc, char **argv) {
  if (argc != 6 && argc != 8) {
    fprintf(stderr, "usage: kvm-vmm IMAGE IMAGE_ADDR DTB DTB_ADDR MEM_BYTES [INITRD INITRD_ADDR]\n");
    return 2;
  }
  setvbuf(stdout, NULL, _IOFBF, 1 << 16);
  uint64_t image_addr = num(argv[2]), dtb_addr = num(argv[4]);
  ram_size = num(argv[5]);

  int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm < 0) die("/dev/kvm");
  vm_fd = ioctl(kvm, KVM_CREATE_VM, 0);
  if (vm_fd < 0) die("KVM_CREATE_VM");
  ram = mmap(NULL, ram_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (ram == MAP_FAILED) die("mmap RAM");
  struct kvm_userspace_memory_region region = { .slot = 0, .guest_phys_addr = RAM_BASE, .memory_size = ram_size, .userspace_addr = (uint64_t)(uintptr_t)ram };
  if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0) die("KVM_SET_USER_MEMORY_REGION");
  load(argv[1], image_addr);
  load(argv[3], dtb_addr);
  if (argc == 8) load(argv[6], num(argv[7]));

  struct kvm_create_device gic = { .type = KVM_DEV_TYPE_ARM_VGIC_V3 };
  if (ioctl(vm_fd, KVM_CREATE_DEVICE, &gic) < 0) die("KVM_CREATE_DEVICE vGICv3");
  uint64_t dist = GICD_BASE, redist = GICD_BASE - GICR_SIZE;
  struct kvm_device_attr a = { .group = KVM_DEV_ARM_VGIC_GRP_ADDR, .attr = KVM_VGIC_V3_ADDR_TYPE_DIST, .addr = (uint64_t)(uintptr_t)&dist };
  if (ioctl(gic.fd, KVM_SET_DEVICE_ATTR, &a) < 0) die("vGIC distributor address");
  a.attr = KVM_VGIC_V3_ADDR_TYPE_REDIST;
  a.addr = (uint64_t)(uintptr_t)&redist;
  if (ioctl(gic.fd, KVM_SET_DEVICE_ATTR, &a) < 0) die("vGIC redistributor address");

  int vcpu = ioctl(vm_fd, KVM_CREATE_VCPU, 0);
  if (vcpu < 0) die("KVM_CREATE_VCPU");
  struct kvm_vcpu_init init;
  if (ioctl(vm_fd, KVM_ARM_PREFERRED_TARGET, &init) < 0) die("KVM_ARM_PREFERRED_TARGET");
  init.features[0] |= 1u << KVM_ARM_VCPU_PSCI_0_2;
  if (ioctl(vcpu, KVM_ARM_VCPU_INIT, &init) < 0) die("KVM_ARM_VCPU_INIT");
  struct kvm_device_attr ctl = { .group = KVM_DEV_ARM_VGIC_GRP_CTRL, .attr = KVM_DEV_ARM_VGIC_CTRL_INIT };
  if (ioctl(gic.fd, KVM_SET_DEVICE_ATTR, &ctl) < 0) die("vGIC init");
  set_reg(vcpu, CORE_REG(regs.pc), image_addr);
  set_reg(vcpu, CORE_REG(regs.regs[0]), dtb_addr);

  int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
  if (run_size < 0) die("KVM_GET_VCPU_MMAP_SIZE");
  struct kvm_run *run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
  if (run == MAP_FAILED) die("mmap kvm_run");

  for (;;) {
    if (ioctl(vcpu, KVM_RUN, 0) < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      die("KVM_RUN");
    }
    switch (run->exit_reason) {
    case KVM_EXIT_MMIO: {
      uint64_t addr = run->mmio.phys_addr;
      int in_uart = addr >= UART_BASE && addr < UART_BASE + 8;
      if (run->mmio.is_write) {
        if (in_uart) uart_write((unsigned)(addr - UART_BASE), run->mmio.data[0]);
      } else {
        memset(run->mmio.data, 0, sizeof run->mmio.data);
        if (in_uart) run->mmio.data[0] = uart_read((unsigned)(addr - UART_BASE));
      }
      break;
    }
    case KVM_EXIT_SYSTEM_EVENT:
      fflush(stdout);
      if (run->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN) return 0;
      if (run->system_event.type == KVM_SYSTEM_EVENT_RESET) return 5;
      fprintf(stderr, "kvm-vmm: system event %u\n", run->system_event.type);
      return 4;
    default:
      fflush(stdout);
      fprintf(stderr, "kvm-vmm: exit reason %u\n", run->exit_reason);
      return 4;
    }
  }
}
