// `netboot media build --capture`: argument checks, and a real hybrid ISO whose boot catalogue has BIOS and UEFI
// entries, whose grub.cfg boots the PE in capture mode, and whose EFI system partition image holds the Secure Boot
// chain (shim → Debian's signed GRUB CD image) when bootLoaders.secureBootDir has it, else GRUB's own (grub-mkrescue).
// (Booting it in QEMU, Secure Boot on included, is in e2e-capture-media.test.ts.)
import t from 'tap'
import { mkdtemp, rm, writeFile, mkdir, readFile, readdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execFileSync } from 'node:child_process'
import { runCli } from '../../src/cli/index.js'
import { captureMediaArgs } from '../../src/images/media.js'

const dir = await mkdtemp(join(tmpdir(), 'nbi-media-'))
t.teardown(() => rm(dir, { recursive: true, force: true }))
const pe = join(dir, 'pe')
await mkdir(pe)
// Stand-ins: the ISO's structure does not depend on what the kernel and initrd contain.
await writeFile(join(pe, 'vmlinuz'), Buffer.alloc(64 * 1024, 1))
await writeFile(join(pe, 'initrd.img'), Buffer.alloc(64 * 1024, 2))

// Stand-ins for the signed loaders: what the ESP image must hold, byte for byte (the e2e boots the real ones).
const sb = join(dir, 'secureboot')
await mkdir(sb)
for (const f of ['shimx64.efi', 'mmx64.efi', 'gcdx64.efi']) await writeFile(join(sb, f), `stand-in ${f}\n`)

/** A file of the ISO's EFI system partition image (/efi.img), or undefined when it is not there. */
function espFile (iso: string, path: string): string | undefined {
  const img = join(dir, 'efi.img')
  execFileSync('xorriso', ['-osirrox', 'on', '-indev', iso, '-extract', '/efi.img', img], { stdio: 'ignore' })
  try {
    return execFileSync('mtype', ['-i', img, `::${path}`], { stdio: ['ignore', 'pipe', 'ignore'] }).toString('latin1')
  } catch { return undefined } finally { execFileSync('rm', ['-f', img]) }
}

const cfg = { httpBaseUrl: 'http://10.9.8.7:8080', http: { captureToken: 'capture-secret-1', enabled: true, menuTimeoutSeconds: 10 }, paths: { pe } } as any

t.test('values that reach the kernel command line are checked', async t => {
  const args = captureMediaArgs(cfg, {})
  t.same(args.slice(0, 4), ['--url', 'http://10.9.8.7:8080', '--token', 'capture-secret-1'])
  t.throws(() => captureMediaArgs(cfg, { url: 'http://127.0.0.1:8080' }), /loopback/)
  t.throws(() => captureMediaArgs(cfg, { url: 'http://x y' }), /not an http/)
  t.throws(() => captureMediaArgs(cfg, { url: "http://x/'; reboot" }), /not an http/)
  t.throws(() => captureMediaArgs({ ...cfg, http: {} }, {}), /no capture token/)
  t.throws(() => captureMediaArgs(cfg, { token: 'has space in it' }), /capture token must be/)
  t.throws(() => captureMediaArgs(cfg, { image: '../x' }), /not a valid image id/)
  t.throws(() => captureMediaArgs(cfg, { volume: '/etc/passwd; x' }), /--volume/)
})

