// The GRUB-facing routes of the Secure Boot chain (bootLoaders.secureBoot), through the real policy and deployments
// service: the entry config, the decision, the menu, what GRUB cannot do, the chain's files, and the connection
// GRUB needs closed.
import t from 'tap'
import { localBootLines } from '../../src/grub/local-boot.js'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { BASE, makeLab, type Lab } from './helpers.js'
import { WINPE_NEEDS_IPXE } from '../../src/pe/availability.js'
import { label } from '../../src/ipxe/script.js'

/** How every GRUB config that leaves for the local disk ends (src/grub/local-boot.ts). */
const LOCAL = localBootLines().join('\n') + '\n'

const M1 = '52:54:00:00:00:01'   // required win11
const M2 = '52:54:00:00:00:02'   // two available
const M3 = '52:54:00:00:00:03'   // required, PE=winpe
const POLICY = `
taskSequences:
  - {id: win11, name: Windows 11, steps: [{type: reboot}]}
  - {id: ubuntu, name: Ubuntu 24.04, steps: [{type: reboot}]}
  - {id: wpe, name: WinPE deploy, variables: {PE: winpe}, steps: [{type: reboot}]}
collections:
  - {id: lab, members: [{mac: '${M1}'}]}
  - {id: kiosk, members: [{mac: '${M2}'}]}
  - {id: wp, members: [{mac: '${M3}'}]}
advertisements:
  - {id: req-win11, taskSequence: win11, collection: lab, purpose: required}
  - {id: av-win11, taskSequence: win11, collection: kiosk, purpose: available}
  - {id: av-ubuntu, taskSequence: ubuntu, collection: kiosk, purpose: available}
  - {id: req-wpe, taskSequence: wpe, collection: wp, purpose: required}
bootLoaders:
  secureBoot: true
`
const GRUB_UA = { 'user-agent': 'GRUB 2.12' }
const decide = (mac: string, extra = ''): string => `/boot/grub/decide?mac=${mac}&uuid=4c4c4544-0042-3510-8052-b4c04f4b4e32&platform=efi&buildarch=x86_64${extra}`

async function get (lab: Lab, url: string): Promise<string> {
  const r = await lab.app.inject({ url, headers: GRUB_UA })
  if (r.statusCode !== 200) throw new Error(`${url}: ${r.statusCode} ${r.body}`)
  return r.body
}

t.test('GRUB\'s config paths are the entry config; every answer to GRUB closes its connection', async t => {
  const lab = await makeLab(t, POLICY)
  for (const path of ['/grub/grub.cfg', '/grub/x86_64-efi/grub.cfg']) {
    const r = await lab.app.inject({ url: path, headers: GRUB_UA })
    t.equal(r.statusCode, 200, path)
    t.match(r.body, 'configfile "(http,10.9.8.7:8080)/boot/grub/decide?${nb_id}"', `${path}: asks /boot/grub/decide`)
    t.equal(r.headers.connection, 'close', `${path}: connection closed (GRUB reads to the end of the connection)`)
  }
  const ipxe = await lab.app.inject({ url: '/boot.ipxe' })
  t.not(ipxe.headers.connection, 'close', 'iPXE keeps its connection')
})

