// End to end with a real distribution (opt-in: NETBOOT_E2E_DEBIAN=1; ~10 min, and the first run debootstraps
// from Debian's mirror): Debian bookworm made by debootstrap (src/lab/debian-image.ts), captured with --unix-data,
// deployed onto ext4 with makeBootable on a BIOS and a UEFI VM, then booted from the disk. Its own initramfs must
// find the new volume, systemd must finish booting with no failed unit (the fstab the PE rewrote mounts), and
// the machine must be a new one: its own machine ID and SSH host keys, sshd running with them. Then what the image's
// next GRUB upgrade runs (its GRUB package's postinst) must work on the deployed disk without taking the network's
// place at the head of the boot order, and the machine must boot again afterwards.
// Not in the default suite for its length; the small Linux system of linux-boot.ts checks the same mechanics there.
import t from 'tap'
import { readFile } from 'node:fs/promises'
import { partitionTable, serialFacts, waitForLine, type Firmware } from '../../src/lab/index.js'
import { blkid } from '../../src/lab/disk.js'
import { decideCount, startLabRun, waitForDeploymentEnd } from '../../src/lab/deploy.js'
import { DEBIAN_MARK, REFERENCE_GRUB_DEVICE } from '../../src/lab/debian-image.js'

const skip = process.env.NETBOOT_E2E_DEBIAN === '1' ? false : 'a real Debian deployment takes ~10 min: NETBOOT_E2E_DEBIAN=1 runs it'

for (const firmware of ['bios', 'uefi'] as Firmware[]) {
  t.test(`${firmware} VM: debootstrapped Debian → ext4 → makeBootable → systemd boots it from the disk`, { skip }, async t => {
    const run = await startLabRun({
      firmware,
      image: 'debian',
      extraSteps: [{ type: 'setComputerName', computerName: 'DEB-${ROLE}' }, { type: 'makeBootable' }],
      onLine: (l) => { t.comment(l) }
    })
    t.teardown(run.close)
    const d = await waitForDeploymentEnd(run, 20 * 60_000)
    t.equal(d.state, 'succeeded', `deployment ${d.id} ${d.state}${d.error !== undefined ? `: ${d.error}` : ''}`)
    const serial = await readFile(run.serialLog, 'latin1')
    const firstBoot = serial.indexOf('netboot: task sequence complete')
    t.match(serial, /netboot: new SSH host keys: ecdsa ed25519 rsa\r?\n/, 'the PE made new SSH host keys with the image\'s ssh-keygen')

    t.ok(await waitForLine(run.serialLog, new RegExp(`${DEBIAN_MARK} done`), 15 * 60_000, { from: firstBoot, vm: run.vm }),
      'Debian booted from its disk, reported, upgraded GRUB and booted again')
    await run.vm?.exited   // the report unit powers the VM off
    const after = (await readFile(run.serialLog, 'latin1')).slice(firstBoot)
    const fact = serialFacts(after, DEBIAN_MARK)
    for (const line of after.split('\n').filter(l => l.includes(DEBIAN_MARK))) t.comment(line.trim())

    const pt = await partitionTable(run.disk)
    const rootIndex = pt.partitions.length
    const uuid = /^UUID=(\S+)$/m.exec(await blkid(run.disk, pt.partitions[rootIndex - 1]!))?.[1] ?? 'none'
    t.equal(fact('system'), 'running', 'systemd finished booting: running, not degraded')
    t.equal(fact('failed'), '', 'no failed unit (the rewritten fstab mounts, no reference machine swap is waited for)')
    t.equal(fact('root'), `/dev/vda${rootIndex}`, 'the new volume is mounted as /')
    t.equal(fact('efi'), firmware === 'bios' ? 'none' : '/dev/vda1', firmware === 'bios' ? 'no /boot/efi on the MBR disk' : 'and the new ESP as /boot/efi')
    t.match(fact('cmdline'), new RegExp(`root=UUID=${uuid} ro console=ttyS0,115200n8`), 'GRUB passed root=UUID of the new volume and the image\'s /etc/default/grub arguments')
    t.equal(fact('hostname'), 'DEB-lab', 'the computer name of setComputerName')
    t.match(fact('machine-id'), /^[0-9a-f]{32}$/, 'systemd made a machine ID at first boot')
    t.not(fact('machine-id'), run.reference?.machineId, 'not the reference machine\'s')
    t.equal(fact('sshd'), 'active', 'sshd runs with the new keys')
    t.match(fact('ssh-host-key'), /^SHA256:/, 'the machine has an ed25519 host key')
    t.not(fact('ssh-host-key'), run.reference?.sshHostKey, 'not the reference machine\'s')

    // The image's own GRUB package, reconfigured as its next upgrade would (its postinst), then a reboot.
    if (firmware === 'bios') {
      t.match(serial, /netboot: the image's GRUB packages, for their next upgrade \(debconf\): grub-pc\/install_devices \/dev\/vda\r?\n/, 'the PE pointed grub-pc at the deployed disk')
      t.equal(fact('install-devices'), '/dev/vda', `grub-pc's install device is the deployed disk (was ${REFERENCE_GRUB_DEVICE})`)
      t.equal(fact('grub-upgrade'), 'grub-pc:0', 'and its postinst (grub-install to /dev/vda, update-grub) succeeded')
    } else {
      t.match(serial, /netboot: the image's GRUB packages, for their next upgrade \(debconf\): grub2\/update_nvram false, grub2\/force_efi_extra_removable true\r?\n/, 'the PE set grub-efi-amd64\'s debconf answers')
      t.equal(fact('grub-upgrade'), 'grub-efi-amd64:0', 'grub-efi-amd64\'s postinst succeeded')
      t.equal(fact('nvram-debian-entries'), '0', 'without adding a boot entry ahead of the network (no "debian" NVRAM entry)')
    }
    t.equal(fact('system2'), 'running', 'after the upgrade it booted from its disk again (PXE, "boot locally"), to running')
    t.match(fact('cmdline2'), new RegExp(`root=UUID=${uuid} ro`), 'by the image\'s own grub.cfg now (update-grub), on the new volume')
    t.ok(await decideCount(run) >= 3, 'each of its three power-ons asked the appliance first')
  })
}
