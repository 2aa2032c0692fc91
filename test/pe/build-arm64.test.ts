// `netboot pe build --arch arm64`: the arm64 PE built from Debian bookworm's arm64 packages (private apt state,
// sysroot, DT_NEEDED closure) holds the runner, the tools, their aarch64 libraries and loader, and the virtio
// drivers; nothing of the x86-64 host slipped in; every library an ELF file names is in the initramfs; vmlinuz is
// the uncompressed arm64 Image with its EFI stub (what iPXE's arm64 EFI build and QEMU -kernel both boot); and a
// second build with the same inputs does nothing.
import t from 'tap'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execFileSync } from 'node:child_process'
import { buildPe } from '../../src/pe/build.js'
import { peDirFor } from '../../src/pe/arch.js'
import { command } from '../../src/cli/pe.js'
import { PE_BASE } from './deploy.js'

const DIR = peDirFor(PE_BASE, 'arm64')
const run = (script: string): string => execFileSync('sh', ['-c', script], { maxBuffer: 64 << 20 }).toString()

t.test('peDirFor: amd64 in paths.pe, arm64 in its arm64/ directory', async t => {
  t.equal(peDirFor('/srv/pe', 'amd64'), '/srv/pe')
  t.equal(peDirFor('/srv/pe', 'arm64'), '/srv/pe/arm64')
})

