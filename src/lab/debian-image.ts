// A real distribution as the reference machine: Debian bookworm made by debootstrap from Debian's mirror, with
// systemd, the image's own kernel and initramfs (initramfs-tools, which finds / by UUID), udev and OpenSSH's
// server. The small test system of linux-image.ts proves the mechanics in seconds; this one proves that a
// deployed distribution comes up: its initramfs finds the new volume, systemd mounts what /etc/fstab names and
// reaches multi-user with no failed unit, and the machine is a new one (machine ID, SSH host keys).
//
// Its /etc carries what a captured Debian machine brings along (the fstab and /etc/default/grub of
// linux-image.ts, a hostname, a machine ID, SSH host keys) and, as a machine installed for that firmware would,
// Debian's own GRUB packages: grub-pc with the reference machine's disk as its install device (BIOS), or
// grub-efi-amd64 with its defaults, NVRAM updates on (UEFI). A systemd unit, netboot-report.service, waits for
// the boot to finish, prints what it found on the serial console (DEBIAN_MARK lines), runs what the next GRUB
// upgrade would run (dpkg-reconfigure of that package: its postinst), reports how that went and reboots; booted
// again (PXE, the appliance's local boot, the disk), it says so and powers off.
//
// debootstrap takes about a minute and ~450 MB; the result is cached as a tarball (NETBOOT_DEBIAN_CACHE,
// default /var/cache/netboot-lab) keyed by the recipe, so later runs only unpack it.
import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { REFERENCE_FSTAB, sshFingerprint, type ReferenceMachine } from './linux-image.js'
import { sh } from './netns.js'

export const DEBIAN_MARK = 'netboot-debian:'

const SUITE = 'bookworm'
const MIRROR = 'http://deb.debian.org/debian'
// The cloud kernel: virtio and AHCI drivers, a quarter of linux-image-amd64's modules.
const PACKAGES = ['linux-image-cloud-amd64', 'systemd-sysv', 'udev', 'initramfs-tools', 'openssh-server', 'e2fsprogs', 'kmod', 'ifupdown']
/** The GRUB packages of a machine installed for that firmware (efibootmgr: to read the NVRAM boot entries back). */
const GRUB_PACKAGES = { bios: ['grub-pc'], uefi: ['grub-efi-amd64', 'efibootmgr'] }
export type DebianFirmware = keyof typeof GRUB_PACKAGES
/** The reference machine's disk, as Debian's installer would have answered grub-pc/install_devices there. */
export const REFERENCE_GRUB_DEVICE = '/dev/disk/by-id/ata-REFERENCE_DISK_0001'
const CACHE_DIR = process.env.NETBOOT_DEBIAN_CACHE ?? '/var/cache/netboot-lab'

// Runs once the boot has finished (running or degraded): one line per fact on the serial console, then off.
// Type=simple: a oneshot unit would still be starting, and is-system-running --wait would wait for itself.
const REPORT = `#!/bin/sh
# second boot, after the GRUB upgrade: did it come up again?
if [ -e /var/lib/netboot-report/upgraded ]; then
  state=$(systemctl is-system-running --wait 2>/dev/null)
  { echo "${DEBIAN_MARK} after the GRUB upgrade: system2=$state cmdline2=[$(cat /proc/cmdline)]"; echo "${DEBIAN_MARK} done"; } > /dev/ttyS0
  systemctl poweroff
  exit 0
fi
state=$(systemctl is-system-running --wait 2>/dev/null)
failed=$(systemctl list-units --state=failed --plain --no-legend 2>/dev/null | awk '{print $1}' | tr '\\n' ',' | sed 's/,$//')
{
  echo "${DEBIAN_MARK} system=$state failed=[$failed] root=$(findmnt -no SOURCE /) efi=$(findmnt -no SOURCE /boot/efi 2>/dev/null || echo none)"
  echo "${DEBIAN_MARK} hostname=$(hostname) machine-id=$(cat /etc/machine-id) sshd=$(systemctl is-active ssh.service)"
  echo "${DEBIAN_MARK} ssh-host-key=$(ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub 2>/dev/null | awk '{print $2}')"
  echo "${DEBIAN_MARK} kernel=$(uname -r) cmdline=[$(cat /proc/cmdline)]"
  # what the next GRUB upgrade runs: the package's postinst (grub-install where it applies, update-grub)
  pkg=grub-pc; dpkg -s grub-efi-amd64 >/dev/null 2>&1 && pkg=grub-efi-amd64
  DEBIAN_FRONTEND=noninteractive dpkg-reconfigure $pkg > /var/log/netboot-grub-upgrade.log 2>&1; rc=$?
  echo "${DEBIAN_MARK} grub-upgrade=$pkg:$rc nvram-debian-entries=$(efibootmgr 2>/dev/null | grep -ci debian) install-devices=[$(debconf-show grub-pc 2>&1 | sed -n 's/^[* ]*grub-pc\\/install_devices: //p')]"
  sed "s/^/${DEBIAN_MARK} grub-upgrade-log: /" /var/log/netboot-grub-upgrade.log
  echo "${DEBIAN_MARK} rebooting: PXE, the appliance's local boot, the disk again"
} > /dev/ttyS0
mkdir -p /var/lib/netboot-report && touch /var/lib/netboot-report/upgraded && sync
systemctl reboot
`

