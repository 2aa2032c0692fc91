// End to end, UEFI with Secure Boot on (OVMF's Secure Boot build, Microsoft's keys): the Linux test system carries
// Debian's signed shim and GRUB where shim-signed and grub-efi-amd64-signed put them; makeBootable installs that
// chain on the ESP (the PE's own GRUB is unsigned), and the machine boots its deployed system through the network
// Secure Boot chain's local boot: network GRUB → the ESP's shim → the image's signed GRUB → the image's kernel.
import t from 'tap'
import { deployLinuxAndBootIt } from './linux-boot.js'

t.test('UEFI VM, Secure Boot on: Linux image → GPT + ESP + ext4 → makeBootable (the image\'s signed shim and GRUB) → boots from its disk', async t => {
  await deployLinuxAndBootIt(t, 'uefi-secureboot')
})
