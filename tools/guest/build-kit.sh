#!/bin/bash
# build-kit.sh OUTDIR -- build ember's Linux test guest from Debian 12 packages.
#
# Produces in OUTDIR:
#   bzImage      the kernel of linux-image-cloud-amd64 (a copy of its /boot/vmlinuz-*)
#   vmlinux      the ELF kernel decompressed from bzImage (for the PVH entry path)
#   initrd.img   gzip'd newc cpio: static busybox, /init (the test agent),
#                /etc/ember-tests/*.sh and the virtio kernel modules
#   kit.env      KIT_KERNEL_VERSION, KIT_BZIMAGE, KIT_VMLINUX, KIT_INITRD, KIT_PVH_ENTRY
# and its caches: debs/ (the .deb files), root-kernel/ and root-busybox/ (dpkg -x
# of them), initrd-root/ (the initramfs staging tree).
#
# Packages are downloaded once. The outputs are rebuilt only when this script,
# tools/guest/init or tools/guest/tests/* are newer than them (or one is missing);
# a run that finds everything up to date does nothing.
# Environment: KIT_REFRESH=1 forgets the download cache (picks up a newer kernel);
# SOURCE_DATE_EPOCH sets the mtime of every initramfs entry (default 0).
# Needs root (apt-get, mknod) on Debian 12 with Debian's package registry reachable.
set -euo pipefail

