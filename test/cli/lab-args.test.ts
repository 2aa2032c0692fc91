// `netboot lab` arguments: refused before anything is set up (the lab itself runs in test/e2e, through the same
// startLabRun, one test per firmware).
import t from 'tap'
import { command } from '../../src/cli/lab.js'

function io () {
  const out: string[] = []
  const err: string[] = []
  return { out, err, io: { out: (l: string) => { out.push(l) }, err: (l: string) => { err.push(l) } } }
}

t.test('two ways to boot at once: exit 2, saying why', async t => {
  const c = io()
  t.equal(await command.run(['--uefi', '--http-boot'], c.io), 2)
  t.same(c.err, ['netboot lab: --uefi and --http-boot are different ways to boot; give one'])
  t.same(c.out, [], 'nothing was prepared')
  const d = io()
  t.equal(await command.run(['--arm64', '--uefi'], d.io), 2)
  t.same(d.err, ['netboot lab: --uefi and --arm64 are different ways to boot; give one'])
  const e = io()
  t.equal(await command.run(['--secure-boot', '--http-boot'], e.io), 2)
  t.same(e.err, ['netboot lab: --http-boot and --secure-boot are different ways to boot; give one'])
})

t.test('an unknown option: exit 2 with the parser\'s message', async t => {
  const c = io()
  t.equal(await command.run(['--pxe'], c.io), 2)
  t.match(c.err.join('\n'), /^netboot lab: Unknown option '--pxe'/)
})

t.test('the usage names the five ways to boot', async t => {
  t.match(command.usage, /--uefi \| --http-boot \| --arm64 \| --secure-boot/)
  t.match(command.usage, /^ {2}--secure-boot +OVMF with Secure Boot on/m)
  t.match(command.usage, /^ {2}--arm64 +an arm64 VM/m)
  t.match(command.usage, /^ {2}--http-boot +OVMF with its PXE turned off/m)
})

t.test('--linux: with every way to boot, Secure Boot included (makeBootable installs the image\'s signed chain)', async t => {
  t.match(command.usage, /\[--linux\]/)
  t.match(command.usage, /^ {2}--linux +deploy a small Linux system instead/m)
  t.match(command.usage, /with --secure-boot\n +the system carries Debian's signed shim and GRUB, which makeBootable installs/)
  t.notMatch(command.usage, /makeBootable refuses/)
})
