/*
 * gunyah-ts layout check: our own C declarations of the /dev/gunyah uapi structs, written from the
 * tables of spec/gunyah-uapi.md §2-§3 (no kernel or third-party header is included or copied).
 *
 * Built three ways by test/layout/layout.test.ts (the host build also as C++ with g++):
 *   host:    cc -std=c11 -DGT_EXPECTED='"expected.h"' layouts.c -o layouts && ./layouts  -> prints JSON
 *   aarch64: aarch64-linux-gnu-gcc -std=c11 -ffreestanding -DGT_NO_MAIN -DGT_EXPECTED='"expected.h"' -c layouts.c
 * expected.h holds _Static_assert's generated from the TypeScript tables (test/layout/expected.ts),
 * so the cross build checks the arm64 ABI at compile time.
 */
#include <stddef.h>
#include <stdint.h>
#ifndef GT_NO_MAIN
#include <stdio.h>
#if defined(__has_include)
#if __has_include(<linux/ioctl.h>)
#include <linux/ioctl.h>
#define GT_HAVE_LINUX_IOCTL 1
#endif
#endif
#endif

#ifdef __cplusplus
/* Also builds as C++ (g++): C11's _Static_assert is C++11's static_assert. */
#define _Static_assert static_assert
#endif

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int32_t s32;

/* spec §2: generic Linux ioctl encoding (dir 30-31, size 16-29, type 8-15, nr 0-7). */
#define GT_IOC(dir, type, nr, size) ((u32)(((u32)(dir) << 30) | ((u32)(size) << 16) | ((u32)(type) << 8) | (u32)(nr)))
#define GT_IO(type, nr) GT_IOC(0u, (type), (nr), 0u)
#define GT_IOW(type, nr, T) GT_IOC(1u, (type), (nr), sizeof(T))

/* spec §3.1 */
struct gunyah_userspace_memory_region { u32 label; u32 flags; u64 guest_phys_addr; u64 memory_size; u64 userspace_addr; };
/* spec §3.2-§3.4 */
struct gunyah_vm_dtb_config { u64 guest_phys_addr; u64 size; };
struct gunyah_vm_firmware_config { u64 guest_phys_addr; u64 size; };
struct gunyah_address_range { u64 guest_phys_addr; u64 size; };
/* spec §3.5-§3.8 */
struct gunyah_fn_desc { u32 type; u32 arg_size; u64 arg; };
struct gunyah_fn_vcpu_arg { u32 id; };
struct gunyah_fn_irqfd_arg { u32 fd; u32 label; u32 flags; u32 padding; };
struct gunyah_fn_ioeventfd_arg { u64 datamatch; u64 addr; u32 len; s32 fd; u32 flags; u32 padding; };
/* spec §3.9-§3.11 */
struct gunyah_create_mem_args { u64 flags; u64 size; u64 reserved[6]; };
struct gunyah_map_mem_args { u64 guest_addr; u32 flags; u32 guest_mem_fd; u64 offset; u64 size; };
struct gunyah_vm_boot_context { u32 reg; u32 reserved; u64 value; };
/* spec §3.12 (C+) */
struct gunyah_map_cma_mem_args { u32 label; u64 guest_addr; u32 flags; u32 guest_mem_fd; u64 offset; u64 size; };
struct gunyah_auth_desc { u32 type; u32 arg_size; u64 arg; };
struct gunyah_qtvm_auth_arg { u16 vm_id; u32 peripheral_id; u64 guest_phys_addr; u64 size; };
/* spec §3.13 */
enum gunyah_vm_status { GT_VM_STATUS_LOAD_FAILED = 1, GT_VM_STATUS_EXITED = 2, GT_VM_STATUS_CRASHED = 3 };
struct gunyah_vm_exit_info { u16 type; u16 padding; u32 reason_size; u8 reason[8]; };
/* spec §3.14 */
struct gunyah_vcpu_run {
  u8 immediate_exit;
  u8 padding[7];
  u32 exit_reason;
  union {
    struct { u64 phys_addr; u8 data[8]; u32 len; u8 is_write; u8 resume_action; } mmio;
    struct { enum gunyah_vm_status status; struct gunyah_vm_exit_info exit_info; } status;
    struct { u64 phys_addr; s32 attempt; u8 resume_action; } page_fault;
  };
};

#define G 0x47
#define A 0x41

