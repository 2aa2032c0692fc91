// makeBootable with Secure Boot on (boot/pe/steps-boot.sh: signed_boot_files, install_signed_boot), on the host
// against a small image tree (steps-boot-harness.ts): which of the image's files make its signed chain, and what
// goes on the ESP. test/e2e/linux-secureboot.test.ts boots the result with Secure Boot on.
import t from 'tap'
import type { Test } from 'tap'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inTarget } from './steps-boot-harness.js'

const SHIM = 'usr/lib/shim/shimx64.efi.signed'
const GRUB = 'usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed'
const MM = 'usr/lib/shim/mmx64.efi.signed'

async function image (t: Test, files: string[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'nbe-signed-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  for (const f of files) {
    await mkdir(join(dir, f, '..'), { recursive: true })
    await writeFile(join(dir, f), `the image's ${f}\n`)
  }
  return dir
}

/** Runs install_signed_boot with /mnt/esp standing in for the mounted ESP (a directory `esp` of the tree). */
const install = async (dir: string, pre = ''): Promise<string> => await inTarget(dir, `mkdir -p /mnt/esp && mount -o bind /mnt/target/esp /mnt/esp || exit 96
${pre}
s=$(signed_boot_files x86_64-efi)
[ -n "$s" ] || { echo "no signed chain"; exit 0; }
install_signed_boot x86_64-efi 1234-abcd $s; echo "rc=$?"`)

t.test('the image\'s shim, signed GRUB and MokManager go to the removable-media path, with a grub.cfg that finds the root', async t => {
  const dir = await image(t, [SHIM, GRUB, MM])
  await mkdir(join(dir, 'esp/EFI/BOOT'), { recursive: true })
  await writeFile(join(dir, 'esp/EFI/BOOT/fbx64.efi'), 'a fallback left by someone\n')
  const out = await install(dir)
  t.match(out, /^netboot: Secure Boot: the image's signed shim as EFI\/BOOT\/BOOTX64\.EFI, its signed GRUB as EFI\/BOOT\/grubx64\.efi, its MokManager as EFI\/BOOT\/mmx64\.efi; EFI\/BOOT\/grub\.cfg reads \/boot\/grub\/grub\.cfg of UUID=1234-abcd$/m)
  t.match(out, /^rc=0$/m)
  const esp = join(dir, 'esp/EFI/BOOT')
  t.same((await readdir(esp)).sort(), ['BOOTX64.EFI', 'grub.cfg', 'grubx64.efi', 'mmx64.efi'], 'those four files and nothing else: no fbx64.efi (shim\'s fallback writes NVRAM entries), no half-written file')
  t.equal(await readFile(join(esp, 'BOOTX64.EFI'), 'utf8'), `the image's ${SHIM}\n`, 'BOOTX64.EFI is the image\'s shim')
  t.equal(await readFile(join(esp, 'grubx64.efi'), 'utf8'), `the image's ${GRUB}\n`, 'grubx64.efi (what shim loads) is its signed GRUB')
  t.equal(await readFile(join(esp, 'mmx64.efi'), 'utf8'), `the image's ${MM}\n`)
  t.equal(await readFile(join(esp, 'grub.cfg'), 'utf8'),
    'search --no-floppy --fs-uuid --set=root 1234-abcd\nset prefix=($root)/boot/grub\nconfigfile $prefix/grub.cfg\n',
    'grub.cfg ($cmdpath\'s, where the signed GRUB looks without a vendor directory) reads the root volume\'s /boot/grub/grub.cfg')
})

t.test('without MokManager the chain is shim and GRUB', async t => {
  const dir = await image(t, [SHIM, GRUB])
  await mkdir(join(dir, 'esp'))
  const out = await install(dir)
  t.match(out, /its signed GRUB as EFI\/BOOT\/grubx64\.efi; EFI\/BOOT\/grub\.cfg/)
  t.same((await readdir(join(dir, 'esp/EFI/BOOT'))).sort(), ['BOOTX64.EFI', 'grub.cfg', 'grubx64.efi'])
})

t.test('an image without its signed shim or GRUB has no signed chain (makeBootable then refuses with Secure Boot on)', async t => {
  for (const files of [[SHIM], [GRUB, MM], []]) {
    const dir = await image(t, files)
    await mkdir(join(dir, 'esp'))
    t.equal((await install(dir)).trim(), 'no signed chain', `with only ${files.join(', ') || 'nothing'}`)
  }
})

t.test('a copy that fails leaves the ESP as it was: no half-installed chain', async t => {
  const dir = await image(t, [SHIM, GRUB, MM])
  await mkdir(join(dir, 'esp/EFI/BOOT'), { recursive: true })
  await writeFile(join(dir, 'esp/EFI/BOOT/BOOTX64.EFI'), 'the loader that boots today\n')
  // The GRUB vanishes between the check and the copy (as a read error would fail it).
  const out = await inTarget(dir, `mkdir -p /mnt/esp && mount -o bind /mnt/target/esp /mnt/esp || exit 96
s=$(signed_boot_files x86_64-efi); rm /mnt/target/${GRUB}
install_signed_boot x86_64-efi 1234-abcd $s 2>/dev/null; echo "rc=$?"`)
  t.match(out, /^rc=1$/m)
  t.same(await readdir(join(dir, 'esp/EFI/BOOT')), ['BOOTX64.EFI'], 'no .netboot file left behind')
  t.equal(await readFile(join(dir, 'esp/EFI/BOOT/BOOTX64.EFI'), 'utf8'), 'the loader that boots today\n', 'the old loader untouched')
})

/** A PE32+ header as an EFI executable has one (PE/COFF: e_lfanew at 0x3c; certificate table = data directory 4). */
function pe32plus (certSize: number, magic = 0x20b): Buffer {
  const off = 0x80
  const b = Buffer.alloc(off + 24 + 240)
  b.write('MZ', 0, 'latin1')
  b.writeUInt32LE(off, 0x3c)
  b.write('PE\0\0', off, 'latin1')
  b.writeUInt16LE(magic, off + 24)
  b.writeUInt32LE(certSize > 0 ? 0x4000 : 0, off + 24 + 144)
  b.writeUInt32LE(certSize, off + 24 + 144 + 4)
  return b
}

t.test('efi_signature: whether a kernel carries a signature shim could check', async t => {
  const dir = await image(t, [])
  await mkdir(join(dir, 'boot'))
  await writeFile(join(dir, 'boot/signed'), pe32plus(1880))
  await writeFile(join(dir, 'boot/unsigned'), pe32plus(0))
  await writeFile(join(dir, 'boot/pe32'), pe32plus(1880, 0x10b))
  await writeFile(join(dir, 'boot/gzip'), Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 3]))
  const out = await inTarget(dir, 'for f in signed unsigned pe32 gzip; do echo "$f=$(efi_signature /mnt/target/boot/$f)"; done')
  t.same(out.trim().split('\n'), ['signed=signed', 'unsigned=unsigned', 'pe32=unknown', 'gzip=unknown'],
    'a certificate table means signed, an empty one unsigned; what is not a PE32+ image (a compressed kernel) cannot be told')
})
