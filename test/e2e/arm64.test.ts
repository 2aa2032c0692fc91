// End to end, arm64: an AAVMF VM (qemu-system-aarch64 -M virt, TCG) PXE-boots as arch 11; the appliance's proxy
// OFFER names ipxe-arm64.efi (Debian trixie's build, scripts/fetch-trixie-loaders.sh), served over TFTP; the chained
// arm64 iPXE gets boot.ipxe, identifies itself (buildarch arm64) and boots the arm64 PE (/pe/arm64/*), which
// partitions the disk (GPT + ESP: UEFI), streams the WIM onto NTFS and reports success.
import t from 'tap'
import { join } from 'node:path'
import { readFile } from 'node:fs/promises'
import { extractNtfs, hashTree, partitionTable } from '../../src/lab/index.js'
import { startLabRun, waitForDeploymentEnd } from '../../src/lab/deploy.js'

t.test('arm64 UEFI VM: PXE → arm64 iPXE → arm64 PE → GPT + ESP + NTFS', async t => {
  const run = await startLabRun({ firmware: 'uefi-arm64', onLine: (l) => { t.comment(l) } })
  t.teardown(run.close)
  const d = await waitForDeploymentEnd(run, 12 * 60_000)
  t.equal(d.state, 'succeeded', `deployment ${d.id} ${d.state}${d.error !== undefined ? `: ${d.error}` : ''}`)
  await run.vm?.kill()

  const serial = (await readFile(run.serialLog, 'latin1')).replace(/\r/g, '')
  t.match(serial, /NBP filename is ipxe-arm64\.efi/, 'the firmware took the arm64 loader from our OFFER')
  t.match(serial, /iPXE 1\.\d+/, 'iPXE\'s arm64 build ran')
  t.match(serial, /\/pe\/arm64\/vmlinuz/, 'it fetched the arm64 PE')
  t.match(serial, /netboot-pe: init \([^)]*arm64/, 'and the arm64 PE\'s init ran')
  const log = await readFile(run.appliance.log, 'utf8')
  t.match(log, /"url":"\/pe\/arm64\/initrd\.img"/, 'the appliance served the arm64 initrd')
  const mac = encodeURIComponent(run.mac)
  const again = await run.appliance.fetchText(`/boot/decide?mac=${mac}&platform=efi&buildarch=arm64`)
  t.match(again.body, /Boot from the local disk/, 'the next boot is told to boot locally')

  const pt = await partitionTable(run.disk)
  t.equal(pt.label, 'gpt', 'UEFI ⇒ GPT')
  const [esp, data] = pt.partitions
  t.equal(esp?.type, 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B', 'the first partition is an EFI system partition')
  const out = join(run.work, 'readback')
  await extractNtfs(run.disk, data!, out, run.work)
  const got = await hashTree(out)
  for (const [rel, sum] of run.sums) t.equal(got.get(rel), sum, `${rel} byte for byte`)
})
