// The local-boot search exists twice: in the Secure Boot chain's GRUB configs (src/grub/local-boot.ts) and in
// boot/pe/localboot.cfg, the config of the standalone GRUB that iPXE chains (built by boot/pe/build.sh). Same lines.
import t from 'tap'
import { readFile } from 'node:fs/promises'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { LOCAL_LOADERS, localBootLines } from '../../src/grub/local-boot.js'

const run = promisify(execFile)
const CFG = new URL('../../boot/pe/localboot.cfg', import.meta.url)

t.test('boot/pe/localboot.cfg runs the same search as the GRUB configs', async t => {
  const cfg = (await readFile(CFG, 'utf8')).split('\n')
  const search = localBootLines().slice(0, -2)   // without the last words: localboot.cfg sleeps and returns to iPXE
  const at = cfg.indexOf(search[0] as string)
  t.ok(at >= 0, 'the $grub_cpu line is in localboot.cfg')
  t.same(cfg.slice(at, at + search.length), search, 'and the loop after it, line for line')
  await run('grub-script-check', [CFG.pathname])
  t.pass('grub-script-check accepts localboot.cfg')
})

t.test('the loaders: Windows first, the removable-media path last, arm64 names by $grub_cpu', async t => {
  t.equal(LOCAL_LOADERS[0], '/EFI/Microsoft/Boot/bootmgfw.efi')
  t.equal(LOCAL_LOADERS.at(-1), '/EFI/BOOT/$removable')
  t.ok(LOCAL_LOADERS.includes('/EFI/ubuntu/shim$efi.efi'))
  t.match(localBootLines()[0], /"\$grub_cpu" = arm64 \]; then set efi=aa64; set removable=BOOTAA64\.EFI; else set efi=x64; set removable=BOOTX64\.EFI/)
  t.equal(localBootLines().at(-1), 'exit', 'exit when nothing is found')
})
