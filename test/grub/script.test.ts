// GRUB configs of the Secure Boot chain: what each view becomes, checked by GRUB's own parser (grub-script-check,
// from grub-common) so a config that GRUB would refuse to run fails here, and nothing a client or an admin writes
// can leave its quotes.
import t from 'tap'
import { localBootLines } from '../../src/grub/local-boot.js'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { entryConfig, grubDevice, renderGrub } from '../../src/grub/script.js'
import type { ScriptView } from '../../src/ipxe/script.js'

const BASE = 'http://10.9.8.7:8080'
const dir = mkdtempSync(join(tmpdir(), 'nbg-'))
t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })

/** grub-script-check's verdict on a config: '' when GRUB would parse it. */
function grubCheck (text: string): string {
  const f = join(dir, 'check.cfg')
  writeFileSync(f, text)
  const r = spawnSync('grub-script-check', [f], { encoding: 'utf8' })
  return r.status === 0 ? '' : `${r.stdout}${r.stderr}`.trim() || `exit ${r.status}`
}

const HOSTILE = "x'; reboot; echo '$(id) ${prefix} # \\ \" {a}"

const views: Array<[string, ScriptView]> = [
  ['entry', { kind: 'entry', baseUrl: BASE }],
  ['local', { kind: 'local', baseUrl: BASE, arch: 'efi-x64', reason: HOSTILE }],
  ['deploy', { kind: 'deploy', baseUrl: BASE, arch: 'efi-x64', pe: 'amd64', deploymentId: 'd1', token: 'tok', title: HOSTILE }],
  ['deploy-winpe', { kind: 'deploy-winpe', baseUrl: BASE, arch: 'efi-x64', deploymentId: 'd1', token: 'tok', title: 'WinPE' }],
  ['login', { kind: 'login', baseUrl: BASE, arch: 'efi-x64', mac: '52:54:00:00:00:01' }],
  ['menu', { kind: 'menu', baseUrl: BASE, arch: 'efi-x64', mac: '52:54:00:00:00:01', items: [{ id: 'av-1', label: HOSTILE }, { id: 'av-2', label: 'Other', unavailable: HOSTILE }], timeoutMs: 10_000, withPassword: false }],
  ['refused', { kind: 'refused', baseUrl: BASE, arch: 'efi-x64', message: HOSTILE }],
  ['retry', { kind: 'retry', baseUrl: BASE, message: HOSTILE }]
]

