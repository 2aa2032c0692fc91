// End to end, arm64: a Linux image (src/lab/linux-image.ts for arm64: the arm64 PE's kernel, gzip-compressed as
// Ubuntu ships arm64 kernels, and its busybox) deployed onto GPT + ESP + ext4 and booted from the disk: GRUB
// arm64-efi at the removable-media path EFI/BOOT/BOOTAA64.EFI, reached through the arm64 localboot.efi that iPXE
// chains when the appliance says "boot locally" (AAVMF, like OVMF, would stop in its menu after iPXE's exit).
import t from 'tap'
import { deployLinuxAndBootIt } from './linux-boot.js'

t.test('arm64 UEFI VM: Linux image → GPT + ESP + ext4 → makeBootable → boots from its disk', async t => {
  await deployLinuxAndBootIt(t, 'uefi-arm64')
})