usage() { echo "usage: $0 OUTDIR" >&2; exit 2; }
[ $# -eq 1 ] || usage

die() { echo "build-kit: error: $*" >&2; exit 1; }
note() { echo "build-kit: $*"; }

SELF=$(readlink -f "${BASH_SOURCE[0]}")
SRC=$(dirname "$SELF")
AGENT=$SRC/init
TESTS_DIR=$SRC/tests
mkdir -p "$1"
OUT=$(readlink -f "$1")
DEBS=$OUT/debs
RK=$OUT/root-kernel
RB=$OUT/root-busybox
STAGE=$OUT/initrd-root
KIT_ENV=$OUT/kit.env
META_PKG=linux-image-cloud-amd64
BB_PKG=busybox-static
EPOCH=${SOURCE_DATE_EPOCH:-0}

[ -f "$AGENT" ] || die "missing agent $AGENT"
[ -d "$TESTS_DIR" ] || die "missing test directory $TESTS_DIR"

# ---------------------------------------------------------------- fast path --
# Everything is up to date when kit.env (written last) exists with the other
# outputs and no input is newer than it.
inputs_newer_than() { # FILE: true if an input is newer than FILE
    local f
    for f in "$SELF" "$AGENT" "$TESTS_DIR" "$TESTS_DIR"/*; do
        [ "$f" -nt "$1" ] && return 0
    done
    [ "$DEBS/.kit-downloaded" -nt "$1" ] && return 0
    return 1
}
if [ "${KIT_REFRESH:-0}" = 0 ] && [ -f "$KIT_ENV" ] && [ -f "$OUT/bzImage" ] &&
   [ -f "$OUT/vmlinux" ] && [ -f "$OUT/initrd.img" ] &&
   [ -f "$RK/.kit-extracted" ] && [ -f "$RB/.kit-extracted" ] &&
   ! inputs_newer_than "$KIT_ENV"; then
    note "up to date: $KIT_ENV"
    exit 0
fi

[ "$(id -u)" = 0 ] || die "must run as root (apt-get, mknod)"
export DEBIAN_FRONTEND=noninteractive

# ------------------------------------------------------------------ apt use --
APT_UPDATED=0
apt_update_once() {
    [ "$APT_UPDATED" = 1 ] && return 1
    note "apt-get update (package lists missing or stale)"
    apt-get update -qq >&2 || die "apt-get update failed"
    APT_UPDATED=1
}
# Run an apt command; if it fails, refresh the lists once and retry.
apt_retry() {
    if "$@"; then return 0; fi
    apt_update_once || return 1
    "$@"
}

# Host tools: command -> Debian package. Installed only when missing.
declare -A TOOL_PKG=(
    [cpio]=cpio [gzip]=gzip [readelf]=binutils [dpkg-deb]=dpkg
    [xz]=xz-utils [zstd]=zstd [lz4]=lz4 [bzip2]=bzip2 [lzop]=lzop
)
ensure_tools() { # CMD...
    local c missing=()
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 || missing+=("${TOOL_PKG[$c]:-$c}")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    note "installing host tools: ${missing[*]}"
    apt_retry apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 ||
        die "cannot install ${missing[*]}"
}
ensure_tools cpio gzip readelf dpkg-deb

# ---------------------------------------------------------------- download --
# Resolve the metapackage to the real linux-image-<abi>-cloud-amd64 package.
resolve_kernel_pkg() {
    apt-cache depends "$META_PKG" 2>/dev/null |
        awk '$1 ~ /Depends:$/ && $2 ~ /^linux-image-[0-9]/ { print $2; exit }'
}

deb_of() { # PKG -> newest downloaded .deb of PKG in $DEBS
    local f
    f=$(ls -t "$DEBS/$1"_*.deb 2>/dev/null | head -n 1 || true)
    [ -n "$f" ] && echo "$f"
}

download() { # PKG...
    # apt drops privileges to _apt for the download: let it write the cache.
    if id _apt >/dev/null 2>&1; then chown _apt "$DEBS"; fi
    (cd "$DEBS" && apt-get download -q "$@" >&2)
}

if [ "${KIT_REFRESH:-0}" != 0 ]; then
    rm -f "$DEBS/.kit-downloaded" "$RK/.kit-extracted" "$RB/.kit-extracted"
fi
mkdir -p "$DEBS"
have_debs() { # the stamp names packages whose .deb files are all in the cache
    local p
    [ -s "$DEBS/.kit-downloaded" ] || return 1
    while IFS= read -r p; do deb_of "$p" >/dev/null || return 1; done < "$DEBS/.kit-downloaded"
}
if ! have_debs; then
    KPKG=$(resolve_kernel_pkg || true)
    if [ -z "$KPKG" ]; then
        apt_update_once || true
        KPKG=$(resolve_kernel_pkg || true)
    fi
    [ -n "$KPKG" ] || die "cannot resolve $META_PKG to a linux-image-* package (apt-cache depends)"
    note "$META_PKG -> $KPKG"
    apt_retry download "$KPKG" "$BB_PKG" || die "apt-get download $KPKG $BB_PKG failed"
    printf '%s\n%s\n' "$KPKG" "$BB_PKG" > "$DEBS/.kit-downloaded"
    rm -f "$RK/.kit-extracted" "$RB/.kit-extracted"
fi
KPKG=$(sed -n 1p "$DEBS/.kit-downloaded")

# ----------------------------------------------------------------- extract --
if [ ! -f "$RB/.kit-extracted" ]; then
    rm -rf "$RB"; mkdir -p "$RB"
    deb=$(deb_of "$BB_PKG") || die "no $BB_PKG .deb in $DEBS"
    note "extracting $(basename "$deb")"
    dpkg -x "$deb" "$RB"
    [ -x "$RB/bin/busybox" ] || die "$deb has no /bin/busybox"
    touch "$RB/.kit-extracted"
fi
BUSYBOX=$RB/bin/busybox
"$BUSYBOX" true 2>/dev/null || die "cannot run $BUSYBOX on this host"

if [ ! -f "$RK/.kit-extracted" ]; then
    rm -rf "$RK"; mkdir -p "$RK"
    deb=$(deb_of "$KPKG") || die "no $KPKG .deb in $DEBS"
    note "extracting $(basename "$deb")"
    dpkg -x "$deb" "$RK"
    if ! ls "$RK"/boot/vmlinuz-* >/dev/null 2>&1; then
        # The signed package may be a shell around the -unsigned one.
        note "$KPKG holds no /boot/vmlinuz-*: trying $KPKG-unsigned"
        apt_retry download "$KPKG-unsigned" || die "apt-get download $KPKG-unsigned failed"
        deb=$(deb_of "$KPKG-unsigned") || die "no $KPKG-unsigned .deb in $DEBS"
        dpkg -x "$deb" "$RK"
        ls "$RK"/boot/vmlinuz-* >/dev/null 2>&1 || die "no /boot/vmlinuz-* in $KPKG(-unsigned)"
    fi
    # Debian generates modules.dep at install time (postinst); generate it here
    # with busybox's own depmod, the format the guest's busybox modprobe reads.
    kv=$(ls "$RK/lib/modules")
    "$BUSYBOX" depmod -b "$RK" "$kv" || die "depmod on $RK failed"
    touch "$RK/.kit-extracted"
fi

KV=$(ls "$RK/lib/modules")
[ "$(echo "$KV" | wc -l)" = 1 ] || die "expected one kernel in $RK/lib/modules, found: $KV"
VMLINUZ=$RK/boot/vmlinuz-$KV
[ -f "$VMLINUZ" ] || die "missing $VMLINUZ"
MODDIR=$RK/lib/modules/$KV
note "kernel $KV"

# ----------------------------------------------------------------- bzImage --
install -m 0644 "$VMLINUZ" "$OUT/bzImage.tmp"
mv -f "$OUT/bzImage.tmp" "$OUT/bzImage"

# ----------------------------------------------------------------- vmlinux --
# x86 boot protocol: setup_sects at 0x1f1 (0 means 4), "HdrS" at 0x202, version
# at 0x206 (payload fields need >= 2.08), payload_offset/payload_length at
# 0x248/0x24c, relative to the protected-mode code at (setup_sects+1)*512. The
# payload is the compressed vmlinux ELF followed by its 4-byte little-endian
# uncompressed size (the kernel's size_append).
u8()  { od -An -tu1 -j "$2" -N1 "$1" | tr -d ' \n'; }
u16() { od -An -tu2 -j "$2" -N2 "$1" | tr -d ' \n'; }
u32() { od -An -tu4 -j "$2" -N4 "$1" | tr -d ' \n'; }

BZ=$OUT/bzImage
[ "$(od -An -c -j $((0x202)) -N4 "$BZ" | tr -d ' \n')" = HdrS ] || die "bzImage: no HdrS boot header"
hver=$(u16 "$BZ" $((0x206)))
[ "$hver" -ge $((0x208)) ] || die "bzImage: boot protocol $(printf %x "$hver") has no payload fields"
setup_sects=$(u8 "$BZ" $((0x1f1))); [ "$setup_sects" = 0 ] && setup_sects=4
pm_off=$(( (setup_sects + 1) * 512 ))
pay_off=$(u32 "$BZ" $((0x248)))
pay_len=$(u32 "$BZ" $((0x24c)))
start=$(( pm_off + pay_off ))
bzsize=$(stat -c %s "$BZ")
if [ "$pay_len" -le 4 ] || [ $(( start + pay_len )) -gt "$bzsize" ]; then
    die "bzImage: payload offset $start length $pay_len outside the file ($bzsize bytes)"
fi
magic=$(od -An -tx1 -j "$start" -N6 "$BZ" | tr -d ' \n')
case $magic in
    1f8b*)         comp=gzip;  dec=(gzip -dc) ;;
    fd377a585a00)  comp=xz;    dec=(xz -dc) ;;
    28b52ffd*)     comp=zstd;  dec=(zstd -dcq) ;;
    02214c18*)     comp=lz4;   dec=(lz4 -dcq) ;;
    425a68*)       comp=bzip2; dec=(bzip2 -dc) ;;
    5d0000*)       comp=lzma;  dec=(xz --format=lzma -dc) ;;
    894c5a4f*)     comp=lzo;   dec=(lzop -dc) ;;
    *) die "bzImage: unknown payload compression (magic $magic)" ;;
esac
ensure_tools "${dec[0]}"
usize=$(u32 "$BZ" $(( start + pay_len - 4 )))
note "bzImage payload: $comp, $pay_len bytes at $start, $usize bytes uncompressed"
dd if="$BZ" bs=1M iflag=skip_bytes,count_bytes skip="$start" count=$(( pay_len - 4 )) status=none |
    "${dec[@]}" > "$OUT/vmlinux.tmp" ||
    die "decompressing the $comp payload failed"
got=$(stat -c %s "$OUT/vmlinux.tmp")
[ "$got" = "$usize" ] || die "vmlinux: decompressed $got bytes, header says $usize"
[ "$(head -c 4 "$OUT/vmlinux.tmp" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ] || die "vmlinux: not an ELF file"
readelf -h "$OUT/vmlinux.tmp" | grep -q 'Machine:.*X86-64' || die "vmlinux: not an x86-64 ELF"
# XEN_ELFNOTE_PHYS32_ENTRY (type 18 = 0x12, owner "Xen"): the 32-bit PVH entry.
# readelf prints the description data on the note's line (-W) or the next one.
pvh_bytes=$(readelf -W -n "$OUT/vmlinux.tmp" | awk '
    /^[ \t]*[^ \t]+[ \t]+0x[0-9a-f]+[ \t]/ {
        want = ($1 == "Xen" && ($0 ~ /\(0x00000012\)/ || $0 ~ /PHYS32_ENTRY/))
    }
    want && /description data:/ { sub(/.*description data:[ \t]*/, ""); print; exit }')
