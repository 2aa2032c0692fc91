// End to end with a real distribution (opt-in: NETBOOT_E2E_DEBIAN=1; ~10 min, and the first run debootstraps
// from Debian's mirror): Debian bookworm made by debootstrap (src/lab/debian-image.ts), captured with --unix-data,
// deployed onto ext4 with makeBootable on a BIOS and a UEFI VM, then booted from the disk. Its own initramfs must
// find the new volume, systemd must finish booting with no failed unit (the fstab the PE rewrote mounts), and
// the machine must be a new one: its own machine ID and SSH host keys, sshd running with them.
// Not in the default suite for its length; the small Linux system of linux-boot.ts checks the same mechanics there.
import t from 'tap'
import { readFile } from 'node:fs/promises'
import { partitionTable, serialFacts, waitForLine, type Firmware } from '../../src/lab/index.js'
import { blkid } from '../../src/lab/disk.js'
import { startLabRun, waitForDeploymentEnd } from '../../src/lab/deploy.js'
import { DEBIAN_MARK } from '../../src/lab/debian-image.js'

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

    t.ok(await waitForLine(run.serialLog, new RegExp(`${DEBIAN_MARK} done`), 10 * 60_000, { from: firstBoot, vm: run.vm }),
      'Debian booted from its disk and reported')
    await run.vm?.exited   // the report unit powers the VM off
    const after = (await readFile(run.serialLog, 'latin1')).slice(firstBoot)
    const fact = serialFacts(after, DEBIAN_MARK)

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
  })
}
