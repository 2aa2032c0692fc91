// `netboot pe build`: the PE holds what the runner needs (checked in the real initramfs), a second build with
// the same inputs does nothing, and a changed script is picked up (the inputs hash covers boot/pe/*).
import t from 'tap'
import { appendFile, cp, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execFileSync } from 'node:child_process'
import { buildPe, PE_SOURCE_DIR } from '../../src/pe/build.js'
import { command } from '../../src/cli/pe.js'
import { REPO_ROOT } from '../../src/lab/services.js'

const PE_DIR = process.env.NETBOOT_PE_DIR ?? join(REPO_ROOT, 'boot/pe/build')

function listInitrd (initrd: string): string[] {
  return execFileSync('sh', ['-c', `zstd -dc '${initrd}' | cpio -t --quiet`], { maxBuffer: 64 << 20 }).toString().split('\n')
}

t.test('the built PE holds the runner, the tools and the drivers', async t => {
  const lines: string[] = []
  const r = await buildPe({ outDir: PE_DIR, onLine: (l) => { lines.push(l) } })
  t.ok(lines.some(l => l.startsWith('pe: ')), 'the build says what it is doing')
  const files = new Set(listInitrd(r.initrd))
  for (const f of ['init', 'netboot/runner.sh', 'netboot/steps.sh', 'netboot/steps-image.sh', 'netboot/range-proxy.sh', 'netboot/udhcpc.script',
    'bin/busybox', 'bin/wimlib-imagex', 'bin/wimapply', 'bin/mkntfs', 'bin/ntfs-3g', 'bin/sfdisk', 'bin/mkfs.fat', 'bin/curl', 'bin/jq',
    'bin/httpfs2', 'bin/kmod', 'lib/x86_64-linux-gnu/libwim.so.15', 'lib/x86_64-linux-gnu/libntfs-3g.so.89']) {
    t.ok(files.has(f), f)
  }
  for (const m of ['e1000.ko', 'e1000e.ko', 'igb.ko', 'ixgbe.ko', 'virtio_net.ko', 'virtio_blk.ko', 'ahci.ko', 'nvme.ko', 'fuse.ko', 'vfat.ko']) {
    t.ok([...files].some(f => f.endsWith(`/${m}`)), `module ${m}`)
  }
  t.ok([...files].some(f => /lib\/modules\/[^/]+\/modules\.dep$/.test(f)), 'depmod ran on the staged tree')
  const shipped = execFileSync('sh', ['-c', `ls '${PE_SOURCE_DIR}'/*.sh`]).toString().trim().split('\n').map(p => p.split('/').pop()).filter(n => n !== 'build.sh')
  for (const s of shipped) t.ok(files.has(`netboot/${s}`), `every boot/pe/*.sh is in /netboot (${s})`)
})

t.test('unchanged inputs: nothing is rebuilt; `netboot pe build` says so', async t => {
  const io = (out: string[]) => ({ out: (l: string) => { out.push(l) }, err: (l: string) => { out.push(l) } })
  const first: string[] = []
  t.equal(await command.run(['build', '--out', PE_DIR], io(first)), 0, 'first call (builds if boot/pe changed meanwhile)')
  const second: string[] = []
  t.equal(await command.run(['build', '--out', PE_DIR], io(second)), 0)
  t.match(second.join('\n'), /PE up to date in /, 'the second call rebuilds nothing')
  t.equal(await command.run(['frobnicate'], io([])), 2, 'an unknown verb is a usage error')
})

t.test('a changed script triggers a rebuild', async t => {
  const src = await mkdtemp(join(tmpdir(), 'nbe-pesrc-'))
  t.teardown(async () => { await rm(src, { recursive: true, force: true }) })
  // everything but the build output (boot/pe/build/): build.sh needs its build.d/ helpers
  const output = join(PE_SOURCE_DIR, 'build')
  await cp(PE_SOURCE_DIR, src, { recursive: true, filter: (p) => p !== output && !p.startsWith(output + '/') })
  // The copy has the same inputs as the PE built above: give it that build, which must count as up to date.
  const out = join(src, 'out')
  await mkdir(out)
  for (const f of ['vmlinuz', 'initrd.img', 'localboot.efi', 'inputs.sha256']) await cp(join(PE_DIR, f), join(out, f))
  const run = (): string => execFileSync('bash', [join(src, 'build.sh'), out], { maxBuffer: 16 << 20 }).toString()
  t.match(run(), /up to date/, 'same inputs: up to date')
  await appendFile(join(src, 'runner.sh'), '\n# changed\n')
  const third = run()
  t.notMatch(third, /up to date/, 'changed runner.sh: rebuilt')
  const runner = execFileSync('sh', ['-c', `zstd -dc '${join(out, 'initrd.img')}' | cpio -i --to-stdout --quiet netboot/runner.sh`]).toString()
  t.match(runner, /# changed\n$/, 'the new runner.sh is in the initramfs')
  t.ok((await readFile(join(out, 'inputs.sha256'), 'utf8')).trim().length === 64, 'the inputs hash is stored next to the output')
  // localboot.efi: the standalone GRUB iPXE chains on UEFI machines told to boot locally (boot/pe/localboot.cfg inside)
  const efi = await readFile(join(out, 'localboot.efi'))
  t.equal(efi.subarray(0, 2).toString('latin1'), 'MZ', 'localboot.efi is a PE/COFF image')
  t.equal(efi.readUInt16LE(efi.readUInt32LE(0x3c) + 4), 0x8664, 'for x86-64 (IMAGE_FILE_MACHINE_AMD64)')
  const tools = execFileSync('sh', ['-c', `zstd -dc '${join(out, 'initrd.img')}' | cpio -t --quiet | grep -E '^(bin/grub-install|usr/lib/grub/i386-pc/boot.img|usr/lib/grub/x86_64-efi/kernel.img|lib/grub/i386-pc/boot.img|lib/grub/x86_64-efi/kernel.img)$' || true`]).toString()
  t.match(tools, /bin\/grub-install/, 'the PE carries grub-install for makeBootable')
  t.match(tools, /grub\/i386-pc\/boot\.img/, 'with GRUB for BIOS')
  t.match(tools, /grub\/x86_64-efi\/kernel\.img/, 'and for x86-64 UEFI')
})