t.test('a required deployment through GRUB: the inventory learns the machine, the PE boots once, then the disk', async t => {
  const lab = await makeLab(t, POLICY)
  const body = await get(lab, decide(M1, '&serial=ABC123'))
  const id = /netboot\.deployment=(\S+)/.exec(body)?.[1] ?? 'none'
  const token = /netboot\.token=(\S+)/.exec(body)?.[1] ?? 'none'
  t.equal(body, `# Deployment ${id}: Windows 11. The token is valid for this deployment only.
echo 'netboot: deployment ${id}: Windows 11'
if linux "(http,10.9.8.7:8080)/pe/vmlinuz" netboot.url=${BASE} netboot.token=${token} netboot.deployment=${id} console=tty0 console=ttyS0,115200; then
  if initrd "(http,10.9.8.7:8080)/pe/initrd.img"; then boot; fi
fi
echo 'netboot: could not boot the PE; rebooting in 10 seconds'
sleep 10
reboot
`)
  t.match(await lab.ctx.store.machines.get(M1), { arch: 'efi-x64', uuid: '4c4c4544-0042-3510-8052-b4c04f4b4e32', serial: 'ABC123' })
  const auth = { authorization: `Bearer ${token}` }
  t.equal((await lab.app.inject({ url: '/pe/v1/task-sequence', headers: auth })).statusCode, 200, 'the PE checks in')
  t.equal((await lab.app.inject({ method: 'POST', url: '/pe/v1/result', headers: auth, payload: { result: 'succeeded' } })).statusCode, 204)
  const local = await get(lab, decide(M1))
  t.match(local, /^# Boot from the local disk: .*\necho 'netboot: booting from the local disk \([^'\n]*'\n/)
  t.ok(local.endsWith(LOCAL), 'then it chainloads the local disk\'s OS loader')
  t.equal((await lab.ctx.store.deployments.list()).length, 1)
})

t.test('menu and choice through GRUB', async t => {
  const lab = await makeLab(t, POLICY)
  const menu = await get(lab, decide(M2))
  t.match(menu, "menuentry 'Windows 11' {\n  configfile \"(http,10.9.8.7:8080)/boot/grub/select?adv=av-win11&mac=52%3A54%3A00%3A00%3A00%3A02\"\n")
  t.equal((await lab.ctx.store.deployments.list()).length, 0, 'a menu starts nothing')
  const chosen = await get(lab, `/boot/grub/select?adv=av-ubuntu&mac=${M2}&platform=efi&buildarch=x86_64`)
  t.match(chosen, /^# Deployment \S+: Ubuntu 24\.04\./)
  t.match(await lab.ctx.store.deployments.list(), [{ advertisementId: 'av-ubuntu', mac: M2 }])
})

t.test('WinPE and the PXE password need iPXE: refused under GRUB, nothing begun', async t => {
  const lab = await makeLab(t, POLICY, { winpe: true })
  t.equal(await get(lab, decide(M3)), `echo '${label(`netboot: ${WINPE_NEEDS_IPXE}`)}'\nsleep 5\n${LOCAL}`)
  t.equal((await lab.ctx.store.deployments.list()).length, 0, 'no WinPE deployment was begun')
  t.match(await lab.app.inject({ url: `/boot/decide?mac=${M3}&platform=efi&buildarch=x86_64` }).then(r => r.body), 'kernel http://10.9.8.7:8080/winpe/wimboot', 'the same machine through iPXE (Secure Boot off) gets WinPE')
  const locked = await makeLab(t, POLICY + '\nhttp:\n  pxePassword: "open sesame"\n')
  t.ok((await get(locked, decide(M2))).endsWith(`PXE password, which GRUB cannot ask for'\nsleep 5\n${LOCAL}`))
})

t.test('the chain\'s files over HTTP, from bootLoaders.secureBootDir; a clear 404 otherwise', async t => {
  const lab = await makeLab(t, POLICY)
  const dir = join(lab.dir, 'secureboot')
  await lab.reload(`${POLICY}  secureBootDir: ${dir}\n`)
  const missing = await lab.app.inject({ url: '/secureboot/shimx64.efi' })
  t.equal(missing.statusCode, 404)
  t.match(missing.json().message, /no file shimx64\.efi in .*secureboot: run scripts\/fetch-trixie-loaders\.sh/)
  await mkdir(dir)
  await writeFile(join(dir, 'shimx64.efi'), 'stand-in shim')
  await writeFile(join(dir, 'grubx64.efi'), 'stand-in grub')
  t.equal((await lab.app.inject({ url: '/secureboot/shimx64.efi' })).body, 'stand-in shim')
  t.equal((await lab.app.inject({ url: '/secureboot/GRUBX64.EFI' })).body, 'stand-in grub', 'any case, as firmware spells it')
  t.equal((await lab.app.inject({ url: '/secureboot//grubx64.efi' })).body, 'stand-in grub', 'and with the double slash shim\'s HTTP Boot sends')
  t.equal((await lab.app.inject({ url: '/secureboot/other.efi' })).statusCode, 404, 'only the chain\'s files')
  t.equal((await lab.app.inject({ url: '/secureboot/../appliance.yaml' })).statusCode, 404)
})

t.test('on the wire, GRUB gets capitalised header names and a closed connection; other clients are untouched', async t => {
  const { request } = await import('node:http')
  const lab = await makeLab(t, POLICY)
  await lab.app.listen({ port: 0, host: '127.0.0.1' })
  const port = (lab.app.server.address() as { port: number }).port
  const head = async (path: string, ua: string): Promise<{ raw: string[], body: number }> => await new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, headers: { 'user-agent': ua } }, res => {
      let n = 0
      res.on('data', (d: Buffer) => { n += d.length }).on('end', () => { resolve({ raw: res.rawHeaders.filter((_, i) => i % 2 === 0), body: n }) })
    }).on('error', reject).end()
  })
  for (const path of ['/grub/grub.cfg', '/pe/vmlinuz']) {
    const grub = await head(path, 'GRUB 2.12-9+deb13u4')
    t.ok(grub.raw.includes('Content-Length'), `${path}: Content-Length as GRUB's parser spells it (${grub.raw.join(', ')})`)
    t.ok(grub.raw.includes('Connection'), `${path}: Connection: close`)
    t.notOk(grub.raw.some(h => h === h.toLowerCase() && h !== h.toUpperCase()), `${path}: no lower-case name left`)
    const edk2 = await head(path, 'UefiHttpBoot/1.0')
    t.ok(edk2.raw.includes('Content-Length'), `${path}: also for EDK2's HTTP client, which GRUB uses when HTTP-booted`)
    const curl = await head(path, 'curl/7.88.1')
    t.ok(curl.raw.includes('content-length'), `${path}: other clients get fastify's names`)
    t.equal(grub.body, curl.body, `${path}: the same body`)
  }
})