/* spec §2.1 */
#define REQ_CREATE_VM GT_IO(G, 0x00)
#define REQ_SET_USER_MEM_REGION GT_IOW(G, 0x01, struct gunyah_userspace_memory_region)
#define REQ_SET_DTB_CONFIG GT_IOW(G, 0x02, struct gunyah_vm_dtb_config)
#define REQ_VM_START GT_IO(G, 0x03)
#define REQ_ADD_FUNCTION GT_IOW(G, 0x04, struct gunyah_fn_desc)
#define REQ_VCPU_RUN GT_IO(G, 0x05)
#define REQ_VCPU_MMAP_SIZE GT_IO(G, 0x06)
#define REQ_REMOVE_FUNCTION GT_IOW(G, 0x07, struct gunyah_fn_desc)
#define REQ_CREATE_GUEST_MEM GT_IOW(G, 0x08, struct gunyah_create_mem_args)
#define REQ_MAP_MEM GT_IOW(G, 0x09, struct gunyah_map_mem_args)
#define REQ_SET_BOOT_CONTEXT GT_IOW(G, 0x0a, struct gunyah_vm_boot_context)
#define REQ_ANDROID_TENTATIVE_UAPI GT_IO(A, 0x10)
#define REQ_ANDROID_LEND_USER_MEM GT_IOW(A, 0x11, struct gunyah_userspace_memory_region)
#define REQ_ANDROID_SET_FW_CONFIG GT_IOW(A, 0x12, struct gunyah_vm_firmware_config)
#define REQ_RECLAIM_REGION GT_IOW(A, 0x13, struct gunyah_address_range)
#define REQ_CREATE_CMA_MEM_FD GT_IO(A, 0x14)
#define REQ_ANDROID_MAP_CMA_MEM GT_IOW(A, 0x15, struct gunyah_map_cma_mem_args)
#define REQ_ANDROID_SET_AUTH_TYPE GT_IOW(A, 0x16, struct gunyah_auth_desc)
#define REQ_CHECK_EXTENSION GT_IO(A, 0x17)

#ifdef GT_EXPECTED
#include GT_EXPECTED
#endif

#define STRUCT_BEGIN(T) printf("%s\n    \"%s\": {\"size\": %zu, \"fields\": {", first_struct ? "" : ",", #T, sizeof(struct T)); first_struct = 0; first_field = 1
#define FIELD(T, F) printf("%s\"%s\": %zu", first_field ? "" : ", ", #F, offsetof(struct T, F)); first_field = 0
#define STRUCT_END() printf("}}")
#define IOCTL(NAME, VALUE) printf("%s\n    \"%s\": %u", first_ioctl ? "" : ",", NAME, (unsigned)(VALUE)); first_ioctl = 0
#define RUN_FIELD(NAME, MEMBER) printf("%s\"%s\": %zu", first_field ? "" : ", ", NAME, offsetof(struct gunyah_vcpu_run, MEMBER)); first_field = 0

