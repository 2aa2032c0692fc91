// End to end, UEFI: the same deployment on an OVMF VM: PXE through the firmware (arch 7) → TFTP ipxe.efi →
// iPXE → the PE booted through the EFI stub → GPT with an EFI system partition (FAT32) and NTFS.
import t from 'tap'
import { join } from 'node:path'
import { readFile } from 'node:fs/promises'
import { extractNtfs, hashTree, partitionTable, waitForLine } from '../../src/lab/index.js'
import { blkid } from '../../src/lab/disk.js'
import { decideCount, startLabRun, waitForDeploymentEnd } from '../../src/lab/deploy.js'

t.test('UEFI VM: PXE → ipxe.efi → PE → GPT + ESP + NTFS', async t => {
  const run = await startLabRun({ firmware: 'uefi', onLine: (l) => { t.comment(l) } })
  t.teardown(run.close)
  const d = await waitForDeploymentEnd(run, 8 * 60_000)
  t.equal(d.state, 'succeeded', `deployment ${d.id} ${d.state}${d.error !== undefined ? `: ${d.error}` : ''}`)
  // After the result the PE reboots; OVMF PXE-boots again and iPXE asks /boot/decide a second time.
  const firstBoot = (await readFile(run.serialLog, 'latin1')).indexOf('netboot: task sequence complete')
  t.ok(firstBoot > 0, 'the PE printed the end of the sequence on the serial console')
  t.match(await readFile(run.serialLog, 'latin1'), /netboot: firmware: UEFI, Secure Boot off/, 'the PE read the firmware\'s SecureBoot variable (efivarfs mounted)')
  await waitForLine(run.serialLog, /boot\/decide\.\.\. ok/, 4 * 60_000, { from: firstBoot })
  t.ok(await decideCount(run) >= 2, 'the VM PXE-booted again and the appliance answered it')
  const mac = encodeURIComponent(run.mac)
  const again = await run.appliance.fetchText(`/boot/decide?mac=${mac}&platform=efi&buildarch=x86_64`)
  t.match(again.body, /Boot from the local disk/, 'the next boot is told to boot locally')
  await run.vm?.kill()

  const pt = await partitionTable(run.disk)
  t.equal(pt.label, 'gpt', 'UEFI ⇒ GPT')
  t.equal(pt.partitions.length, 2, 'ESP + data partition')
  const [esp, data] = pt.partitions
  t.equal(esp?.type, 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B', 'the first partition is an EFI system partition')
  t.ok((esp?.size ?? 0) >= 100 * 1024 ** 2 && (esp?.size ?? 0) <= 260 * 1024 ** 2, 'ESP between 100 and 260 MiB')
  t.match(await blkid(run.disk, esp!), /TYPE=vfat/, 'the ESP is FAT')
  t.equal(data?.type, 'EBD0A0A2-B9E5-4433-87C0-68B6B72699C7', 'the second is a basic data partition')
  const out = join(run.work, 'readback')
  await extractNtfs(run.disk, data!, out, run.work)
  const got = await hashTree(out)
  for (const [rel, sum] of run.sums) t.equal(got.get(rel), sum, `${rel} byte for byte`)
})
