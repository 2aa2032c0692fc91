// makeBootable's settings for the image's own GRUB packages (boot/pe/steps-boot.sh, grub_package_settings and
// debconf_set), run on the host against a tree with a debconf database (steps-boot-harness.ts). The database is
// in the format of a real one: these stanzas are those of Debian bookworm's grub-efi-amd64 2.06-13 as debconf
// wrote them to /var/cache/debconf/config.dat when the package was installed (a debootstrapped system).
import t from 'tap'
import type { Test } from 'tap'
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inTarget } from './steps-boot-harness.js'

const EFI_STANZAS = `Name: grub2/enable_os_prober
Template: grub2/enable_os_prober
Value: false
Owners: grub-efi-amd64

Name: grub2/force_efi_extra_removable
Template: grub2/force_efi_extra_removable
Value: false
Owners: grub-efi-amd64

Name: grub2/kfreebsd_cmdline
Template: grub2/kfreebsd_cmdline
Owners: grub-efi-amd64

Name: grub2/update_nvram
Template: grub2/update_nvram
Value: true
Owners: grub-efi-amd64

Name: iproute2/setcaps
Template: iproute2/setcaps
Value: false
Owners: iproute2
Flags: seen
`

// grub-pc's question as a database holds it before it was ever answered: no Value line.
const BIOS_STANZAS = `Name: grub-pc/install_devices
Template: grub-pc/install_devices
Owners: grub-pc

Name: grub-pc/install_devices_empty
Template: grub-pc/install_devices_empty
Value: false
Owners: grub-pc
`

async function image (t: Test, configDat?: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'nbe-debconf-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  await mkdir(join(dir, 'var/cache/debconf'), { recursive: true })
  if (configDat !== undefined) await writeFile(join(dir, 'var/cache/debconf/config.dat'), configDat, { mode: 0o644 })
  return dir
}
const configDat = async (dir: string): Promise<string> => await readFile(join(dir, 'var/cache/debconf/config.dat'), 'utf8')

t.test('UEFI: grub2/update_nvram false and grub2/force_efi_extra_removable true; nothing else changes', async t => {
  const dir = await image(t, EFI_STANZAS)
  const out = await inTarget(dir, 'grub_package_settings x86_64-efi /dev/vda')
  t.equal(out, 'netboot: the image\'s GRUB packages, for their next upgrade (debconf): grub2/update_nvram false, grub2/force_efi_extra_removable true\n')
  t.equal(await configDat(dir), EFI_STANZAS
    .replace('Template: grub2/update_nvram\nValue: true', 'Template: grub2/update_nvram\nValue: false')
    .replace('Template: grub2/force_efi_extra_removable\nValue: false', 'Template: grub2/force_efi_extra_removable\nValue: true'),
  'the two Value lines, and only they')
  t.equal(((await stat(join(dir, 'var/cache/debconf/config.dat'))).mode & 0o777).toString(8), '644', 'the database keeps its mode')
})

t.test('BIOS: grub-pc/install_devices names the deployed disk (a Value line added where there was none)', async t => {
  const dir = await image(t, BIOS_STANZAS)
  t.equal(await inTarget(dir, 'grub_package_settings i386-pc /dev/sda'), 'netboot: the image\'s GRUB packages, for their next upgrade (debconf): grub-pc/install_devices /dev/sda\n')
  t.equal(await configDat(dir), BIOS_STANZAS.replace('Owners: grub-pc\n\nName: grub-pc/install_devices_empty', 'Owners: grub-pc\nValue: /dev/sda\n\nName: grub-pc/install_devices_empty'))
})

t.test('a question the database lacks is left alone: its package is not installed', async t => {
  const dir = await image(t, BIOS_STANZAS)
  t.equal(await inTarget(dir, 'grub_package_settings x86_64-efi /dev/vda'), '', 'no GRUB EFI package: nothing set, nothing said')
  t.equal(await configDat(dir), BIOS_STANZAS)
  const none = await image(t)
  t.equal(await inTarget(none, 'grub_package_settings i386-pc /dev/vda'), '', 'no debconf database at all: nothing')
})

t.test('the last stanza of the file, without a Value line, gets one', async t => {
  const dir = await image(t, 'Name: grub-pc/install_devices\nTemplate: grub-pc/install_devices\nOwners: grub-pc\n')
  await inTarget(dir, 'grub_package_settings i386-pc /dev/vda')
  t.equal(await configDat(dir), 'Name: grub-pc/install_devices\nTemplate: grub-pc/install_devices\nOwners: grub-pc\nValue: /dev/vda\n')
})

t.test('UEFI, an image with its signed shim and GRUB: grub2/force_efi_extra_removable false (no shim fallback on the removable-media path)', async t => {
  const dir = await image(t, EFI_STANZAS)
  for (const f of ['usr/lib/shim/shimx64.efi.signed', 'usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed']) {
    await mkdir(join(dir, f, '..'), { recursive: true })
    await writeFile(join(dir, f), 'signed\n')
  }
  t.equal(await inTarget(dir, 'grub_package_settings x86_64-efi /dev/vda'),
    'netboot: the image\'s GRUB packages, for their next upgrade (debconf): grub2/update_nvram false, grub2/force_efi_extra_removable false\n')
  t.equal(await configDat(dir), EFI_STANZAS.replace('Template: grub2/update_nvram\nValue: true', 'Template: grub2/update_nvram\nValue: false'),
    'update_nvram false; force_efi_extra_removable stays false')
})