t.test('netboot media build --capture writes a BIOS+UEFI ISO booting the PE in capture mode', async t => {
  const config = join(dir, 'appliance.yaml')
  await writeFile(config, `server:\n  address: 10.9.8.7\nports:\n  http: 8080\nhttp:\n  captureToken: capture-secret-1\npaths:\n  pe: ${pe}\n  state: ${join(dir, 'state')}\n  images: ${join(dir, 'images')}\nbootLoaders:\n  secureBootDir: ${sb}\n`)
  const out: string[] = []
  const err: string[] = []
  const iso = join(dir, 'out', 'capture.iso')
  await mkdir(join(dir, 'out'))
  const code = await runCli(['media', 'build', '--capture', '--config', config, '--out', iso, '--image', 'ref-1', '--compression', 'lzms'],
    { out: l => out.push(l), err: l => err.push(l) })
  t.equal(code, 0, err.join('\n'))
  t.match(out.join('\n'), /capture media: .*capture\.iso \(\d+\.\d MiB\) — boot it on the reference computer \(BIOS or UEFI, Secure Boot on or off/)
  t.match(out.join('\n'), /media: UEFI boot: shim → Debian's signed GRUB → the PE's signed kernel/)
  t.same(await readdir(join(dir, 'out')), ['capture.iso'], 'no temp file left')
  const report = execFileSync('xorriso', ['-indev', iso, '-report_el_torito', 'plain'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString()
  t.match(report, /El Torito boot img :\s+1\s+BIOS\s+y/, 'BIOS El Torito entry')
  t.match(report, /El Torito boot img :\s+2\s+UEFI\s+y/, 'UEFI El Torito entry')
  const grubCfg = join(dir, 'grub.cfg')
  execFileSync('xorriso', ['-osirrox', 'on', '-indev', iso, '-extract', '/boot/grub/grub.cfg', grubCfg], { stdio: 'ignore' })
  const text = await readFile(grubCfg, 'utf8')
  t.match(text, /linux \/netboot\/vmlinuz 'netboot\.mode=capture' 'netboot\.url=http:\/\/10\.9\.8\.7:8080' 'netboot\.capture_token=capture-secret-1' 'netboot\.image=ref-1' 'netboot\.compression=lzms' console=ttyS0,115200 console=tty0\n/)
  t.match(text, /initrd \/netboot\/initrd\.img/)
  const kernel = join(dir, 'k')
  execFileSync('xorriso', ['-osirrox', 'on', '-indev', iso, '-extract', '/netboot/vmlinuz', kernel], { stdio: 'ignore' })
  t.same(await readFile(kernel), await readFile(join(pe, 'vmlinuz')), 'the PE kernel is on the ISO')
  // UEFI: shim at the removable-media path, Debian's signed CD GRUB beside it as grubx64.efi (shim's second stage);
  // that GRUB finds the disc by /.disk/info and reads its /boot/grub/grub.cfg.
  t.equal(espFile(iso, '/EFI/BOOT/BOOTX64.EFI'), 'stand-in shimx64.efi\n', 'ESP: shim is BOOTX64.EFI')
  t.equal(espFile(iso, '/EFI/BOOT/grubx64.efi'), 'stand-in gcdx64.efi\n', 'ESP: the signed CD GRUB is grubx64.efi')
  t.equal(espFile(iso, '/EFI/BOOT/mmx64.efi'), 'stand-in mmx64.efi\n', 'ESP: MokManager')
  t.equal(espFile(iso, '/EFI/BOOT/fbx64.efi'), undefined, 'ESP: no shim fallback (it would write NVRAM boot entries)')
  const info = join(dir, 'info')
  execFileSync('xorriso', ['-osirrox', 'on', '-indev', iso, '-extract', '/.disk/info', info], { stdio: 'ignore' })
  t.match(await readFile(info, 'utf8'), /capture media/, 'the disc carries /.disk/info, which the signed GRUB searches for')

  // --no-secure-boot, or loaders missing: GRUB's own unsigned x86_64-efi image, and the build says so.
  const plain = join(dir, 'out', 'plain.iso')
  out.length = 0
  t.equal(await runCli(['media', 'build', '--capture', '--config', config, '--out', plain, '--no-secure-boot'], { out: l => out.push(l), err: l => err.push(l) }), 0, err.join('\n'))
  t.match(out.join('\n'), /unsigned GRUB \(--no-secure-boot\): machines with Secure Boot on refuse it[^]*Secure Boot off, CD or USB stick/)
  t.not(espFile(plain, '/EFI/BOOT/BOOTX64.EFI'), undefined, 'ESP: a BOOTX64.EFI')
  t.not(espFile(plain, '/EFI/BOOT/BOOTX64.EFI'), 'stand-in shimx64.efi\n', 'which is GRUB, not shim')
  t.equal(espFile(plain, '/EFI/BOOT/grubx64.efi'), undefined, 'and nothing for shim to load')
  await rm(join(sb, 'gcdx64.efi'))
  out.length = 0
  t.equal(await runCli(['media', 'build', '--capture', '--config', config, '--out', plain], { out: l => out.push(l), err: l => err.push(l) }), 0, err.join('\n'))
  t.match(out.join('\n'), new RegExp(`media: warning: UEFI boot: unsigned GRUB, machines with Secure Boot on refuse it: no gcdx64\\.efi in ${sb.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(run scripts/fetch-trixie-loaders\\.sh\\)`))
  t.equal(espFile(plain, '/EFI/BOOT/grubx64.efi'), undefined, 'unsigned ESP')
  await writeFile(join(sb, 'gcdx64.efi'), 'stand-in gcdx64.efi\n')

  const code2 = await runCli(['media', 'build', '--capture', '--config', config, '--url', 'http://127.0.0.1'], { out: () => {}, err: l => err.push(l) })
  t.equal(code2, 1)
  t.match(err.join('\n'), /loopback address.*\[NB_ERR_MEDIA\]/)
})