t.test('the arm64 PE holds the runner, aarch64 tools with their libraries, and the drivers', async t => {
  const lines: string[] = []
  const r = await buildPe({ outDir: DIR, arch: 'arm64', onLine: (l) => { lines.push(l) } })
  t.ok(lines.some(l => l.startsWith('pe: ')), 'the build says what it is doing')
  const root = await mkdtemp(join(tmpdir(), 'nbe-pe-arm64-x-'))
  t.teardown(async () => { await rm(root, { recursive: true, force: true }) })
  run(`cd '${root}' && zstd -dc '${r.initrd}' | cpio -idm --quiet`)
  const files = new Set(run(`zstd -dc '${r.initrd}' | cpio -t --quiet`).split('\n'))
  for (const f of ['init', 'netboot/runner.sh', 'netboot/steps.sh', 'netboot/steps-image.sh', 'netboot/range-proxy.sh', 'netboot/udhcpc.script',
    'bin/busybox', 'bin/sh', 'bin/udhcpc', 'bin/wimlib-imagex', 'bin/wimapply', 'bin/mkntfs', 'bin/ntfs-3g', 'bin/sfdisk', 'bin/mkfs.fat',
    'bin/curl', 'bin/jq', 'bin/httpfs2', 'bin/kmod', 'sbin/modprobe', 'lib/ld-linux-aarch64.so.1',
    'lib/aarch64-linux-gnu/libc.so.6', 'lib/aarch64-linux-gnu/libwim.so.15', 'lib/aarch64-linux-gnu/libntfs-3g.so.89', 'lib/aarch64-linux-gnu/libcurl.so.4']) {
    t.ok(files.has(f), f)
  }
  t.notOk([...files].some(f => f.includes('x86_64') || f.startsWith('lib64/')), 'no x86-64 library directory')
  t.equal(run(`readlink '${root}/bin/sh'`).trim(), 'busybox', 'the busybox applets are links to it')

  // `file` on the real binaries, the loader and every shared library: all AArch64, none x86-64
  for (const f of ['bin/busybox', 'bin/wimlib-imagex', 'bin/ntfs-3g', 'bin/curl', 'bin/jq', 'bin/httpfs2', 'bin/kmod', 'lib/ld-linux-aarch64.so.1']) {
    t.match(run(`file -bL '${root}/${f}'`), /ELF 64-bit LSB .*ARM aarch64/, `${f} is an ARM aarch64 ELF file`)
  }
  const elfs = run(`cd '${root}' && find . -type f \\( -path './bin/*' -o -path './lib/aarch64-linux-gnu/*' -o -name '*.ko' \\) -exec file -b {} + | sort | uniq -c`)
  t.notMatch(elfs, /x86-64|80386/, 'no host (x86) binary, library or module in the initramfs')
  t.match(run(`file -b '${root}/bin/wimlib-imagex'`), 'interpreter /lib/ld-linux-aarch64.so.1', 'binaries ask for the aarch64 loader')
  // Every DT_NEEDED of every ELF file resolves inside the PE (what the arm64 build follows instead of ldd).
  const missing = run(`cd '${root}' && for f in bin/* lib/aarch64-linux-gnu/*; do [ -L "$f" ] && continue
    readelf -d -W "$f" 2>/dev/null | sed -n 's/.*(NEEDED).*\\[\\(.*\\)\\]$/\\1/p' | while read -r so; do
      [ -e "lib/aarch64-linux-gnu/$so" ] || echo "$f needs $so"; done; done`)
  t.equal(missing, '', 'every library named by DT_NEEDED is in lib/aarch64-linux-gnu')

  const builtin = run(`cat '${root}'/lib/modules/*/modules.builtin`)
  for (const m of ['virtio_net', 'virtio_blk', 'virtio_pci', 'virtio_mmio', 'nvme', 'ahci', 'fuse', 'vfat', 'efivarfs', 'igb', 'ixgbe', 'mlx5_core', 'hns3', 'ena']) {
    t.ok([...files].some(f => f.endsWith(`/${m}.ko`)) || builtin.includes(`/${m}.ko`), `module ${m} (or built in)`)
  }
  t.match(run(`file -b "$(find '${root}/lib/modules' -name virtio_net.ko)"`), /ARM aarch64/, 'the modules are arm64 ones')
  t.ok([...files].some(f => /lib\/modules\/[^/]+-arm64\/modules\.dep$/.test(f)), 'depmod ran on the staged arm64 tree')
  const release = await readFile(join(root, 'etc/netboot-pe-release'), 'utf8')
  t.match(release, /^linux-image-\S+-arm64 \S+ arch arm64 inputs [0-9a-f]{64}$/m, '/etc/netboot-pe-release names the kernel and the arch')
  t.equal(release.trim().split(' ').pop(), (await readFile(join(DIR, 'inputs.sha256'), 'utf8')).trim(), 'with the inputs hash kept next to the output')

  // Documentation/arch/arm64/booting.rst: Image header magic "ARM\x64" at 0x38; "MZ" at 0 is the EFI stub's PE header.
  const image = await readFile(r.vmlinuz)
  t.equal(image.subarray(0, 2).toString('latin1'), 'MZ', 'vmlinuz starts with MZ (EFI stub)')
  t.equal(image.subarray(0x38, 0x3c).toString('latin1'), 'ARM\x64', 'vmlinuz is an uncompressed arm64 Image')
  t.match(run(`file -b '${r.vmlinuz}'`), /Linux kernel ARM64 boot executable Image/)
})

t.test('unchanged inputs: nothing is rebuilt; `netboot pe build --arch arm64` says so', async t => {
  const out: string[] = []
  const io = { out: (l: string) => { out.push(l) }, err: (l: string) => { out.push(l) } }
  t.equal(await command.run(['build', '--arch', 'arm64', '--out', DIR], io), 0)
  t.match(out.join('\n'), /PE up to date in .* \(arm64\)/, 'the second build rebuilds nothing')
  t.match(out.join('\n'), /pe: reading Debian bookworm arm64 package lists/, 'it asked its private apt state for newer packages first')
  const bad: string[] = []
  t.equal(await command.run(['build', '--arch', 'sparc'], { out: (l) => { bad.push(l) }, err: (l) => { bad.push(l) } }), 2, 'an unknown arch is a usage error')
  t.match(bad.join('\n'), /--arch must be amd64 or arm64/)
})
