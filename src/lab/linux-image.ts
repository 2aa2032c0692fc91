// A small but real Linux system to deploy in the lab, as a reference machine's root file system would be
// captured: /boot with Debian's kernel (the PE's own vmlinuz) and an initramfs that finds the root file system
// by UUID (busybox findfs) and switch_roots into it; /sbin/init prints what the deployed machine booted with
// (host name, kernel command line, its fstab's root line, owners and modes) on the serial console and powers
// off. Its /etc carries what a captured machine brings along and a deployment must fix: an fstab naming the
// reference machine's volumes, /etc/default/grub kernel arguments, a 127.0.1.1 hosts line, a machine-id, SSH host keys
// (with the host's OpenSSH ssh-keygen and its libraries, which makeBootable runs in the image to make new ones); a
// setuid file and a file owned by uid 1000 check that the image's UNIX data survives capture and apply.
import { chmod, chown, copyFile, mkdir, mkdtemp, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sh } from './netns.js'
import { peSerialConsole, type PeArch } from '../pe/arch.js'
import { DEFAULT_SECURE_BOOT_DIR } from '../config/schema.js'

/** Lines /sbin/init of the test system prints (the e2e tests wait for them). */
export const TEST_OS_MARK = 'netboot-test-os:'

/** What a captured reference machine's /etc/fstab says: none of these volumes exists on a deployed disk. */
export const REFERENCE_FSTAB = [
  '# /etc/fstab of the reference machine',
  'UUID=0e0e0e0e-1111-4222-8333-444444444444 /               ext4    errors=remount-ro 0       1',
  'UUID=ABCD-1234  /boot/efi       vfat    umask=0077      0       1',
  'UUID=5a5a5a5a-6666-4777-8888-999999999999 none            swap    sw              0       0',
  '/dev/sr0        /media/cdrom0   udf,iso9660 user,noauto 0       0',
  'tmpfs           /tmp            tmpfs   defaults        0       0',
  ''
].join('\n')

// The initramfs's /init: modules in the order modprobe --show-depends gave, then root=UUID=… by findfs.
const INITRAMFS_INIT = `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mkdir -p /proc /sys /dev /newroot
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
while read -r ko; do insmod "/$ko" 2>/dev/null; done < /etc/modules-order
root=""; for a in $(cat /proc/cmdline); do case "$a" in root=*) root=\${a#root=} ;; esac; done
echo "netboot-test-os initramfs: root $root"
n=0; dev=""
while [ $n -lt 60 ]; do dev=$(findfs "$root" 2>/dev/null) && [ -n "$dev" ] && break; sleep 0.5; n=$((n + 1)); done
[ -n "$dev" ] || { echo "netboot-test-os initramfs: no $root"; sleep 2; poweroff -f; }
mount -t ext4 -o ro "$dev" /newroot || { echo "netboot-test-os initramfs: cannot mount $dev"; sleep 2; poweroff -f; }
mount --move /dev /newroot/dev; umount /proc /sys
exec switch_root /newroot /sbin/init
`

// /sbin/init of the deployed system: one line per fact, then power off (QEMU exits).
const OS_INIT = `#!/bin/busybox sh
bb=/bin/busybox
$bb mount -t proc proc /proc
$bb mount -t sysfs sysfs /sys
echo "${TEST_OS_MARK} booted from disk: hostname=$($bb cat /etc/hostname) hosts=[$($bb grep '^127.0.1.1' /etc/hosts | $bb tr '\\t' ' ')]"
echo "${TEST_OS_MARK} cmdline=[$($bb cat /proc/cmdline)]"
echo "${TEST_OS_MARK} fstab-root=[$($bb awk '$2 == "/" {print $1}' /etc/fstab)] fstab-efi=[$($bb awk '$2 == "/boot/efi" {print $1}' /etc/fstab)] fstab-commented=$($bb grep -c '^# netboot: not on the deployed disk' /etc/fstab)"
echo "${TEST_OS_MARK} firmware=$([ -d /sys/firmware/efi ] && echo uefi || echo bios) secure-boot=$($bb dmesg | $bb grep -q 'secureboot: Secure boot enabled' && echo on || echo off) machine-id-bytes=$($bb stat -c %s /etc/machine-id)"
echo "${TEST_OS_MARK} suid=$($bb stat -c %a:%u /usr/bin/suid-probe) owned=$($bb stat -c %a:%u:%g /home/user/owned.txt)"
k=/etc/ssh/ssh_host_ed25519_key
pair=mismatch; [ -x /usr/bin/ssh-keygen ] && [ "$(/usr/bin/ssh-keygen -y -f $k | $bb cut -d' ' -f1,2)" = "$($bb cut -d' ' -f1,2 $k.pub)" ] && pair=match
[ -x /usr/bin/ssh-keygen ] && echo "${TEST_OS_MARK} ssh-host-key=$(/usr/bin/ssh-keygen -lf $k.pub | $bb cut -d' ' -f2) ssh-key-pair=$pair ssh-key-comment=$($bb cut -d' ' -f3 $k.pub) ssh-keys=[$($bb ls /etc/ssh | $bb tr '\n' ' ')]"
echo "${TEST_OS_MARK} done"
$bb sync
$bb poweroff -f
`

