// End to end, BIOS: a QEMU VM with a blank 2 GiB disk PXE-boots (SeaBIOS + Debian's iPXE e1000 ROM) from
// the appliance's proxyDHCP while dnsmasq gives the address, chains to the appliance's iPXE script, boots
// the Linux PE, runs the required task sequence (partition + apply a real WIM) and reports success; its
// next PXE boot is sent to the local disk; the disk holds the source tree byte for byte on NTFS (MBR).
import t from 'tap'
import { join } from 'node:path'
import { readFile } from 'node:fs/promises'
import { extractNtfs, hashTree, partitionTable, waitForLine } from '../../src/lab/index.js'
import { decideCount, startLabRun, waitForDeploymentEnd } from '../../src/lab/deploy.js'

t.test('BIOS VM: PXE → iPXE → PE → WIM on NTFS, then told to boot locally', async t => {
  const run = await startLabRun({ firmware: 'bios', onLine: (l) => { t.comment(l) } })
  t.teardown(run.close)
  const d = await waitForDeploymentEnd(run, 8 * 60_000)
  t.equal(d.state, 'succeeded', `deployment ${d.id} ${d.state}${d.error !== undefined ? `: ${d.error}` : ''}`)
  const events = await run.appliance.get<Array<{ type: string }>>(`/api/v1/deployments/${d.id}/events`)
  t.ok(events.some(e => e.type === 'checked-in'), 'the PE checked in')
  t.ok(events.some(e => e.type === 'step-end'), 'steps reported their end')

  // The PE reboots after reporting; the VM PXE-boots again and the appliance sends it to its disk: iPXE
  // fetches /boot/decide a second time and runs the local-boot script (sanboot of drive 0x80).
  const firstBoot = (await readFile(run.serialLog, 'latin1')).indexOf('netboot: task sequence complete')
  t.ok(firstBoot > 0, 'the PE printed the end of the sequence on the serial console')
  t.match(await readFile(run.serialLog, 'latin1'), /netboot: firmware: BIOS/, 'the PE tells BIOS from UEFI')
  await waitForLine(run.serialLog, /boot\/decide\.\.\. ok[\s\S]*Booting from SAN device 0x80/, 4 * 60_000, { from: firstBoot })
  t.pass('the VM PXE-booted again and was sent to its local disk')
  t.ok(await decideCount(run) >= 2, 'the appliance answered /boot/decide for both boots')
  const mac = encodeURIComponent(run.mac)
  const again = await run.appliance.fetchText(`/boot/decide?mac=${mac}&platform=pcbios&buildarch=i386`)
  t.match(again.body, /Boot from the local disk/, 'the decision for this machine is now the local disk')
  t.notMatch(again.body, /pe\/vmlinuz/, 'and not the PE again')
  await run.vm?.kill()

  const pt = await partitionTable(run.disk)
  t.equal(pt.label, 'dos', 'BIOS ⇒ MBR partition table')
  t.equal(pt.partitions.length, 1, 'one partition')
  t.equal(pt.partitions[0]?.bootable, true, 'marked active')
  const out = join(run.work, 'readback')
  await extractNtfs(run.disk, pt.partitions[0]!, out, run.work)
  const got = await hashTree(out)
  for (const [rel, sum] of run.sums) t.equal(got.get(rel), sum, `${rel} byte for byte`)
})
