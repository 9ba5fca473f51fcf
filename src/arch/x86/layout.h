/*
 * The guest physical address map ember gives every x86-64 guest.
 *
 * Everything that writes into guest memory at boot (boot.c, regs.c, acpi.c)
 * and every test guest that checks what it was given agrees on these
 * numbers; change them here and nowhere else.
 *
 *   0x0000_0000  real-mode IVT / BDA (left zero)
 *   0x0000_0500  boot GDT (5 entries: null, null, code, data, TSS)  } written for
 *   0x0000_0530  boot IDT (empty, limit 0)                            } both entries
 *   0x0000_6000  PVH hvm_start_info + memory map (PVH entry only)
 *   0x0000_7000  zero page (struct boot_params)   (bzImage entry only)
 *   0x0000_8ff0  initial stack pointer for the boot CPU
 *   0x0000_9000  PML4, 0xa000 PDPT, 0xb000-0xe000 four PDs: identity map of
 *                the first 4 GiB with 2 MiB pages (64-bit entry only)
 *   0x0002_0000  kernel command line (up to 64 KiB incl. NUL)
 *   0x0009_fc00  start of the reserved area (EBDA .. end of BIOS ROM)
 *   0x000e_0000  ACPI tables: RSDP first, then XSDT, FADT, MADT, DSDT
 *   0x0010_0000  kernel (protected-mode part of a bzImage / PVH ELF loads)
 *   ...          initrd at the top of low RAM, below initrd_addr_max
 *   0xc000_0000  start of the 32-bit MMIO hole (RAM above this moves to 4 GiB)
 *   0xd000_0000  virtio-mmio device windows, 4 KiB each (later issues)
 *   0xfec0_0000  IOAPIC
 *   0xfee0_0000  local APIC
 *   0x1_0000_0000 RAM beyond the first 3 GiB
 */
#ifndef EMBER_ARCH_X86_LAYOUT_H
#define EMBER_ARCH_X86_LAYOUT_H

#define LAYOUT_GDT_GPA 0x500ULL
#define LAYOUT_IDT_GPA 0x530ULL
#define LAYOUT_PVH_INFO_GPA 0x6000ULL
#define LAYOUT_ZERO_PAGE_GPA 0x7000ULL
#define LAYOUT_BOOT_STACK_GPA 0x8ff0ULL
#define LAYOUT_PML4_GPA 0x9000ULL
#define LAYOUT_PDPT_GPA 0xa000ULL
#define LAYOUT_PD_GPA 0xb000ULL /* 4 consecutive pages */
#define LAYOUT_CMDLINE_GPA 0x20000ULL
#define LAYOUT_CMDLINE_MAX 0x10000ULL /* bytes, including the NUL */
#define LAYOUT_EBDA_GPA 0x9fc00ULL
#define LAYOUT_ACPI_GPA 0xe0000ULL
#define LAYOUT_ACPI_END 0x100000ULL
#define LAYOUT_RESET_VECTOR_GPA 0xffff0ULL /* f000:fff0: a reset stub (boot.c) */
#define LAYOUT_HIMEM_GPA 0x100000ULL /* kernel load address */

#define LAYOUT_MMIO_HOLE_GPA 0xc0000000ULL
#define LAYOUT_MMIO_HOLE_END 0x100000000ULL
#define LAYOUT_VIRTIO_MMIO_GPA 0xd0000000ULL
#define LAYOUT_VIRTIO_MMIO_SIZE 0x1000ULL
#define LAYOUT_IOAPIC_GPA 0xfec00000ULL
#define LAYOUT_LAPIC_GPA 0xfee00000ULL
#define LAYOUT_HIGH_RAM_GPA 0x100000000ULL

/* Ports and interrupt lines of the legacy devices (ISA numbering = GSI). */
#define LAYOUT_COM1_PORT 0x3f8
#define LAYOUT_COM1_GSI 4
#define LAYOUT_I8042_DATA_PORT 0x60
#define LAYOUT_I8042_CMD_PORT 0x64
#define LAYOUT_I8042_GSI 1
#define LAYOUT_RTC_PORT 0x70 /* 0x70 index, 0x71 data */
#define LAYOUT_RTC_GSI 8

/*
 * ACPI hardware-reduced power management block (described by the FADT):
 * sleep control register (1 byte): a write with SLP_EN (bit 5) set and
 * SLP_TYP (bits 4:2) == 5 powers the VM off; sleep status register (1 byte)
 * reads 0; reset register (1 byte): writing LAYOUT_ACPI_RESET_VALUE resets.
 */
#define LAYOUT_ACPI_SLEEP_CTL_PORT 0x600
#define LAYOUT_ACPI_SLEEP_STS_PORT 0x601
#define LAYOUT_ACPI_RESET_PORT 0x602
#define LAYOUT_ACPI_RESET_VALUE 0x1
#define LAYOUT_ACPI_S5_SLP_TYP 5

/* The number of IOAPIC pins KVM's in-kernel IOAPIC provides. */
#define LAYOUT_IOAPIC_PINS 24
/* KVM's limit on vCPUs ember supports (APIC ids 0..N-1, MADT entries). */
#define LAYOUT_MAX_VCPUS 64

#endif
