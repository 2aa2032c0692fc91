// End to end, UEFI: a Linux image deployed onto GPT + ESP + ext4 and booted from the disk (GRUB x86_64-efi at the
// removable-media path EFI/BOOT/BOOTX64.EFI, no NVRAM entry: OVMF falls through to the disk after iPXE exits).
import t from 'tap'
import { deployLinuxAndBootIt } from './linux-boot.js'

t.test('UEFI VM: Linux image → GPT + ESP + ext4 → makeBootable → boots from its disk', async t => {
  await deployLinuxAndBootIt(t, 'uefi')
})
