// The iPXE-facing routes, through the real policy and deployments service: what each machine is told to run.
import t from 'tap'
import { createHash } from 'node:crypto'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { BASE, makeLab, type Lab } from './helpers.js'
import { failingStore } from '../../src/store/broken.js'

const M1 = '52:54:00:00:00:01'   // in `lab`: required win11
const M2 = '52:54:00:00:00:02'   // in `kiosk`: two available
const M3 = '52:54:00:00:00:03'   // in `wp`: required, PE=winpe
const UNKNOWN = '52:54:00:00:00:99'

const POLICY = `
taskSequences:
  - id: win11
    name: Windows 11
    steps: [{type: reboot}]
  - id: ubuntu
    name: Ubuntu 24.04
    steps: [{type: reboot}]
  - id: wpe
    name: WinPE deploy
    variables: {PE: winpe}
    steps: [{type: reboot}]
collections:
  - id: lab
    members: [{mac: '${M1}'}]
  - id: kiosk
    members: [{mac: '${M2}'}]
  - id: wp
    members: [{mac: '${M3}'}]
advertisements:
  - {id: req-win11, taskSequence: win11, collection: lab, purpose: required}
  - {id: av-win11, taskSequence: win11, collection: kiosk, purpose: available}
  - {id: av-ubuntu, taskSequence: ubuntu, collection: kiosk, purpose: available}
  - {id: req-wpe, taskSequence: wpe, collection: wp, purpose: required}
`

const enc = encodeURIComponent
const decideUrl = (mac: string, platform = 'pcbios', buildarch = 'i386', extra = '') =>
  `/boot/decide?mac=${enc(mac)}&uuid=&serial=&manufacturer=&product=&platform=${platform}&buildarch=${buildarch}${extra}`

async function get (lab: Lab, url: string): Promise<string> {
  const r = await lab.app.inject({ url })
  if (r.statusCode !== 200) throw new Error(`${url}: ${r.statusCode} ${r.body}`)
  if (!String(r.headers['content-type']).startsWith('text/plain')) throw new Error(`${url}: content-type ${r.headers['content-type']}`)
  return r.body
}

/** The token and id the server chose, read back from a deploy script. */
function linuxDeploy (body: string): { id: string, token: string } {
  return { id: /netboot\.deployment=(\S+)/.exec(body)?.[1] ?? "none", token: /netboot\.token=(\S+)/.exec(body)?.[1] ?? "none" }
}

function deployText (id: string, token: string, title: string): string {
  return `#!ipxe
# Deployment ${id}: ${title}. The token is valid for this deployment only.
kernel ${BASE}/pe/vmlinuz initrd=initrd.img netboot.url=${BASE} netboot.token=${token} netboot.deployment=${id} console=tty0 console=ttyS0,115200 || goto failed
initrd ${BASE}/pe/initrd.img || goto failed
boot || goto failed
:failed
echo netboot: could not boot the PE; retrying in 10 seconds
sleep 10 && chain --autofree ${BASE}/boot.ipxe
`
}

const LOCAL_BIOS = (reason: string) => `#!ipxe
# Boot from the local disk: ${reason}
sanboot --no-describe --drive 0x80 || exit
exit
`
// UEFI: iPXE chains the standalone GRUB built with the PE of the machine's architecture (IA32 has none: exit).
const LOCAL_EFI = (reason: string, pe: string | null = '/pe') => `#!ipxe
# Boot from the local disk: ${reason}
${chainLocal(pe)}exit
`
function chainLocal (pe: string | null = '/pe'): string {
  return pe === null ? '' : `chain --autofree ${BASE}${pe}/localboot.efi || exit\n`
}

t.test('GET /boot.ipxe is the entry script with the configured base URL', async t => {
  const lab = await makeLab(t, POLICY)
  t.match(await get(lab, '/boot.ipxe'), `chain --autofree ${BASE}/boot/decide?mac=\${netX/mac}&uuid=\${uuid}&`)
  t.equal((await get(lab, '/boot.ipxe')).split('\n')[0], '#!ipxe')
})

