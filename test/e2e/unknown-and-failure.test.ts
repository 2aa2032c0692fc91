// End to end, the two other outcomes: a machine in no collection is told to boot locally and inventoried;
// a task sequence whose applyImage names an image index the WIM lacks (the WIM was replaced after the config
// was checked) ends as a failed deployment whose error says so.
import t from 'tap'
import { rename } from 'node:fs/promises'
import { join } from 'node:path'
import { waitFor } from '../../src/lab/services.js'
import { makeWim } from '../../src/lab/index.js'
import { bootDiagnosis, decideCount, startLabRun, waitForDeploymentEnd, type ShownDeployment } from '../../src/lab/deploy.js'

t.test('a machine in no collection boots locally and appears in the inventory', async t => {
  const run = await startLabRun({ firmware: 'bios', inCollection: false, onLine: (l) => { t.comment(l) } })
  t.teardown(run.close)
  await waitFor(async () => await decideCount(run) >= 1, 4 * 60_000, 'the VM never asked /boot/decide with its MAC')
    .catch(async (err: Error) => { throw new Error(`${err.message}: ${await bootDiagnosis(run)}`) })
  const machines = await run.appliance.get<Array<{ mac: string }>>('/api/v1/machines')
  t.ok(machines.some(m => m.mac === run.mac), 'the VM is in the inventory')
  const deployments = await run.appliance.get<ShownDeployment[]>('/api/v1/deployments')
  t.notOk(deployments.some(d => d.mac === run.mac), 'no deployment was created for it')
  const again = await run.appliance.fetchText(`/boot/decide?mac=${encodeURIComponent(run.mac)}&platform=pcbios&buildarch=i386`)
  t.match(again.body, /Boot from the local disk/, 'it is told to boot locally')
})

t.test('a missing image index ends as a failed deployment with the error shown', async t => {
  // The config check refuses an index beyond the WIM's images, so the sequence is written against a WIM with
  // two images, which is then replaced (atomically, as an admin would) by one with a single image.
  const run = await startLabRun({
    firmware: 'bios',
    wimImages: 2,
    imageIndex: 2,
    onLine: (l) => { t.comment(l) },
    beforeVm: async (r) => {
      const images = join(r.work, 'images')
      await makeWim(join(images, 'lab.next.wim'), [{ dir: join(r.work, 'tree'), name: 'Only image' }])
      await rename(join(images, 'lab.next.wim'), join(images, 'lab.wim'))
    }
  })
  t.teardown(run.close)
  const d = await waitForDeploymentEnd(run, 8 * 60_000)
  t.equal(d.state, 'failed')
  t.match(d.error, /image index 2 does not exist/, 'the error names the missing index')
  const shown = await run.appliance.get<ShownDeployment>(`/api/v1/deployments/${d.id}`)
  t.match(shown.logTail, /image index 2 does not exist/, 'the log tail shows it too')
})