#ifndef GT_NO_MAIN
int main(void) {
  int first_struct = 1, first_field = 1, first_ioctl = 1;
  printf("{\n  \"structs\": {");
  STRUCT_BEGIN(gunyah_userspace_memory_region); FIELD(gunyah_userspace_memory_region, label); FIELD(gunyah_userspace_memory_region, flags);
  FIELD(gunyah_userspace_memory_region, guest_phys_addr); FIELD(gunyah_userspace_memory_region, memory_size); FIELD(gunyah_userspace_memory_region, userspace_addr); STRUCT_END();
  STRUCT_BEGIN(gunyah_vm_dtb_config); FIELD(gunyah_vm_dtb_config, guest_phys_addr); FIELD(gunyah_vm_dtb_config, size); STRUCT_END();
  STRUCT_BEGIN(gunyah_vm_firmware_config); FIELD(gunyah_vm_firmware_config, guest_phys_addr); FIELD(gunyah_vm_firmware_config, size); STRUCT_END();
  STRUCT_BEGIN(gunyah_address_range); FIELD(gunyah_address_range, guest_phys_addr); FIELD(gunyah_address_range, size); STRUCT_END();
  STRUCT_BEGIN(gunyah_fn_desc); FIELD(gunyah_fn_desc, type); FIELD(gunyah_fn_desc, arg_size); FIELD(gunyah_fn_desc, arg); STRUCT_END();
  STRUCT_BEGIN(gunyah_fn_vcpu_arg); FIELD(gunyah_fn_vcpu_arg, id); STRUCT_END();
  STRUCT_BEGIN(gunyah_fn_irqfd_arg); FIELD(gunyah_fn_irqfd_arg, fd); FIELD(gunyah_fn_irqfd_arg, label); FIELD(gunyah_fn_irqfd_arg, flags); FIELD(gunyah_fn_irqfd_arg, padding); STRUCT_END();
  STRUCT_BEGIN(gunyah_fn_ioeventfd_arg); FIELD(gunyah_fn_ioeventfd_arg, datamatch); FIELD(gunyah_fn_ioeventfd_arg, addr); FIELD(gunyah_fn_ioeventfd_arg, len);
  FIELD(gunyah_fn_ioeventfd_arg, fd); FIELD(gunyah_fn_ioeventfd_arg, flags); FIELD(gunyah_fn_ioeventfd_arg, padding); STRUCT_END();
  STRUCT_BEGIN(gunyah_create_mem_args); FIELD(gunyah_create_mem_args, flags); FIELD(gunyah_create_mem_args, size); FIELD(gunyah_create_mem_args, reserved); STRUCT_END();
  STRUCT_BEGIN(gunyah_map_mem_args); FIELD(gunyah_map_mem_args, guest_addr); FIELD(gunyah_map_mem_args, flags); FIELD(gunyah_map_mem_args, guest_mem_fd);
  FIELD(gunyah_map_mem_args, offset); FIELD(gunyah_map_mem_args, size); STRUCT_END();
  STRUCT_BEGIN(gunyah_vm_boot_context); FIELD(gunyah_vm_boot_context, reg); FIELD(gunyah_vm_boot_context, reserved); FIELD(gunyah_vm_boot_context, value); STRUCT_END();
  STRUCT_BEGIN(gunyah_map_cma_mem_args); FIELD(gunyah_map_cma_mem_args, label); FIELD(gunyah_map_cma_mem_args, guest_addr); FIELD(gunyah_map_cma_mem_args, flags);
  FIELD(gunyah_map_cma_mem_args, guest_mem_fd); FIELD(gunyah_map_cma_mem_args, offset); FIELD(gunyah_map_cma_mem_args, size); STRUCT_END();
  STRUCT_BEGIN(gunyah_auth_desc); FIELD(gunyah_auth_desc, type); FIELD(gunyah_auth_desc, arg_size); FIELD(gunyah_auth_desc, arg); STRUCT_END();
  STRUCT_BEGIN(gunyah_qtvm_auth_arg); FIELD(gunyah_qtvm_auth_arg, vm_id); FIELD(gunyah_qtvm_auth_arg, peripheral_id); FIELD(gunyah_qtvm_auth_arg, guest_phys_addr);
  FIELD(gunyah_qtvm_auth_arg, size); STRUCT_END();
  STRUCT_BEGIN(gunyah_vm_exit_info); FIELD(gunyah_vm_exit_info, type); FIELD(gunyah_vm_exit_info, padding); FIELD(gunyah_vm_exit_info, reason_size);
  FIELD(gunyah_vm_exit_info, reason); STRUCT_END();
  printf("\n  },\n  \"vcpu_run\": {\"size\": %zu, \"fields\": {", sizeof(struct gunyah_vcpu_run));
  first_field = 1;
  RUN_FIELD("immediate_exit", immediate_exit); RUN_FIELD("exit_reason", exit_reason);
  RUN_FIELD("mmio_phys_addr", mmio.phys_addr); RUN_FIELD("mmio_data", mmio.data); RUN_FIELD("mmio_len", mmio.len);
  RUN_FIELD("mmio_is_write", mmio.is_write); RUN_FIELD("mmio_resume_action", mmio.resume_action);
  RUN_FIELD("status_status", status.status); RUN_FIELD("status_exit_type", status.exit_info.type); RUN_FIELD("status_exit_padding", status.exit_info.padding);
  RUN_FIELD("status_reason_size", status.exit_info.reason_size); RUN_FIELD("status_reason", status.exit_info.reason);
  RUN_FIELD("page_fault_phys_addr", page_fault.phys_addr); RUN_FIELD("page_fault_attempt", page_fault.attempt);
  RUN_FIELD("page_fault_resume_action", page_fault.resume_action);
  printf("}},\n  \"ioctls\": {");
  IOCTL("CREATE_VM", REQ_CREATE_VM);
  IOCTL("SET_USER_MEM_REGION", REQ_SET_USER_MEM_REGION);
  IOCTL("SET_DTB_CONFIG", REQ_SET_DTB_CONFIG);
  IOCTL("VM_START", REQ_VM_START);
  IOCTL("ADD_FUNCTION", REQ_ADD_FUNCTION);
  IOCTL("VCPU_RUN", REQ_VCPU_RUN);
  IOCTL("VCPU_MMAP_SIZE", REQ_VCPU_MMAP_SIZE);
  IOCTL("REMOVE_FUNCTION", REQ_REMOVE_FUNCTION);
  IOCTL("CREATE_GUEST_MEM", REQ_CREATE_GUEST_MEM);
  IOCTL("MAP_MEM", REQ_MAP_MEM);
  IOCTL("SET_BOOT_CONTEXT", REQ_SET_BOOT_CONTEXT);
  IOCTL("ANDROID_TENTATIVE_UAPI", REQ_ANDROID_TENTATIVE_UAPI);
  IOCTL("ANDROID_LEND_USER_MEM", REQ_ANDROID_LEND_USER_MEM);
  IOCTL("ANDROID_SET_FW_CONFIG", REQ_ANDROID_SET_FW_CONFIG);
  IOCTL("RECLAIM_REGION", REQ_RECLAIM_REGION);
  IOCTL("CREATE_CMA_MEM_FD", REQ_CREATE_CMA_MEM_FD);
  IOCTL("ANDROID_MAP_CMA_MEM", REQ_ANDROID_MAP_CMA_MEM);
  IOCTL("ANDROID_SET_AUTH_TYPE", REQ_ANDROID_SET_AUTH_TYPE);
  IOCTL("CHECK_EXTENSION", REQ_CHECK_EXTENSION);
#ifdef GT_HAVE_LINUX_IOCTL
  /* Cross-check our encoder with the host's own _IOW (independent of our macro). */
  printf(",\n    \"HOST_IOW_SET_USER_MEM_REGION\": %u", (unsigned)_IOW('G', 0x01, struct gunyah_userspace_memory_region));
#endif
  printf("\n  }\n}\n");
  return 0;
}
#endif
