// End to end in the lab (netns + bridge, dnsmasq as the site DHCP, the appliance, QEMU TCG): a reference VM
// whose disk holds an NTFS volume PXE-boots into the PE, its capture task sequence captures the volume with
// wimcapture and streams it to the appliance; the image lands in the catalog; then a blank VM PXE-boots,
// deploys that image, and the tree read back from its disk equals the reference tree byte for byte.
import t from 'tap'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { createLab, startDnsmasq, startAppliance, startVm, partitionTable, extractNtfs, hashTree } from '../../src/lab/index.js'
import { ensurePe, referenceDisk, captureLabConfig, waitForEnded } from './e2e-helpers.js'

const mac = (): string => '52:54:00:' + [...randomBytes(3)].map(b => b.toString(16).padStart(2, '0')).join(':')

t.test('PXE capture of a reference VM, then a blank VM deploys the captured image', async t => {
  const peDir = await ensurePe()
  const work = await mkdtemp(join(tmpdir(), 'nbi-e2e-'))
  t.teardown(() => rm(work, { recursive: true, force: true }))
  const lab = await createLab({ prefix: 'nbi-' })
  t.teardown(() => lab.close())
  await startDnsmasq(lab, work)
  const refMac = mac()
  const blankMac = mac()
  const app = await startAppliance(lab, captureLabConfig({ address: lab.address, work, peDir, refMac, blankMac }), work)

  // 1. The reference VM captures its NTFS volume.
  const refDisk = join(work, 'ref.raw')
  const sums = await referenceDisk(refDisk, work)
  const ref = await startVm(lab, { firmware: 'bios', mac: refMac, disk: refDisk, serialLog: join(work, 'ref-serial.log'), workDir: work, net: { tap: await lab.addTap() } })
  t.teardown(() => ref.kill())
  const cap = await waitForEnded(app, refMac, 8 * 60_000, 'capture')
  t.equal(cap.state, 'succeeded', `capture deployment ${cap.id}: ${cap.error ?? ''} ${cap.logTail?.slice(-800) ?? ''}`)
  await ref.kill()
  const image = await app.get<{ id: string, size: number, sha256: string, wim: { pipable: boolean, compression: string, images: Array<{ name: string, fileCount: number }> } }>('/api/v1/images/ref-capture')
  t.equal(image.wim.images[0]?.name, 'Reference VM', 'catalogued with the step\'s image name')
  t.equal(image.wim.compression, 'lzx')
  t.equal(image.wim.images[0]?.fileCount, sums.size, 'file count of the reference tree')
  t.comment(`captured image: ${image.size} bytes, sha256 ${image.sha256}, pipable ${String(image.wim.pipable)}`)

  // 2. A blank VM deploys it.
  const blankDisk = join(work, 'blank.raw')
  const blank = await startVm(lab, { firmware: 'bios', mac: blankMac, disk: blankDisk, diskBytes: 2 * 1024 ** 3, serialLog: join(work, 'blank-serial.log'), workDir: work, net: { tap: await lab.addTap() } })
  t.teardown(() => blank.kill())
  const dep = await waitForEnded(app, blankMac, 8 * 60_000, 'deploy')
  t.equal(dep.state, 'succeeded', `deploy deployment ${dep.id}: ${dep.error ?? ''} ${dep.logTail?.slice(-800) ?? ''}`)
  await blank.kill()
  // The captured WIM is pipable: it must still be streamed with Range reads, not downloaded whole into the PE's RAM.
  t.match(await readFile(join(work, 'blank-serial.log'), 'utf8'), /streaming \S+ through httpfs2/, 'the captured image was streamed')

  // 3. The deployed disk holds the reference tree.
  const pt = await partitionTable(blankDisk)
  const ntfs = pt.partitions.find(p => p.type === '7' || /ebd0a0a2/i.test(p.type)) ?? pt.partitions[pt.partitions.length - 1]
  const out = join(work, 'readback')
  await extractNtfs(blankDisk, ntfs!, out, work)
  const got = await hashTree(out)
  for (const [rel, sum] of sums) t.equal(got.get(rel), sum, `${rel} byte for byte`)
  t.equal([...got.keys()].filter(k => !sums.has(k)).length, 0, 'no extra files')
})