const REPORT_UNIT = `[Unit]
Description=netboot lab: report how the deployed system booted, then power off
After=multi-user.target

[Service]
Type=simple
ExecStart=/usr/local/sbin/netboot-report

[Install]
WantedBy=multi-user.target
`

/** The debootstrapped tree, from the cache or made now; returns the tarball's path. */
async function debootstrapped (firmware: DebianFirmware, onLine?: (line: string) => void): Promise<string> {
  const packages = [...PACKAGES, ...GRUB_PACKAGES[firmware]]
  const key = createHash('sha256').update(JSON.stringify([SUITE, MIRROR, packages])).digest('hex').slice(0, 12)
  const tarball = join(CACHE_DIR, `debian-${SUITE}-${firmware}-${key}.tar`)
  if (existsSync(tarball)) return tarball
  await mkdir(CACHE_DIR, { recursive: true })
  const scratch = await mkdtemp(join(CACHE_DIR, 'debootstrap-'))
  try {
    onLine?.(`lab: debootstrap ${SUITE} (${packages.join(', ')}) into ${scratch}`)
    await sh(['debootstrap', '--variant=minbase', `--include=${packages.join(',')}`, SUITE, join(scratch, 'root'), MIRROR])
    await sh(['sh', '-c', `rm -rf "${join(scratch, 'root/var/cache/apt')}"/*.bin "${join(scratch, 'root/var/cache/apt/archives')}"/*.deb "${join(scratch, 'root/var/lib/apt/lists')}"/*_*`])
    await sh(['tar', '--xattrs', '--numeric-owner', '-C', join(scratch, 'root'), '-cpf', join(scratch, 'root.tar'), '.'])
    await rename(join(scratch, 'root.tar'), tarball)
    return tarball
  } finally {
    await rm(scratch, { recursive: true, force: true })
  }
}

/** The Debian reference machine's root file system, installed for `firmware`, in `dir` (which must be empty or missing). */
export async function makeDebianTree (dir: string, firmware: DebianFirmware, onLine?: (line: string) => void): Promise<ReferenceMachine> {
  const tarball = await debootstrapped(firmware, onLine)
  await mkdir(dir, { recursive: true })
  await sh(['tar', '--xattrs', '--numeric-owner', '-C', dir, '-xpf', tarball])
  await mkdir(join(dir, 'boot/efi'), { recursive: true })
  await writeFile(join(dir, 'etc/fstab'), REFERENCE_FSTAB)
  await writeFile(join(dir, 'etc/hostname'), 'reference\n')
  await writeFile(join(dir, 'etc/hosts'), '127.0.0.1\tlocalhost\n127.0.1.1\treference\n')
  await mkdir(join(dir, 'etc/default'), { recursive: true })
  // a server managed over its serial port (the lab VMs have no display: a gfxterm menu would go nowhere)
  await writeFile(join(dir, 'etc/default/grub'), 'GRUB_DEFAULT=0\nGRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX_DEFAULT=""\nGRUB_CMDLINE_LINUX="console=ttyS0,115200n8"\n' +
    'GRUB_TERMINAL="console serial"\nGRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"\n')
  await writeFile(join(dir, 'usr/local/sbin/netboot-report'), REPORT, { mode: 0o755 })
  await writeFile(join(dir, 'etc/systemd/system/netboot-report.service'), REPORT_UNIT)
  await mkdir(join(dir, 'etc/systemd/system/multi-user.target.wants'), { recursive: true })
  await symlink('/etc/systemd/system/netboot-report.service', join(dir, 'etc/systemd/system/multi-user.target.wants/netboot-report.service'))
  if (firmware === 'bios') {
    await sh(['sh', '-c', `echo "grub-pc grub-pc/install_devices multiselect ${REFERENCE_GRUB_DEVICE}" | chroot "${dir}" debconf-set-selections`])
  }
  const machineId = (await readFile(join(dir, 'etc/machine-id'), 'utf8')).trim()
  const sshHostKey = await sshFingerprint(join(dir, 'etc/ssh/ssh_host_ed25519_key.pub'))
  if (!/^[0-9a-f]{32}$/.test(machineId) || sshHostKey === '') throw new Error(`the debootstrapped tree has no machine ID or no SSH host key (${tarball})`)
  return { machineId, sshHostKey }
}
