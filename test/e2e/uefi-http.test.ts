// End to end, UEFI HTTP Boot: an OVMF VM with no PXE (turned off through fw_cfg) and no iPXE ROM asks as arch 16
// with vendor class HTTPClient; the appliance's proxy OFFER names http://…/loaders/ipxe.efi, which the firmware
// downloads from the appliance's own HTTP server; the chained iPXE asks again (arch 7, user class iPXE), gets
// boot.ipxe, and the PE deploys the image. The same deployment as uefi.test.ts, reached without TFTP.
import t from 'tap'
import { readFile } from 'node:fs/promises'
import { partitionTable } from '../../src/lab/index.js'
import { startLabRun, waitForDeploymentEnd } from '../../src/lab/deploy.js'

t.test('UEFI HTTP Boot VM: HTTP loader → iPXE → PE → deployed', async t => {
  const run = await startLabRun({ firmware: 'uefi-http', onLine: (l) => { t.comment(l) } })
  t.teardown(run.close)
  const d = await waitForDeploymentEnd(run, 8 * 60_000)
  t.equal(d.state, 'succeeded', `deployment ${d.id} ${d.state}${d.error !== undefined ? `: ${d.error}` : ''}`)
  await run.vm?.kill()

  const serial = (await readFile(run.serialLog, 'latin1')).replace(/\r/g, '')
  t.match(serial, /Start HTTP Boot over IPv4/, 'the firmware HTTP-booted (its PXE was off)')
  t.match(serial, new RegExp(`URI: ${run.appliance.baseUrl.replace(/[.]/g, '\\.')}/loaders/ipxe\\.efi`), 'the URI was the one in our OFFER')
  const log = await readFile(run.appliance.log, 'utf8')
  t.match(log, /"url":"\/loaders\/ipxe\.efi"/, 'the appliance served the loader over HTTP')
  t.notMatch(log, /tftp transfer start/, 'and nothing by TFTP')
  t.equal((await partitionTable(run.disk)).label, 'gpt', 'the disk was partitioned for UEFI')
})