t.test('an unknown machine is inventoried with what iPXE told and boots locally', async t => {
  const lab = await makeLab(t, POLICY)
  const body = await get(lab, `/boot/decide?mac=52-54-00-00-00-99&uuid=${enc('{4C4C4544-0042-3510-8052-B4C04F4B4E32}')}&serial=ABC%20123&manufacturer=Dell%20Inc.&product=OptiPlex%207090&platform=pcbios&buildarch=i386`)
  t.equal(body, LOCAL_BIOS('no advertisement applies to this machine now'))
  const m = await lab.ctx.store.machines.get(UNKNOWN)
  t.match(m, { mac: UNKNOWN, uuid: '4c4c4544-0042-3510-8052-b4c04f4b4e32', serial: 'ABC 123', manufacturer: 'Dell Inc.', product: 'OptiPlex 7090', arch: 'bios', firstSeen: '2026-03-01T12:00:00.000Z' })
})

t.test('platform and buildarch map to the architecture; UEFI local boot chains localboot.efi of its PE', async t => {
  const lab = await makeLab(t, POLICY)
  const table: Array<[string, string, string]> = [
    ['pcbios', 'i386', 'bios'], ['pcbios', 'x86_64', 'bios'], ['efi', 'x86_64', 'efi-x64'],
    ['efi', 'i386', 'efi-ia32'], ['efi', 'arm64', 'efi-arm64']
  ]
  let n = 0x10
  for (const [platform, buildarch, arch] of table) {
    const mac = `52:54:00:00:01:${(n++).toString(16)}`
    const body = await get(lab, decideUrl(mac, platform, buildarch))
    const pe = arch === 'efi-arm64' ? '/pe/arm64' : arch === 'efi-ia32' ? null : '/pe'
    t.equal(body, arch === 'bios' ? LOCAL_BIOS('no advertisement applies to this machine now') : LOCAL_EFI('no advertisement applies to this machine now', pe), `${platform}/${buildarch}`)
    t.equal((await lab.ctx.store.machines.get(mac))?.arch, arch, `${platform}/${buildarch} → ${arch}`)
  }
})