[ -n "$pvh_bytes" ] || die "vmlinux: no XEN_ELFNOTE_PHYS32_ENTRY (type 18) note: kernel lacks CONFIG_PVH?"
read -r -a b <<< "$pvh_bytes"
[ ${#b[@]} -ge 4 ] || die "vmlinux: short PHYS32_ENTRY note: $pvh_bytes"
for extra in "${b[@]:4}"; do [ "$extra" = 00 ] || die "vmlinux: PVH entry above 4 GiB: $pvh_bytes"; done
PVH_ENTRY=0x${b[3]}${b[2]}${b[1]}${b[0]}
mv -f "$OUT/vmlinux.tmp" "$OUT/vmlinux"
note "vmlinux: ELF x86-64, PVH entry (XEN_ELFNOTE_PHYS32_ENTRY) $PVH_ENTRY"

# ------------------------------------------------------------------ modules --
# Resolve the wanted modules with their dependencies from modules.dep.
declare -A MOD_PATH=() MOD_DEPS=() BUILTIN=()
modname() { local n=${1##*/}; n=${n%.xz}; n=${n%.zst}; n=${n%.gz}; n=${n%.ko}; echo "${n//-/_}"; }
while IFS= read -r line; do
    [ -n "$line" ] || continue
    p=${line%%:*}; deps=${line#*:}
    n=$(modname "$p")
    MOD_PATH[$n]=$p
    MOD_DEPS[$n]=$deps
done < "$MODDIR/modules.dep"
if [ -f "$MODDIR/modules.builtin" ]; then
    while IFS= read -r p; do BUILTIN[$(modname "$p")]=1; done < "$MODDIR/modules.builtin"
fi

# required: the build fails if one is neither a module nor built in.
REQUIRED=(virtio virtio_ring virtio_mmio virtio_pci virtio_blk virtio_net virtio_rng
          virtio_console virtio_balloon vsock vmw_vsock_virtio_transport
          vmw_vsock_virtio_transport_common ext4 pvpanic pvpanic_mmio)
# optional: taken when present (ext4's helpers; crc32c is only a soft dependency).
OPTIONAL=(virtio_pci_modern_dev virtio_pci_legacy_dev net_failover failover
          jbd2 mbcache crc16 crc32c_generic)

declare -A PICKED=()
PICK_ORDER=()
pick() { # NAME: add NAME and (recursively) its dependencies
    local n=$1 d
    [ -n "${PICKED[$n]:-}" ] && return 0
    PICKED[$n]=1
    PICK_ORDER+=("$n")
    for d in ${MOD_DEPS[$n]}; do pick "$(modname "$d")"; done
}
builtin_list=() absent_list=()
for n in "${REQUIRED[@]}" "${OPTIONAL[@]}"; do
    if [ -n "${MOD_PATH[$n]:-}" ]; then
        pick "$n"
    elif [ -n "${BUILTIN[$n]:-}" ]; then
        builtin_list+=("$n")
    else
        for r in "${REQUIRED[@]}"; do
            [ "$r" = "$n" ] && die "module $n is neither in modules.dep nor in modules.builtin"
        done
        absent_list+=("$n")
    fi
done
note "modules (${#PICK_ORDER[@]}): ${PICK_ORDER[*]}"
[ ${#builtin_list[@]} -eq 0 ] || note "built in, skipped: ${builtin_list[*]}"
[ ${#absent_list[@]} -eq 0 ] || note "absent, skipped: ${absent_list[*]}"

# ---------------------------------------------------------------- initramfs --
rm -rf "$STAGE"
mkdir -p "$STAGE"
cd "$STAGE"
mkdir -p bin dev proc sys tmp mnt root etc/ember-tests usr "lib/modules/$KV"
chmod 1777 tmp
chmod 0700 root
ln -s bin sbin
ln -s ../bin usr/bin
ln -s ../bin usr/sbin
install -m 0755 "$BUSYBOX" bin/busybox
n_applets=0
for a in $("$BUSYBOX" --list); do
    case $a in busybox|*/*) continue ;; esac
    ln -s busybox "bin/$a"
    n_applets=$((n_applets + 1))
done
# The kernel opens /dev/console for /init before /init can mount devtmpfs.
mknod -m 0600 dev/console c 5 1 || die "mknod dev/console failed"
install -m 0755 "$AGENT" init
for t in "$TESTS_DIR"/*.sh; do
    install -m 0755 "$t" "etc/ember-tests/$(basename "$t")"
done
for n in "${PICK_ORDER[@]}"; do
    p=${MOD_PATH[$n]}
    mkdir -p "lib/modules/$KV/$(dirname "$p")"
    install -m 0644 "$MODDIR/$p" "lib/modules/$KV/$p"
done
for f in modules.builtin modules.builtin.modinfo modules.order; do
    [ -f "$MODDIR/$f" ] && install -m 0644 "$MODDIR/$f" "lib/modules/$KV/$f"
done
"$BUSYBOX" depmod -b "$STAGE" "$KV" || die "depmod on the initramfs tree failed"
find . -exec touch -h -d "@$EPOCH" {} +
find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort |
    cpio -o -H newc --owner=0:0 --reproducible --quiet | gzip -n -9 > "$OUT/initrd.img.tmp"
cd "$OUT"
mv -f "$OUT/initrd.img.tmp" "$OUT/initrd.img"
note "initrd.img: $n_applets busybox applets, ${#PICK_ORDER[@]} modules, $(ls "$TESTS_DIR"/*.sh | wc -l) tests"

# ------------------------------------------------------------------ kit.env --
cat > "$KIT_ENV.tmp" <<EOF
KIT_KERNEL_VERSION=$KV
KIT_BZIMAGE=$OUT/bzImage
KIT_VMLINUX=$OUT/vmlinux
KIT_INITRD=$OUT/initrd.img
KIT_PVH_ENTRY=$PVH_ENTRY
EOF
mv -f "$KIT_ENV.tmp" "$KIT_ENV"
note "wrote $KIT_ENV"
cat "$KIT_ENV"