/** What a deployment must change of the reference machine it was captured from. */
export interface ReferenceMachine { machineId: string, sshHostKey: string }

/** The SHA256 fingerprint of an SSH public key file, as ssh-keygen -l prints it. */
export async function sshFingerprint (pubFile: string): Promise<string> {
  return (await sh(['ssh-keygen', '-lf', pubFile])).stdout.split(' ')[1] ?? ''
}

/** A dynamically linked program of the host and the libraries ldd lists, at the same paths under `root`. */
export async function copyWithLibraries (program: string, root: string): Promise<void> {
  const { stdout } = await sh(['ldd', program])
  const libs = [...stdout.matchAll(/(?:=> )?(\/\S+) \(0x/g)].map(m => m[1] as string)
  for (const f of [program, ...libs]) {
    await mkdir(join(root, f, '..'), { recursive: true })
    await copyFile(f, join(root, f))
    await chmod(join(root, f), 0o755)
  }
}

/** The kernel release of the PE's initramfs (its only /lib/modules entry) and the PE unpacked in `into`. */
async function unpackPe (peDir: string, into: string): Promise<string> {
  await mkdir(into, { recursive: true })
  await sh(['sh', '-c', `zstd -dc "${join(peDir, 'initrd.img')}" | (cd "${into}" && cpio -idm --quiet --no-absolute-filenames)`])
  const rels = await readdir(join(into, 'lib/modules'))
  if (rels.length !== 1) throw new Error(`the PE's initramfs has ${rels.length} kernel releases in /lib/modules`)
  return rels[0] as string
}

/**
 * The signed boot chain a Debian system with shim-signed and grub-efi-amd64-signed installed has, where those
 * packages put it (makeBootable installs an image's own chain when Secure Boot is on): Debian's shim (Microsoft's
 * UEFI CA) and MokManager, and Debian's signed GRUB for disks, from the files scripts/fetch-trixie-loaders.sh
 * fetched. The test system's kernel is the PE's, which Debian signed, so shim accepts it.
 */
async function addSignedBootChain (dir: string, arch: PeArch): Promise<void> {
  if (arch !== 'amd64') throw new Error('the lab has a signed boot chain for x86-64 only (scripts/fetch-trixie-loaders.sh)')
  const files: Array<[string, string]> = [
    [join(DEFAULT_SECURE_BOOT_DIR, 'shimx64.efi'), 'usr/lib/shim/shimx64.efi.signed'],
    [join(DEFAULT_SECURE_BOOT_DIR, 'mmx64.efi'), 'usr/lib/shim/mmx64.efi.signed'],
    [join(DEFAULT_SECURE_BOOT_DIR, 'disk/grubx64.efi'), 'usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed']
  ]
  for (const [from, to] of files) {
    await stat(from).catch(() => { throw new Error(`${from} is missing: run scripts/fetch-trixie-loaders.sh`) })
    await mkdir(join(dir, to, '..'), { recursive: true })
    await copyFile(from, join(dir, to))
  }
}

/**
 * The root file system tree of the test system in `dir`, for the PE's architecture: the PE (vmlinuz, initrd.img)
 * provides kernel, modules and busybox (busybox-static: runs in the initramfs and in the deployed root alike).
 * The SSH host keys and the ssh-keygen that makeBootable runs in the image to replace them are the host's, so
 * only an amd64 system has them.
 */
export async function makeLinuxTree (dir: string, peDir: string, arch: PeArch = 'amd64', o: { signedBoot?: boolean } = {}): Promise<{ kernelRelease: string, reference: ReferenceMachine }> {
  const scratch = await mkdtemp(join(tmpdir(), 'nbe-linux-'))
  try {
    const pe = join(scratch, 'pe')
    const krel = await unpackPe(peDir, pe)
    // initramfs: busybox + the storage and file system modules with their dependencies, in load order
    const ird = join(scratch, 'initramfs')
    await mkdir(join(ird, 'bin'), { recursive: true })
    await mkdir(join(ird, 'etc'), { recursive: true })
    const busybox = join(pe, 'bin/busybox')
    await copyFile(busybox, join(ird, 'bin/busybox'))
    await chmod(join(ird, 'bin/busybox'), 0o755)
    const order: string[] = []
    for (const m of ['virtio_pci', 'virtio_blk', 'virtio_scsi', 'sd_mod', 'ahci', 'ext4']) {
      const { stdout } = await sh(['modprobe', '-d', pe, '-S', krel, '--show-depends', m]).catch(() => ({ stdout: '' }))
      for (const line of stdout.split('\n')) {
        const ko = /^insmod (\S+)/.exec(line)?.[1]
        if (ko === undefined) continue
        const rel = ko.slice(pe.length + 1)
        if (order.includes(rel)) continue
        order.push(rel)
        await mkdir(join(ird, rel, '..'), { recursive: true })
        await copyFile(ko, join(ird, rel))
      }
    }
    if (!order.some(r => r.endsWith('/ext4.ko'))) throw new Error(`no ext4 module in the PE's ${krel} tree`)
    await writeFile(join(ird, 'etc/modules-order'), order.join('\n') + '\n')
    await writeFile(join(ird, 'init'), INITRAMFS_INIT, { mode: 0o755 })

    // the root file system
    for (const d of ['boot/efi', 'bin', 'sbin', 'etc/default', 'etc/ssh', 'usr/bin', 'home/user', 'proc', 'sys', 'dev', 'mnt', 'tmp']) {
      await mkdir(join(dir, d), { recursive: true })
    }
    await chmod(join(dir, 'tmp'), 0o1777)
    // arm64: gzip-compressed, as Ubuntu ships its arm64 kernels (Debian's are plain Images): GRUB must unpack it
    if (arch === 'arm64') await sh(['sh', '-c', `gzip -9 -n < "${join(peDir, 'vmlinuz')}" > "${join(dir, `boot/vmlinuz-${krel}`)}"`])
    else await copyFile(join(peDir, 'vmlinuz'), join(dir, `boot/vmlinuz-${krel}`))
    await sh(['sh', '-c', `cd "${ird}" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 | gzip -1 > "${join(dir, `boot/initrd.img-${krel}`)}"`])
    await copyFile(busybox, join(dir, 'bin/busybox'))
    await chmod(join(dir, 'bin/busybox'), 0o755)
    await symlink('busybox', join(dir, 'bin/sh'))
    await writeFile(join(dir, 'sbin/init'), OS_INIT, { mode: 0o755 })
    await writeFile(join(dir, 'etc/os-release'), 'PRETTY_NAME="Netboot Test OS 1.0"\nNAME="Netboot Test OS"\nID=netboot-test\n')
    await writeFile(join(dir, 'etc/hostname'), 'reference\n')
    await writeFile(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n')   // ssh-keygen looks uid 0 up
    await writeFile(join(dir, 'etc/group'), 'root:x:0:\nuser:x:1000:\n')
    const machineId = '0123456789abcdef0123456789abcdef'   // the reference machine's
    await writeFile(join(dir, 'etc/machine-id'), `${machineId}\n`)
    if (arch === 'amd64') {
      await copyWithLibraries('/usr/bin/ssh-keygen', dir)
      for (const type of ['ed25519', 'ecdsa']) {
        await sh(['ssh-keygen', '-q', '-N', '', '-t', type, '-C', 'root@reference', '-f', join(dir, `etc/ssh/ssh_host_${type}_key`)])
      }
    }
    await writeFile(join(dir, 'etc/hosts'), '127.0.0.1\tlocalhost\n127.0.1.1\treference\n')
    await writeFile(join(dir, 'etc/fstab'), REFERENCE_FSTAB)
    await writeFile(join(dir, 'etc/default/grub'), `GRUB_DEFAULT=0\nGRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX_DEFAULT="quiet"\nGRUB_CMDLINE_LINUX="console=${peSerialConsole(arch)}n8"\n`)
    await writeFile(join(dir, 'usr/bin/suid-probe'), '#!/bin/sh\necho probe\n')
    await chmod(join(dir, 'usr/bin/suid-probe'), 0o4755)
    await writeFile(join(dir, 'home/user/owned.txt'), 'owned by uid 1000\n')
    await chown(join(dir, 'home/user/owned.txt'), 1000, 1000)
    await chmod(join(dir, 'home/user/owned.txt'), 0o640)
    if (o.signedBoot === true) await addSignedBootChain(dir, arch)
    const sshHostKey = arch === 'amd64' ? await sshFingerprint(join(dir, 'etc/ssh/ssh_host_ed25519_key.pub')) : ''
    return { kernelRelease: krel, reference: { machineId, sshHostKey } }
  } finally {
    await rm(scratch, { recursive: true, force: true })
  }
}
