// Shared by linux-bios.test.ts and linux-uefi.test.ts: a Linux system (src/lab/linux-image.ts) captured with
// --unix-data is deployed onto ext4 with a makeBootable step; after the PE reboots, the appliance tells the
// machine to boot locally and it boots the deployed system from its own disk: firmware → GRUB → the image's
// kernel and initramfs → its /sbin/init, which prints what it booted with on the serial console.
import type { Test } from 'tap'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { hashTree, partitionTable, serialFacts, sh, waitForLine, type Firmware } from '../../src/lab/index.js'
import { blkid } from '../../src/lab/disk.js'
import { decideCount, startLabRun, waitForDeploymentEnd, type LabRun } from '../../src/lab/deploy.js'
import { TEST_OS_MARK } from '../../src/lab/linux-image.js'
import { isArm64, isSecureBoot, serialConsole } from '../../src/lab/qemu.js'

/** `capture`: the deployed volume is also captured (ext4 → mounted read-only in the PE, --unix-data) before makeBootable. */
export async function deployLinuxAndBootIt (t: Test, firmware: Firmware, opts: { capture?: boolean } = {}): Promise<void> {
  const run = await startLabRun({
    firmware,
    image: 'linux',
    extraSteps: [
      { type: 'setComputerName', computerName: 'LNX-${ROLE}' },
      ...(opts.capture === true ? [{ type: 'capture', image: 'lab-linux-captured', compression: 'xpress' }] : []),
      { type: 'makeBootable', kernelArgs: 'netboot.deployed=1' }
    ],
    onLine: (l) => { t.comment(l) }
  })
  t.teardown(run.close)
  const d = await waitForDeploymentEnd(run, 8 * 60_000)
  t.equal(d.state, 'succeeded', `deployment ${d.id} ${d.state}${d.error !== undefined ? `: ${d.error}` : ''}`)
  const serial = await readFile(run.serialLog, 'latin1')
  const firstBoot = serial.indexOf('netboot: task sequence complete')
  t.ok(firstBoot > 0, 'the PE printed the end of the sequence on the serial console')
  t.match(serial, /netboot: \/etc\/fstab: \/ is UUID=[0-9a-f-]+[^\n]*; entries of the reference machine commented out: \d/, 'the PE pointed fstab at the new volumes')
  t.match(serial, /netboot: \/dev\/vda is bootable: GRUB /, 'the PE installed GRUB')
  const sb = isSecureBoot(firmware)
  if (sb) {
    t.match(serial, /netboot: Secure Boot: the image's signed shim as EFI\/BOOT\/BOOTX64\.EFI, its signed GRUB as EFI\/BOOT\/grubx64\.efi, its MokManager as EFI\/BOOT\/mmx64\.efi; EFI\/BOOT\/grub\.cfg reads \/boot\/grub\/grub\.cfg of UUID=/,
      'Secure Boot on: the PE put the image\'s own signed shim and GRUB on the ESP, not its unsigned GRUB')
  }

  if (opts.capture === true) await checkCapture(t, run)

  // Second power-on: PXE → iPXE → "boot from the local disk" → the firmware → GRUB → the deployed kernel.
  const done = await waitForLine(run.serialLog, new RegExp(`${TEST_OS_MARK} done`), 5 * 60_000, { from: firstBoot, vm: run.vm })
  t.ok(done, 'the deployed system booted from its disk and ran its init')
  await run.vm?.exited   // its init powers the VM off
  const after = (await readFile(run.serialLog, 'latin1')).slice(firstBoot)
  t.ok(await decideCount(run, sb ? 'grub' : undefined) >= 2, 'the VM PXE-booted again and the appliance answered it')
  const arm64 = isArm64(firmware)
  const buildarch = firmware === 'bios' ? 'i386' : arm64 ? 'arm64' : 'x86_64'
  const again = await run.appliance.fetchText(`/boot${sb ? '/grub' : ''}/decide?mac=${encodeURIComponent(run.mac)}&platform=${firmware === 'bios' ? 'pcbios' : 'efi'}&buildarch=${buildarch}`)
  t.match(again.body, sb ? /netboot: booting from the local disk/ : /Boot from the local disk/, 'and told it to boot locally')
  if (sb) {
    // The Secure Boot chain's GRUB runs the local-boot search itself, chainloads the ESP's shim (the firmware checks
    // it against Microsoft's CA), which loads the image's signed GRUB, which loads the image's kernel through shim.
    t.match(after, /netboot: local boot: chainloading \(hd\d+,gpt1\)\/EFI\/BOOT\/BOOTX64\.EFI/, 'the network GRUB chainloaded the ESP\'s shim')
    const deployed = after.slice(after.indexOf('netboot: local boot: chainloading'))
    t.notMatch(deployed.slice(0, deployed.indexOf(TEST_OS_MARK)), /error:/, 'the image\'s signed GRUB found its config without an error')
  } else if (firmware !== 'bios') {
    // iPXE's exit would leave OVMF in its boot menu: it chains localboot.efi, which finds the ESP's loader.
    t.match(after, new RegExp(`netboot: local boot: chainloading \\(hd\\d+,gpt1\\)/EFI/BOOT/BOOT${arm64 ? 'AA64' : 'X64'}\\.EFI`), 'iPXE chained localboot.efi, which chainloaded the removable-media path makeBootable wrote')
    t.notMatch(after, /error: file `[^'\n]*\.mod' not found/, 'localboot.efi tried to load no file system module it does not carry (its fs.lst names FAT only)')
    const localBoot = after.slice(0, after.indexOf('netboot: local boot: chainloading'))
    t.notMatch(localBoot, /error: no such device/, 'and printed no error for the loaders it did not find before that one (found by wildcard, not search)')
  }
  const fact = serialFacts(after, TEST_OS_MARK)

  const pt = await partitionTable(run.disk)
  const root = pt.partitions[pt.partitions.length - 1]!
  const uuid = /^UUID=(\S+)$/m.exec(await blkid(run.disk, root))?.[1] ?? ''
  t.match(await blkid(run.disk, root), /TYPE=ext4/, 'the root partition is ext4')
  t.equal(fact('firmware'), firmware === 'bios' ? 'bios' : 'uefi', `the deployed system runs under ${firmware === 'bios' ? 'BIOS' : 'UEFI'}`)
  t.equal(fact('secure-boot'), sb ? 'on' : 'off', `with Secure Boot ${sb ? 'on (its kernel says so)' : 'off'}`)
  t.match(fact('cmdline'), new RegExp(`root=UUID=${uuid} ro console=${serialConsole(firmware)}n8 quiet netboot\\.deployed=1`),
    'GRUB booted it with root=UUID of the new volume, the image\'s /etc/default/grub arguments and the step\'s kernelArgs')
  t.equal(fact('fstab-root'), `UUID=${uuid}`, '/etc/fstab mounts / by the new volume\'s UUID')
  if (firmware === 'bios') {
    t.equal(fact('fstab-efi'), '', 'no ESP on an MBR disk: the reference machine\'s /boot/efi line is commented out')
    t.equal(fact('fstab-commented'), '2', 'as is its swap partition (the noauto CD-ROM and tmpfs lines stay)')
  } else {
    const espUuid = /^UUID=(\S+)$/m.exec(await blkid(run.disk, pt.partitions[0]!))?.[1] ?? 'none'
    t.equal(fact('fstab-efi'), `UUID=${espUuid}`, '/etc/fstab mounts /boot/efi by the new ESP\'s UUID')
    t.equal(fact('fstab-commented'), '1', 'the reference machine\'s swap partition is commented out (the noauto CD-ROM and tmpfs lines stay)')
  }
  t.equal(fact('machine-id-bytes'), '0', 'the reference machine\'s /etc/machine-id was emptied (systemd makes a new one at first boot)')
  if (arm64) {   // the arm64 system has no SSH host keys: its ssh-keygen would be the host's, an amd64 program
    t.equal(fact('ssh-host-key'), '', 'no SSH host keys in the arm64 system')
    t.notMatch(serial, /netboot: (new SSH host keys|warning: [^\n]*SSH)/, 'and the PE neither made nor warned about any')
  } else {
    t.match(serial, /netboot: new SSH host keys: ecdsa ed25519\r?\n/, 'the PE made new SSH host keys of the image\'s two types')
    t.not(fact('ssh-host-key'), '', 'the deployed system has an SSH host key')
    t.not(fact('ssh-host-key'), run.reference?.sshHostKey, 'and it is not the reference machine\'s')
    t.equal(fact('ssh-key-pair'), 'match', 'its private and public halves belong together')
    t.equal(fact('ssh-key-comment'), 'root@LNX-lab', 'named after the deployed machine')
    t.equal(fact('ssh-keys').trim(), 'ssh_host_ecdsa_key ssh_host_ecdsa_key.pub ssh_host_ed25519_key ssh_host_ed25519_key.pub',
      'nothing else is left in /etc/ssh (no half-made key)')
  }
  t.equal(fact('hostname'), 'LNX-lab', 'setComputerName wrote /etc/hostname')
  t.match(fact('hosts'), /^127\.0\.1\.1 LNX-lab$/, 'and the 127.0.1.1 line of /etc/hosts')
  t.equal(fact('suid'), '4755:0', 'a setuid file kept its mode (UNIX data applied)')
  t.equal(fact('owned'), '640:1000:1000', 'a user\'s file kept its owner, group and mode')
}

/** The capture step's image: catalogued, and applied with --unix-data it has the deployed system's files, owners and modes. */
async function checkCapture (t: Test, run: LabRun): Promise<void> {
  const serial = await readFile(run.serialLog, 'latin1')
  t.match(serial, /capture\.sh: \/dev\/vda1 is ext4: capturing its files with --unix-data/, 'the PE captured the ext4 volume from a read-only mount')
  const entry = await run.appliance.get<{ file: string }>('/api/v1/images/lab-linux-captured')
  const out = join(run.work, 'captured-linux')
  await sh(['wimapply', join(run.work, 'images', entry.file), '1', out, '--unix-data'])
  t.equal((await readFile(join(out, 'etc/hostname'), 'utf8')).trim(), 'LNX-lab', 'the captured image has the name setComputerName wrote')
  const st = async (p: string): Promise<string> => (await sh(['stat', '-c', '%a:%u:%g', join(out, p)])).stdout.trim()
  t.equal(await st('usr/bin/suid-probe'), '4755:0:0', 'and the setuid file')
  t.equal(await st('home/user/owned.txt'), '640:1000:1000', 'and the user\'s file with its owner')
  const got = await hashTree(out)
  const kernel = [...run.sums.keys()].find(k => k.startsWith('boot/vmlinuz-')) ?? 'boot/vmlinuz-?'
  t.equal(got.get(kernel), run.sums.get(kernel), `and ${kernel}, byte for byte`)
}
