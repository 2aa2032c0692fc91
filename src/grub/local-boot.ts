// Booting the local disk from GRUB on UEFI: chainload the first OS loader found on a local disk. GRUB's `exit`
// (like iPXE's) returns EFI_SUCCESS to the firmware, and EDK2's boot manager then shows its menu rather than trying
// the next boot option (MdeModulePkg BdsEntry.c, BootBootOptions), so `exit` is only the fallback.
// Used in the Secure Boot chain's GRUB configs (script.ts); boot/pe/localboot.cfg, the config of the standalone
// GRUB iPXE chains (localboot.efi), holds the same list (test/grub/local-boot.test.ts keeps them equal).

/**
 * Where OS loaders live on an EFI system partition, in the order tried: Windows Boot Manager, a distribution's
 * shim (signed: what Secure Boot machines boot), Debian's GRUB, then the removable-media path, where Windows also
 * keeps a copy and makeBootable installs GRUB. `$efi` is x64 or aa64, `$removable` BOOTX64.EFI or BOOTAA64.EFI
 * (GRUB variables set from `$grub_cpu`); FAT is case-insensitive.
 */
export const LOCAL_LOADERS = [
  '/EFI/Microsoft/Boot/bootmgfw.efi',
  ...['debian', 'ubuntu', 'fedora', 'redhat', 'rocky', 'almalinux'].map(d => `/EFI/${d}/shim$efi.efi`),
  '/EFI/opensuse/shim.efi', '/EFI/sles/shim.efi',
  '/EFI/debian/grub$efi.efi',
  '/EFI/BOOT/$removable'
]

/**
 * GRUB script lines: chainload the first loader found, else say so and fall back to `exit`.
 *
 * Found by wildcard, not `search`: with the regexp module loaded, GRUB expands an unquoted `(*)/EFI/…` word to the
 * devices on which that file exists (grub-core/commands/wildcard.c: every disk and partition, each probed quietly),
 * and leaves the word as it is when none has it, which `[ -f ]` then rejects, quietly too. `search --file` printed
 * "error: no such device: /EFI/…" for every loader missing before the one found, ten lines on each local boot of
 * a Linux machine. Loaders are tried in LOCAL_LOADERS order, each on every device in GRUB's order.
 * The partition found becomes $root: chainloader takes its device path from $root (with a `(hdX,gptY)/…` argument
 * and $root elsewhere, e.g. a standalone GRUB's memdisk, it fails with "not a valid root device").
 * Debian's signed GRUB has regexp built in; localboot.efi loads it (boot/pe/build.sh).
 */
export function localBootLines (): string[] {
  return [
    'if [ "$grub_cpu" = arm64 ]; then set efi=aa64; set removable=BOOTAA64.EFI; else set efi=x64; set removable=BOOTX64.EFI; fi',
    `for f in ${LOCAL_LOADERS.join(' ')}; do`,
    '  for p in (*)$f; do',
    '    if [ -f "$p" ]; then',
    "      regexp --set=1:root '^\\(([^)]*)\\)' \"$p\"",
    '      echo "netboot: local boot: chainloading ($root)$f"',
    '      chainloader "$f"',
    '      boot',
    '    fi',
    '  done',
    'done',
    "echo 'netboot: local boot: no OS loader on the local disks'",
    'exit'
  ]
}
