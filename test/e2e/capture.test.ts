// End to end, the path run backwards: the BIOS VM is deployed (partition + apply), then its `capture` step
// runs the image store's capture.sh in the PE, which captures the NTFS volume with wimlib and uploads it to
// the appliance; the new image is catalogued and, applied again here, gives back the source tree.
import t from 'tap'
import { join } from 'node:path'
import { hashTree, sh } from '../../src/lab/index.js'
import { startLabRun, waitForDeploymentEnd } from '../../src/lab/deploy.js'

t.test('a capture step uploads the deployed volume as a new catalogued image', async t => {
  const run = await startLabRun({
    firmware: 'bios',
    extraSteps: [{ type: 'capture', name: 'Capture the volume', image: 'lab-captured', imageName: 'Captured in the lab', compression: 'xpress' }],
    onLine: (l) => { t.comment(l) }
  })
  t.teardown(run.close)
  const d = await waitForDeploymentEnd(run, 10 * 60_000)
  t.equal(d.state, 'succeeded', `deployment ${d.id} ${d.state}${d.error !== undefined ? `: ${d.error}` : ''}`)
  const entry = await run.appliance.get<{ id: string, file: string, size: number, sha256: string }>('/api/v1/images/lab-captured')
  t.equal(entry.id, 'lab-captured', 'the captured image is in the catalogue')
  t.match(entry.sha256, /^[0-9a-f]{64}$/, 'with its checksum')
  await run.vm?.kill()
  const out = join(run.work, 'captured-tree')
  await sh(['wimapply', join(run.work, 'images', entry.file), '1', out])
  const got = await hashTree(out)
  for (const [rel, sum] of run.sums) t.equal(got.get(rel), sum, `${rel} came back byte for byte`)
})
