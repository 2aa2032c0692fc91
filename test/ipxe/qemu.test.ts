// The scripts as real iPXE runs them: QEMU (TCG) boots SeaBIOS with Debian's iPXE NIC ROM, which takes its boot
// file URL from QEMU's built-in user-mode network. restrict=on: the guest reaches nothing but one forwarded
// address, piped to the appliance on 127.0.0.1; no DHCP server runs outside the QEMU process.
// What iPXE asks the appliance for proves it parsed each script and expanded its variables.
import t from 'tap'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { makeLab } from '../http/helpers.js'
import { buildHttpApp } from '../../src/http/app.js'

const ROM = '/usr/lib/ipxe/qemu/pxe-e1000.rom'     // Debian's ipxe-qemu (BIOS iPXE for e1000)
const MAC = '52:54:00:12:34:56'
const UUID = '8f2c6b3e-1234-4000-8000-00000000abcd'
const GUEST_URL = 'http://10.0.2.100'
const POLICY = `
taskSequences:
  - id: ts
    name: Deploy
    steps: [{type: reboot}]
collections:
  - id: lab
    members: [{mac: '${MAC}'}]
advertisements:
  - {id: req, taskSequence: ts, collection: lab, purpose: required}
`

t.test('BIOS iPXE: entry script → identity → deploy script → failed PE download → retry script', { skip: existsSync(ROM) ? false : `no ${ROM}` }, async t => {
  const lab = await makeLab(t, POLICY, { baseUrl: GUEST_URL })
  // No PE built: the kernel download fails (404), which takes the script's failure branch. (A file that is not a
  // kernel would not: BIOS iPXE accepts any image as a PXE NBP and jumps into it.)
  const app = await buildHttpApp(lab.ctx)
  const seen: string[] = []
  let wake = (): void => {}
  app.addHook('onRequest', async (req) => { seen.push(req.url); wake() })
  await app.listen({ host: '127.0.0.1', port: 0 })
  t.teardown(async () => await app.close())
  const port = (app.server.address() as AddressInfo).port

  const qemu = spawn('qemu-system-x86_64', [
    '-accel', 'tcg', '-m', '128', '-display', 'none', '-monitor', 'none', '-serial', 'none', '-no-reboot',
    '-uuid', UUID, '-smbios', 'type=1,manufacturer=NBH Labs,product=Box 1,serial=NBH-SN 42',
    '-netdev', `user,id=n0,restrict=on,bootfile=${GUEST_URL}/boot.ipxe,guestfwd=tcp:10.0.2.100:80-cmd:busybox nc 127.0.0.1 ${port}`,
    '-device', `e1000,netdev=n0,mac=${MAC},romfile=${ROM}`, '-boot', 'n'
  ], { stdio: 'ignore' })
  t.teardown(() => { if (qemu.exitCode === null && qemu.pid !== undefined) process.kill(qemu.pid, 'SIGKILL') })

  // Until iPXE comes back for the entry script after the failed PE download (the retry script), or 180 s.
  const done = (): boolean => seen.filter(u => u === '/boot.ipxe').length >= 2
  for (let i = 0; i < 180 && !done() && qemu.exitCode === null; i++) {
    await new Promise<void>(resolve => { wake = resolve; setTimeout(resolve, 1000) })
  }

  const d = (await lab.ctx.store.deployments.list())[0]
  t.same(seen.slice(0, 4), [
    '/boot.ipxe',
    `/boot/decide?mac=52%3A54%3A00%3A12%3A34%3A56&uuid=${UUID}&serial=NBH-SN%2042&manufacturer=NBH%20Labs&product=Box%201&platform=pcbios&buildarch=i386`,
    '/pe/vmlinuz',
    '/boot.ipxe'
  ], 'iPXE fetched entry, decision, PE kernel, then retried')
  t.match(await lab.ctx.store.machines.get(MAC), { uuid: UUID, serial: 'NBH-SN 42', manufacturer: 'NBH Labs', product: 'Box 1', arch: 'bios' })
  t.match(d, { mac: MAC, advertisementId: 'req' })
})
