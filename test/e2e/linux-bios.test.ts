// End to end, BIOS: a Linux image deployed onto MBR + ext4, captured again (the reference-machine path for Linux),
// and booted from the disk (GRUB i386-pc in the MBR).
import t from 'tap'
import { deployLinuxAndBootIt } from './linux-boot.js'

t.test('BIOS VM: Linux image → ext4 → capture → makeBootable → boots from its disk', async t => {
  await deployLinuxAndBootIt(t, 'bios', { capture: true })
})
