// Which PE a deployment would boot on a machine, or why none: the rule the boot route and whatif share.
import t from 'tap'
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { deployBlocked, loaderFor, peForDeployment, WINPE_NEEDS_IPXE } from '../../src/pe/availability.js'
import { testConfig } from '../dhcp/helpers.js'
import type { AppConfig, TaskSequence } from '../../src/config/schema.js'

const LINUX: TaskSequence = { id: 'lin', variables: {}, steps: [{ type: 'reboot' }] }
const WINPE: TaskSequence = { id: 'wpe', variables: { PE: 'winpe' }, steps: [{ type: 'reboot' }] }

async function config (t: { teardown: (f: () => Promise<void>) => void }, secureBoot: boolean): Promise<AppConfig> {
  const dir = await mkdtemp(join(tmpdir(), 'nbp-avail-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  await mkdir(join(dir, 'pe'))
  for (const f of ['vmlinuz', 'initrd.img']) await writeFile(join(dir, 'pe', f), f)
  const base = testConfig({ bootLoaders: { secureBoot } })
  return { ...base, paths: { ...base.paths, pe: join(dir, 'pe'), winpe: join(dir, 'winpe') } }
}

t.test('secureBoot: x86-64 UEFI machines boot GRUB, every other arch iPXE', async t => {
  const on = await config(t, true)
  const off = await config(t, false)
  t.same(['bios', 'efi-ia32', 'efi-x64', 'efi-x64-http', 'efi-arm64'].map(a => loaderFor(on, a as never)), ['ipxe', 'ipxe', 'grub', 'grub', 'ipxe'])
  t.same(['efi-x64', 'efi-x64-http'].map(a => loaderFor(off, a as never)), ['ipxe', 'ipxe'])
})

t.test('WinPE under GRUB: refused with the reason; the Linux PE either way', async t => {
  const on = await config(t, true)
  t.same(await peForDeployment(on, 'efi-x64', WINPE, 'ipxe'), { arch: 'winpe' })
  t.match(await peForDeployment(on, 'efi-x64', WINPE, 'grub'), { missing: WINPE_NEEDS_IPXE })
  t.same(await peForDeployment(on, 'efi-x64', LINUX, 'grub'), { arch: 'amd64' })
  const d = (ts: TaskSequence) => ({ kind: 'deploy', taskSequence: ts })
  t.equal(await deployBlocked(on, 'efi-x64', d(WINPE)), WINPE_NEEDS_IPXE, 'whatif: an x86-64 UEFI machine would boot GRUB, so no WinPE')
  t.equal(await deployBlocked(on, 'bios', d(WINPE)), undefined, 'a BIOS machine still boots iPXE and WinPE')
  t.equal(await deployBlocked(await config(t, false), 'efi-x64', d(WINPE)), undefined, 'secureBoot off: iPXE, WinPE')
})