t.test('every view is a config GRUB parses, and hostile text stays inside its quotes', async t => {
  for (const [name, v] of views) {
    const text = renderGrub(v)
    t.equal(grubCheck(text), '', `${name}: grub-script-check accepts it`)
    // Outside comments (label() leaves no newline to end one) and single quotes, none of the hostile text is left.
    const code = text.split('\n').filter(l => !l.startsWith('#')).join('\n').replace(/'[^'\n]*'/g, "''")
    t.notMatch(code, /reboot; echo/, `${name}: the hostile text's commands stay inside quotes or comments`)
    for (const line of text.split('\n').filter(l => l.includes("'"))) {
      t.equal((line.match(/'/g) ?? []).length % 2, 0, `${name}: quotes balanced in ${JSON.stringify(line)}`)
    }
  }
  t.not(grubCheck('if true; then\n'), '', 'grub-script-check refuses a broken config (the check can fail)')
})

t.test('grubDevice: GRUB\'s device for the appliance\'s HTTP server', async t => {
  t.equal(grubDevice('http://10.0.0.1:8080'), '(http,10.0.0.1:8080)')
  t.equal(grubDevice('http://10.0.0.1'), '(http,10.0.0.1)', 'port 80 is GRUB\'s default')
  t.equal(grubDevice('http://boot.example:81/'), '(http,boot.example:81)')
  t.throws(() => grubDevice('https://10.0.0.1'), /plain HTTP only/)
})

t.test('the entry config sends the identity GRUB knows and runs the answer', async t => {
  const text = entryConfig(BASE)
  t.match(text, 'set nb_id="mac=${net_default_mac}&platform=${grub_platform}&buildarch=${grub_cpu}"')
  t.match(text, 'if smbios --type 1 --get-uuid 8 --set nb_uuid; then set nb_id="${nb_id}&uuid=${nb_uuid}"; fi')
  t.match(text, `configfile "(http,10.9.8.7:8080)/boot/grub/decide?\${nb_id}"`)
  t.match(text, /echo 'netboot: could not reach the appliance; rebooting in 10 seconds'\nsleep 10\nreboot\n$/, 'unreachable: say so, wait, reboot')
})

t.test('deploy: the PE over HTTP through GRUB\'s linux and initrd, a retry if either fails', async t => {
  const text = renderGrub({ kind: 'deploy', baseUrl: BASE, arch: 'efi-x64', pe: 'amd64', deploymentId: 'd1', token: 'tok', title: 'Windows 11' })
  t.equal(text, `# Deployment d1: Windows 11. The token is valid for this deployment only.
echo 'netboot: deployment d1: Windows 11'
if linux "(http,10.9.8.7:8080)/pe/vmlinuz" netboot.url=${BASE} netboot.token=tok netboot.deployment=d1 console=tty0 console=ttyS0,115200; then
  if initrd "(http,10.9.8.7:8080)/pe/initrd.img"; then boot; fi
fi
echo 'netboot: could not boot the PE; rebooting in 10 seconds'
sleep 10
reboot
`)
  const arm = renderGrub({ kind: 'deploy', baseUrl: BASE, arch: 'efi-arm64', pe: 'arm64', deploymentId: 'd2', token: 'tok', title: 'x' })
  t.match(arm, '"(http,10.9.8.7:8080)/pe/arm64/vmlinuz"', 'the arm64 PE from its own path')
  t.match(arm, 'console=ttyAMA0,115200')
})

t.test('what GRUB cannot do is refused with the reason, then the local disk', async t => {
  const local = localBootLines().join('\n') + '\n'
  t.ok(renderGrub(views[3]![1]).startsWith("echo 'netboot: WinPE starts through wimboot, which Secure Boot does not allow'\nsleep 5\n" + local.split('\n')[0]!))
  t.ok(renderGrub(views[3]![1]).endsWith(local), 'then the local disk')
  t.match(renderGrub(views[4]![1]), /PXE password, which GRUB cannot ask for'\nsleep 5\n/)
  t.equal(renderGrub({ kind: 'local', baseUrl: BASE, arch: 'efi-x64', reason: 'no advertisement applies' }),
    "# Boot from the local disk: no advertisement applies\necho 'netboot: booting from the local disk (no advertisement applies)'\n" + local)
  t.match(local, /for f in \/EFI\/Microsoft\/Boot\/bootmgfw\.efi [^\n]* \/EFI\/BOOT\/\$removable; do\n  for p in \(\*\)\$f; do\n    if \[ -f "\$p" \]; then\n[^]*chainloader "\$f"\n      boot\n/,
    'chainloads the first OS loader found on a local disk (exit alone would leave EDK2 in its boot menu)')
  t.ok(local.endsWith('exit\n'), 'exit when none is found')
})

t.test('menu: the local disk first and default; timeout 0 waits; an unstartable item only says why', async t => {
  const menu = (timeoutMs: number): string => renderGrub({ kind: 'menu', baseUrl: BASE, arch: 'efi-x64', mac: '52:54:00:00:00:01', items: [{ id: 'av-1', label: 'Windows 11' }, { id: 'av-2', label: 'Ubuntu', unavailable: 'no PE' }], timeoutMs, withPassword: false })
  const text = menu(10_000)
  t.match(text, "set default=0\nset timeout=10\nmenuentry 'Boot from the local disk' {\n  if [ \"$grub_cpu\" = arm64 ]")
  t.match(text, `menuentry 'Windows 11' {\n  configfile "(http,10.9.8.7:8080)/boot/grub/select?adv=av-1&mac=52%3A54%3A00%3A00%3A00%3A01"\n`)
  t.match(text, "menuentry 'Ubuntu: no PE' {\n  echo 'netboot: no PE'\n  sleep 5\n}\n")
  t.match(menu(0), 'set timeout=-1', 'http.menuTimeoutSeconds 0: no timeout, as in iPXE')
})
