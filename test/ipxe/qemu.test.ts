// The scripts as real iPXE runs them: QEMU (TCG) boots SeaBIOS or OVMF with Debian's iPXE NIC ROMs, which take
// their boot file URL from QEMU's built-in user-mode network. restrict=on: the guest reaches nothing but one
// forwarded address, piped to the appliance on 127.0.0.1; no DHCP server runs outside the QEMU process.
// What iPXE asks the appliance for proves it parsed each script and expanded its variables.
import t from 'tap'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { makeLab, type Lab } from '../http/helpers.js'
import { buildHttpApp } from '../../src/http/app.js'

const ROMS = { bios: '/usr/lib/ipxe/qemu/pxe-e1000.rom', efi: '/usr/lib/ipxe/qemu/efi-e1000.rom' }   // Debian's ipxe-qemu
const OVMF = '/usr/share/ovmf/OVMF.fd'
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
const missing = [...Object.values(ROMS), OVMF].find(f => !existsSync(f))

/** Keys typed on the guest's keyboard (QEMU monitor `sendkey`) once a request path starts with `after`. */
interface Typing { after: string, keys: string[] }

/**
 * Boot QEMU from the network against the lab's appliance; the URLs iPXE requested once `until` holds (or 180 s).
 * `typing`: keystrokes sent in order, each batch after its request was seen (and a pause for iPXE to draw).
 */
async function bootInQemu (t: { teardown (fn: () => unknown): void }, lab: Lab, firmware: 'bios' | 'efi', mac: string,
  until: (seen: string[]) => boolean, typing: Typing[] = [], failing: string[] = []): Promise<string[]> {
  const app = await buildHttpApp(lab.ctx)
  const seen: string[] = []
  let wake = (): void => {}
  app.addHook('onRequest', async (req, reply) => {
    seen.push(req.url); wake()
    if (failing.includes(req.url)) return await reply.code(404).send('failing on purpose')
  })
  await app.listen({ host: '127.0.0.1', port: 0 })
  t.teardown(async () => await app.close())
  const port = (app.server.address() as AddressInfo).port
  const qemu = spawn('qemu-system-x86_64', [
    '-accel', 'tcg', '-m', '256', '-display', 'none', '-monitor', 'stdio', '-serial', 'none', '-no-reboot',
    ...(firmware === 'efi' ? ['-bios', OVMF] : []),
    '-uuid', UUID, '-smbios', 'type=1,manufacturer=NBH Labs,product=Box 1,serial=NBH-SN 42',
    '-netdev', `user,id=n0,restrict=on,bootfile=${GUEST_URL}/boot.ipxe,guestfwd=tcp:10.0.2.100:80-cmd:busybox nc 127.0.0.1 ${port}`,
    '-device', `e1000,netdev=n0,mac=${mac},romfile=${ROMS[firmware]}`, '-boot', 'n'
  ], { stdio: ['pipe', 'ignore', 'ignore'] })
  const kill = (): void => { if (qemu.exitCode === null && qemu.pid !== undefined) process.kill(qemu.pid, 'SIGKILL') }
  t.teardown(kill)
  const pending = [...typing]
  for (let i = 0; i < 180 && !until(seen) && qemu.exitCode === null; i++) {
    await new Promise<void>(resolve => { wake = resolve; setTimeout(resolve, 1000) })
    const next = pending[0]
    if (next !== undefined && seen.some(u => u.startsWith(next.after))) {
      pending.shift()
      await new Promise(resolve => setTimeout(resolve, 4000))     // let iPXE draw the prompt or menu
      for (const k of next.keys) qemu.stdin!.write(`sendkey ${k}\n`)
    }
  }
  kill()
  return seen
}

t.test('BIOS iPXE: entry script → identity → deploy script → failed PE download → retry script', { skip: missing ?? false }, async t => {
  // The PE is there (a stand-in, so the deployment begins) but its kernel download fails (404), which takes the
  // script's failure branch. (A stand-in served as is would not: BIOS iPXE accepts any image as a PXE NBP and
  // jumps into it.)
  const lab = await makeLab(t, POLICY, { baseUrl: GUEST_URL })
  const seen = await bootInQemu(t, lab, 'bios', MAC, s => s.filter(u => u === '/boot.ipxe').length >= 2, [], ['/pe/vmlinuz'])
  t.same(seen.slice(0, 4), [
    '/boot.ipxe',
    `/boot/decide?mac=52%3A54%3A00%3A12%3A34%3A56&uuid=${UUID}&serial=NBH-SN%2042&manufacturer=NBH%20Labs&product=Box%201&platform=pcbios&buildarch=i386`,
    '/pe/vmlinuz',
    '/boot.ipxe'
  ], 'iPXE fetched entry, decision, PE kernel, then retried')
  t.match(await lab.ctx.store.machines.get(MAC), { uuid: UUID, serial: 'NBH-SN 42', manufacturer: 'NBH Labs', product: 'Box 1', arch: 'bios' })
  t.match((await lab.ctx.store.deployments.list())[0], { mac: MAC, advertisementId: 'req' })
})

t.test('UEFI iPXE (OVMF): identity with platform efi / x86_64, local boot for an unknown machine', { skip: missing ?? false }, async t => {
  const lab = await makeLab(t, POLICY, { baseUrl: GUEST_URL })
  const other = '52:54:00:ab:cd:ef'
  const seen = await bootInQemu(t, lab, 'efi', other, s => s.some(u => u.startsWith('/boot/decide')))
  t.same(seen.slice(0, 2), [
    '/boot.ipxe',
    `/boot/decide?mac=52%3A54%3A00%3Aab%3Acd%3Aef&uuid=${UUID}&serial=NBH-SN%2042&manufacturer=NBH%20Labs&product=Box%201&platform=efi&buildarch=x86_64`
  ])
  t.match(await lab.ctx.store.machines.get(other), { arch: 'efi-x64', uuid: UUID })
  t.equal((await lab.ctx.store.deployments.list()).length, 0)
})

t.test('BIOS iPXE: PXE password, menu choice by keyboard, deployment of the chosen advertisement', { skip: missing ?? false }, async t => {
  const lab = await makeLab(t, `
taskSequences:
  - {id: ts, name: Kiosk image, steps: [{type: reboot}]}
collections:
  - id: kiosk
    members: [{mac: '${MAC}'}]
advertisements:
  - {id: av-kiosk, taskSequence: ts, collection: kiosk, purpose: available}
http:
  pxePassword: ab
  menuTimeoutSeconds: 0
`, { baseUrl: GUEST_URL })
  const seen = await bootInQemu(t, lab, 'bios', MAC, s => s.includes('/pe/vmlinuz'), [
    { after: '/boot/decide', keys: ['x', 'ret', 'a', 'b', 'ret'] },       // login: any user name, then the password
    { after: '/boot/menu', keys: ['down', 'ret'] }                         // the first advertisement
  ])
  const mac = '52%3A54%3A00%3A12%3A34%3A56'
  t.same(seen.slice(1, 5), [
    `/boot/decide?mac=${mac}&uuid=${UUID}&serial=NBH-SN%2042&manufacturer=NBH%20Labs&product=Box%201&platform=pcbios&buildarch=i386`,
    `/boot/menu?mac=${mac}&password=ab`,
    `/boot/select?adv=av-kiosk&mac=${mac}&password=ab`,
    '/pe/vmlinuz'
  ], 'login → menu → choice → PE')
  t.match((await lab.ctx.store.deployments.list())[0], { mac: MAC, advertisementId: 'av-kiosk', purpose: 'available' })
})