t.test('a required deployment boots the PE once; after success the machine boots locally', async t => {
  const lab = await makeLab(t, POLICY)
  const body = await get(lab, decideUrl(M1, 'efi', 'x86_64'))
  const { id, token } = linuxDeploy(body)
  t.equal(body, deployText(id, token, 'Windows 11'))
  const d = await lab.ctx.store.deployments.get(id)
  t.match(d, { mac: M1, advertisementId: 'req-win11', state: 'booting' })
  t.equal(d?.tokenHash, createHash('sha256').update(token).digest('hex'), 'only the hash of the token is stored')

  const auth = { authorization: `Bearer ${token}` }
  const ts = await lab.app.inject({ url: '/pe/v1/task-sequence', headers: auth })
  t.equal(ts.statusCode, 200)
  t.match(ts.json(), { deploymentId: id, taskSequenceId: 'win11', applianceUrl: BASE })
  const res = await lab.app.inject({ method: 'POST', url: '/pe/v1/result', headers: auth, payload: { result: 'succeeded' } })
  t.equal(res.statusCode, 204)
  const again = await get(lab, decideUrl(M1, 'efi', 'x86_64'))
  t.match(again, /^#!ipxe\n# Boot from the local disk: .*\nchain --autofree http:[^\n]*\/pe\/localboot\.efi \|\| exit\nexit\n$/)
  t.equal((await lab.ctx.store.deployments.list()).length, 1, 'no second deployment')
})

t.test('available deployments: menu, choice, and a choice that is not offered', async t => {
  const lab = await makeLab(t, POLICY)
  const menu = await get(lab, decideUrl(M2))
  t.equal(menu, `#!ipxe
# Available deployments; the local disk after the timeout.
menu Netboot Appliance: available deployments
item __local Boot from the local disk
item --gap --
item av-ubuntu Ubuntu 24.04
item av-win11 Windows 11
choose --timeout 10000 --default __local selected || goto local
iseq \${selected} __local && goto local ||
chain --autofree ${BASE}/boot/select?adv=\${selected:uristring}&mac=52%3A54%3A00%3A00%3A00%3A02 || goto failed
exit
:local
sanboot --no-describe --drive 0x80 || exit
exit
:failed
echo netboot: could not start the deployment; retrying in 10 seconds
sleep 10 && chain --autofree ${BASE}/boot.ipxe
`)
  t.equal((await lab.ctx.store.deployments.list()).length, 0, 'a menu starts nothing')

  const refused = await get(lab, `/boot/select?adv=req-win11&mac=${enc(M2)}`)
  t.equal(refused, `#!ipxe
echo netboot: advertisement req-win11 is not offered to this machine now
sleep 5
sanboot --no-describe --drive 0x80 || exit
exit
`)
  t.equal((await lab.ctx.store.deployments.list()).length, 0, 'a forged choice starts nothing')

  const chosen = await get(lab, `/boot/select?adv=av-ubuntu&mac=${enc(M2)}`)
  const { id, token } = linuxDeploy(chosen)
  t.equal(chosen, deployText(id, token, 'Ubuntu 24.04'))
  t.match(await lab.ctx.store.deployments.get(id), { advertisementId: 'av-ubuntu', purpose: 'available', mac: M2 })
})

t.test('PXE password: login first, checked by the appliance; wrong or missing password refused', async t => {
  const lab = await makeLab(t, POLICY + '\nhttp:\n  pxePassword: "open sesame"\n  menuTimeoutSeconds: 30\n')
  const login = await get(lab, decideUrl(M2, 'efi', 'x86_64'))
  t.equal(login, `#!ipxe
# The menu of available deployments is protected by a PXE password (any user name).
login || goto local
chain --autofree ${BASE}/boot/menu?mac=52%3A54%3A00%3A00%3A00%3A02&password=\${password:uristring} || goto failed
exit
:local
${chainLocal()}exit
:failed
echo netboot: could not reach the appliance; retrying in 10 seconds
sleep 10 && chain --autofree ${BASE}/boot.ipxe
`)
  t.notMatch(login, 'sesame', 'the password is never in a script')
  const wrong = LOCAL_EFI('x').replace('# Boot from the local disk: x\n', 'echo netboot: wrong PXE password\nsleep 5\n')
  t.equal(await get(lab, `/boot/menu?mac=${enc(M2)}&password=guess`), wrong)
  t.equal(await get(lab, `/boot/menu?mac=${enc(M2)}`), wrong)
  const menu = await get(lab, `/boot/menu?mac=${enc(M2)}&password=open%20sesame`)
  t.match(menu, 'choose --timeout 30000 --default __local selected || goto local\n')
  t.match(menu, `/boot/select?adv=\${selected:uristring}&mac=52%3A54%3A00%3A00%3A00%3A02&password=\${password:uristring} || goto failed\n`)
  t.notMatch(menu, 'sesame')
  t.equal(await get(lab, `/boot/select?adv=av-win11&mac=${enc(M2)}`), wrong, 'select without the password')
  t.equal((await lab.ctx.store.deployments.list()).length, 0)
  const chosen = await get(lab, `/boot/select?adv=av-win11&mac=${enc(M2)}&password=open%20sesame`)
  const { id, token } = linuxDeploy(chosen)
  t.equal(chosen, deployText(id, token, 'Windows 11'))
})

t.test('PE=winpe boots WinPE through wimboot when paths.winpe is set, the Linux PE otherwise', async t => {
  const linux = await makeLab(t, POLICY)
  t.match(await get(linux, decideUrl(M3)), `kernel ${BASE}/pe/vmlinuz `)
  const lab = await makeLab(t, POLICY, { winpe: true })
  const body = await get(lab, decideUrl(M3))
  const id = /# Deployment (\S+) /.exec(body)?.[1] ?? ''
  const token = /token=(\S+) netboot\.ini/.exec(body)?.[1] ?? ''
  t.equal(body, `#!ipxe
# Deployment ${id} (WinPE): WinPE deploy. The token is valid for this deployment only.
kernel ${BASE}/winpe/wimboot || goto failed
initrd ${BASE}/winpe/BCD BCD || goto failed
initrd ${BASE}/winpe/boot.sdi boot.sdi || goto failed
initrd ${BASE}/winpe/boot.wim boot.wim || goto failed
initrd ${BASE}/pe/v1/winpe/netboot.ini?token=${token} netboot.ini || goto failed
boot || goto failed
:failed
echo netboot: could not boot WinPE; retrying in 10 seconds
sleep 10 && chain --autofree ${BASE}/boot.ipxe
`)
  const ini = await lab.app.inject({ url: `/pe/v1/winpe/netboot.ini?token=${token}` })
  t.equal(ini.statusCode, 200)
  t.equal(ini.body, `[netboot]\r\nurl=${BASE}\r\ndeployment=${id}\r\ntoken=${decodeURIComponent(token)}\r\n`)
  t.equal((await lab.app.inject({ url: '/pe/v1/winpe/netboot.ini?token=nope' })).statusCode, 401)
  t.equal((await lab.app.inject({ url: '/pe/v1/winpe/netboot.ini' })).statusCode, 401)
})

t.test('a deployment begins only when the PE of the machine\'s architecture is there', async t => {
  const lab = await makeLab(t, POLICY, { winpe: true })
  const refusedEfi = (message: string, pe: string | null = '/pe/arm64') => `#!ipxe
echo netboot: ${message}
sleep 5
${chainLocal(pe)}exit
`
  // M1 as an arm64 UEFI machine (iPXE's arm64 build: platform efi, buildarch arm64), no arm64 PE built yet.
  t.equal(await get(lab, decideUrl(M1, 'efi', 'arm64')), refusedEfi('the arm64 PE is not built on the appliance (netboot pe build --arch arm64)'))
  t.equal((await lab.ctx.store.deployments.list()).length, 0, 'no deployment was begun that the machine could not boot')
  await mkdir(join(lab.dirs.pe, 'arm64'))
  for (const f of ['vmlinuz', 'initrd.img']) await writeFile(join(lab.dirs.pe, 'arm64', f), `arm64 ${f}`)
  const body = await get(lab, decideUrl(M1, 'efi', 'arm64'))
  t.match(body, `kernel ${BASE}/pe/arm64/vmlinuz initrd=initrd.img `, 'once built, the arm64 PE')
  t.match(body, ' console=tty0 console=ttyAMA0,115200 ', 'with the PL011 serial console')
  t.match(body, `initrd ${BASE}/pe/arm64/initrd.img `)
  t.equal((await lab.ctx.store.deployments.list()).length, 1)
  // M2's menu as an arm64 machine: both items are there, as text with the reason, and none can be chosen.
  await rm(join(lab.dirs.pe, 'arm64'), { recursive: true })
  const armMenu = await get(lab, decideUrl(M2, 'efi', 'arm64'))
  t.match(armMenu, '\nitem --gap Windows 11: the arm64 PE is not built on the appliance (netboot pe build --arch arm64)\n')
  t.match(armMenu, '\nitem --gap Ubuntu 24.04: the arm64 PE is not built on the appliance (netboot pe build --arch arm64)\n')
  t.notMatch(armMenu, /^item (?!__local|--gap)/m, 'nothing but the local disk to choose')
  t.match(await get(lab, decideUrl(M2, 'pcbios', 'i386')), '\nitem av-win11 Windows 11\n', 'the same menu on a BIOS machine offers them')
  // An IA32 UEFI machine (buildarch i386 on efi): no PE exists for it at all.
  t.match(await get(lab, decideUrl(M2, 'efi', 'i386')), /^menu /m, 'M2 has available deployments only: the menu')
  const ia32 = await get(lab, `/boot/select?adv=av-win11&mac=${enc(M2)}&platform=efi&buildarch=i386`)
  t.equal(ia32, refusedEfi('no PE for efi-ia32 machines (the Linux PE is built for x86-64 and arm64)', null))
  // WinPE through wimboot is for x86-64 machines: M3 asks as arm64.
  t.equal(await get(lab, decideUrl(M3, 'efi', 'arm64')), refusedEfi('the task sequence boots WinPE, which is set up for x86-64 machines; this one is efi-arm64'))
  t.equal((await lab.ctx.store.deployments.list()).length, 1, 'neither began a deployment')
  // And the amd64 PE itself missing.
  const bare = await makeLab(t, POLICY, { pe: false })
  t.equal(await get(bare, decideUrl(M1)), `#!ipxe
echo netboot: the amd64 PE is not built on the appliance (netboot pe build)
sleep 5
sanboot --no-describe --drive 0x80 || exit
exit
`)
  t.equal((await bare.ctx.store.deployments.list()).length, 0)
})

t.test('a store failure gives a script that prints the error and retries, and starts nothing', async t => {
  let broken = true
  const lab = await makeLab(t, POLICY, { store: s => failingStore(s, (c, m) => broken && c === 'machines' && m === 'recordSighting') })
  const RETRY = `#!ipxe
echo netboot: the appliance could not decide (see its log); retrying in 10 seconds
sleep 10 && chain --autofree ${BASE}/boot.ipxe
`
  t.equal(await get(lab, decideUrl(M1)), RETRY)
  t.equal(await get(lab, `/boot/select?adv=av-win11&mac=${enc(M2)}`), RETRY)
  t.equal((await lab.ctx.store.deployments.list()).length, 0)
  broken = false
  t.match(await get(lab, decideUrl(M1)), 'kernel ', 'the retry succeeds once the store is back')
})

t.test('a policy that throws gives the retry script too', async t => {
  const lab = await makeLab(t, POLICY, {
    deps: { policy: { decide: () => { throw new Error('boom') }, explain: () => { throw new Error('boom') }, chooseFromMenu: () => { throw new Error('boom') } } }
  })
  t.match(await get(lab, decideUrl(M1)), /^#!ipxe\necho netboot: the appliance could not decide/)
})

t.test('a request without a usable MAC is refused with a readable script', async t => {
  const lab = await makeLab(t, POLICY)
  t.equal(await get(lab, '/boot/decide?mac=zz%3Azz&platform=efi&buildarch=x86_64'), `#!ipxe
echo netboot: mac is missing or not a MAC address: ?zz:zz?
sleep 5
${chainLocal()}exit
`)
  t.match(await get(lab, '/boot/decide'), 'echo netboot: mac is missing or not a MAC address: ??\n')
  t.equal((await lab.ctx.store.machines.list()).length, 0, 'nothing inventoried from bad requests')
  t.equal(await get(lab, `/boot/decide?mac=${enc(UNKNOWN)}&mac=zz&platform=pcbios&platform=efi&uuid=a&uuid=b`),
    LOCAL_BIOS('no advertisement applies to this machine now'), 'a repeated key counts once (its first value)')
  t.match(await lab.ctx.store.machines.get(UNKNOWN), { arch: 'bios' })
})

t.test('config reloads apply to the next request', async t => {
  const lab = await makeLab(t, '')
  t.equal(await get(lab, decideUrl(M1)), LOCAL_BIOS('no advertisement applies to this machine now'))
  await lab.reload(POLICY)
  t.match(await get(lab, decideUrl(M1)), 'kernel ')
})
