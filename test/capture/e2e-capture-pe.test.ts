// End to end without the PXE part: the appliance decides (GET /boot/decide, which creates the deployment and
// its token, exactly what iPXE would fetch), and QEMU boots the same PE kernel + initrd with the same kernel
// command line directly. The PE's runner fetches the capture task sequence, capture.sh captures the
// reference VM's NTFS volume (/dev/vda1, found by `auto`) and streams it to /pe/v1/capture/…; the image is
// catalogued and its tree equals the reference tree. (e2e-capture.test.ts does the whole chain over PXE.)
import t from 'tap'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { createLab, startDnsmasq, startAppliance, startVm, hashTree, sh } from '../lab/index.js'
import { ensurePe, referenceDisk, captureLabConfig, waitForEnded } from './e2e-helpers.js'

const mac = (): string => '52:54:00:' + [...randomBytes(3)].map(b => b.toString(16).padStart(2, '0')).join(':')

t.test('the PE runs a capture task sequence and the image lands in the store', async t => {
  const peDir = await ensurePe()
  const work = await mkdtemp(join(tmpdir(), 'nbi-pe-e2e-'))
  t.teardown(() => rm(work, { recursive: true, force: true }))
  const lab = await createLab({ prefix: 'nbi-' })
  t.teardown(() => lab.close())
  await startDnsmasq(lab, work)
  const refMac = mac()
  const app = await startAppliance(lab, captureLabConfig({ address: lab.address, work, peDir, refMac, blankMac: mac() }), work)

  const decide = await app.fetchText(`/boot/decide?mac=${encodeURIComponent(refMac)}&platform=pcbios&buildarch=i386`)
  const m = /kernel \S+\/pe\/vmlinuz initrd=initrd\.img (.+) \|\| goto failed/.exec(decide.body)
  t.ok(m, `the appliance sends the reference machine to the PE:\n${decide.body}`)
  if (m === null) return
  const disk = join(work, 'ref.raw')
  const sums = await referenceDisk(disk, work)
  const vm = await startVm(lab, {
    firmware: 'bios', mac: refMac, disk, serialLog: join(work, 'serial.log'), workDir: work, net: { tap: await lab.addTap() },
    kernel: join(peDir, 'vmlinuz'), initrd: join(peDir, 'initrd.img'), append: m[1].replace(/console=tty0 /, ''), noReboot: true
  })
  t.teardown(() => vm.kill())
  const d = await waitForEnded(app, refMac, 8 * 60_000, 'capture')
  t.equal(d.state, 'succeeded', `deployment ${d.id}: ${d.error ?? ''}\n${d.logTail?.slice(-1500) ?? ''}`)
  await vm.kill()

  const e = await app.get<{ file: string, size: number, sha256: string, wim: { pipable: boolean, compression: string, images: Array<{ name: string, fileCount: number }> } }>('/api/v1/images/ref-capture')
  t.equal(e.wim.images[0]?.name, 'Reference VM', 'named by the step\'s imageName')
  t.equal(e.wim.compression, 'lzx', 'compressed as the step says')
  t.equal(e.wim.pipable, true, 'streamed (pipable) WIM')
  t.comment(`captured ${e.size} bytes, sha256 ${e.sha256}`)
  const out = join(work, 'applied')
  await sh(['wimapply', join(work, 'images', e.file), '1', out])
  const got = await hashTree(out)
  for (const [rel, sum] of sums) t.equal(got.get(rel), sum, `${rel} byte for byte`)
  t.equal([...got.keys()].filter(k => !sums.has(k)).length, 0, 'no extra files')
})
