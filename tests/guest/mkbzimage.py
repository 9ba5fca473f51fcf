#!/usr/bin/env python3
"""Turns the test guest's ELF (guest.ld) into a file laid out like a bzImage.

Layout (Linux Documentation/arch/x86/boot.rst): a 512-byte boot sector and
SETUP_SECTS setup sectors holding the setup header at 0x1f1, then the
protected-mode part: the ELF's PT_LOAD contents flattened from its load
address 0x100000, whose 64-bit entry point is at offset 0x200.

usage: mkbzimage.py INPUT.elf OUTPUT.bzimage
"""
import struct
import sys

LOAD_ADDR = 0x100000
SETUP_SECTS = 1
PROTOCOL = 0x020F
LOADED_HIGH = 0x01
XLF_KERNEL_64 = 0x01
XLF_CAN_BE_LOADED_ABOVE_4G = 0x02

# The 16-bit real-mode entry (CS:0 = file offset 0x200): ember and the
# integration tests use the 64-bit entry; a loader that runs this code
# (QEMU's -kernel) gets one line on COM1 and a halted CPU.
#   0x200: jmp 0x280
#   0x280: cli; cld; mov $0xa0,%si; mov $0x3f8,%dx
#   0x288: cs lodsb; test %al,%al; je 0x291; out %al,(%dx); jmp 0x288
#   0x291: hlt; jmp 0x291
#   0x2a0: message, NUL-terminated
REALMODE_JUMP = bytes.fromhex("eb7e")
REALMODE_CODE = bytes.fromhex("fafcbea000baf8032eac84c07403eeebf7f4ebfd")
REALMODE_MSG = b"EMBER-TEST boot FAIL the 16-bit bzImage entry is not supported\n\0"


def flatten(elf):
    """Returns (image bytes from LOAD_ADDR, bytes needed incl. bss)."""
    if elf[:4] != b"\x7fELF" or elf[4] != 2 or elf[5] != 1:
        sys.exit("mkbzimage: not a little-endian ELF64 file")
    phoff, = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    loads = []
    for i in range(phnum):
        p_type, _flags, p_offset, _vaddr, p_paddr, p_filesz, p_memsz, _align = \
            struct.unpack_from("<IIQQQQQQ", elf, phoff + i * phentsize)
        if p_type == 1 and p_memsz:
            loads.append((p_paddr, p_offset, p_filesz, p_memsz))
    if not loads or min(l[0] for l in loads) != LOAD_ADDR:
        sys.exit("mkbzimage: the image must start at 0x%x" % LOAD_ADDR)
    file_end = max(paddr + filesz for paddr, _o, filesz, _m in loads)
    mem_end = max(paddr + memsz for paddr, _o, _f, memsz in loads)
    image = bytearray(file_end - LOAD_ADDR)
    for paddr, offset, filesz, _m in loads:
        start = paddr - LOAD_ADDR
        image[start:start + filesz] = elf[offset:offset + filesz]
    # Our 64-bit entry starts with cli (0xfa); catch a misplaced entry here.
    if image[0x200] != 0xFA:
        sys.exit("mkbzimage: no 64-bit entry at load address + 0x200")
    return bytes(image), mem_end - LOAD_ADDR


def setup_sectors(image_len, init_size):
    setup = bytearray(512 * (1 + SETUP_SECTS))
    syssize = (image_len + 15) // 16
    init_size = (init_size + 0xFFF) & ~0xFFF
    struct.pack_into("<B", setup, 0x1F1, SETUP_SECTS)     # setup_sects
    struct.pack_into("<H", setup, 0x1F2, 0)               # root_flags
    struct.pack_into("<I", setup, 0x1F4, syssize)         # syssize (16-byte units)
    struct.pack_into("<H", setup, 0x1FA, 0xFFFF)          # vid_mode: normal
    struct.pack_into("<H", setup, 0x1FE, 0xAA55)          # boot_flag
    setup[0x200:0x202] = REALMODE_JUMP                    # jump
    setup[0x202:0x206] = b"HdrS"                          # header
    struct.pack_into("<H", setup, 0x206, PROTOCOL)        # version
    struct.pack_into("<H", setup, 0x20C, 0x1000)          # start_sys_seg (obsolete)
    struct.pack_into("<B", setup, 0x210, 0)               # type_of_loader: the loader's
    struct.pack_into("<B", setup, 0x211, LOADED_HIGH)     # loadflags
    struct.pack_into("<I", setup, 0x214, LOAD_ADDR)       # code32_start
    struct.pack_into("<I", setup, 0x22C, 0x7FFFFFFF)      # initrd_addr_max
    struct.pack_into("<I", setup, 0x230, 0x200000)        # kernel_alignment
    struct.pack_into("<B", setup, 0x234, 0)               # relocatable_kernel
    struct.pack_into("<B", setup, 0x235, 21)              # min_alignment (log2)
    struct.pack_into("<H", setup, 0x236,
                     XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G)  # xloadflags
    struct.pack_into("<I", setup, 0x238, 4095)            # cmdline_size
    struct.pack_into("<Q", setup, 0x258, LOAD_ADDR)       # pref_address
    struct.pack_into("<I", setup, 0x260, init_size)       # init_size
    setup[0x280:0x280 + len(REALMODE_CODE)] = REALMODE_CODE
    setup[0x2A0:0x2A0 + len(REALMODE_MSG)] = REALMODE_MSG
    return bytes(setup)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[1], "rb") as f:
        elf = f.read()
    image, init_size = flatten(elf)
    with open(sys.argv[2], "wb") as f:
        f.write(setup_sectors(len(image), init_size))
        f.write(image)


if __name__ == "__main__":
    main()
