// Every script the appliance can hand to iPXE, as the whole text iPXE runs.
import t from 'tap'
import { label, render } from '../../src/ipxe/script.js'

const B = 'http://10.0.0.1:8080'

t.test('entry script sends the identity of the interface that booted', async t => {
  t.equal(render({ kind: 'entry', baseUrl: B }), `#!ipxe
# Netboot Appliance: identify this machine and ask for its boot decision.
chain --autofree http://10.0.0.1:8080/boot/decide?mac=\${netX/mac}&uuid=\${uuid}&serial=\${serial:uristring}&manufacturer=\${manufacturer:uristring}&product=\${product:uristring}&platform=\${platform}&buildarch=\${buildarch} || goto failed
exit
:failed
echo netboot: could not reach the appliance; retrying in 10 seconds
sleep 10 && chain --autofree http://10.0.0.1:8080/boot.ipxe
`)
})

t.test('local boot: BIOS sanboots the first disk; UEFI x64/arm64 chain localboot.efi; exit is the fallback', async t => {
  t.equal(render({ kind: 'local', baseUrl: B, arch: 'bios', reason: 'deployment done' }), `#!ipxe
# Boot from the local disk: deployment done
sanboot --no-describe --drive 0x80 || exit
exit
`)
  for (const [arch, path] of [['efi-x64', '/pe'], ['efi-x64-http', '/pe'], ['efi-arm64', '/pe/arm64'], ['efi-arm64-http', '/pe/arm64']] as const) {
    t.equal(render({ kind: 'local', baseUrl: B, arch, reason: 'protected machine' }), `#!ipxe
# Boot from the local disk: protected machine
chain --autofree http://10.0.0.1:8080${path}/localboot.efi || exit
exit
`, arch)
  }
  t.equal(render({ kind: 'local', baseUrl: B, arch: 'efi-ia32', reason: 'protected machine' }), `#!ipxe
# Boot from the local disk: protected machine
exit
`, 'IA32: no localboot.efi is built for it')
})

t.test('deploy: Linux PE with URL, token and deployment on the kernel command line', async t => {
  t.equal(render({ kind: 'deploy', baseUrl: B, arch: 'efi-x64', pe: 'amd64', deploymentId: 'd1', token: 'TOK_en-1', title: 'Windows 11 Pro' }), `#!ipxe
# Deployment d1: Windows 11 Pro. The token is valid for this deployment only.
kernel http://10.0.0.1:8080/pe/vmlinuz initrd=initrd.img netboot.url=http://10.0.0.1:8080 netboot.token=TOK_en-1 netboot.deployment=d1 console=tty0 console=ttyS0,115200 || goto failed
initrd http://10.0.0.1:8080/pe/initrd.img || goto failed
boot || goto failed
:failed
echo netboot: could not boot the PE; retrying in 10 seconds
sleep 10 && chain --autofree http://10.0.0.1:8080/boot.ipxe
`)
})

t.test('deploy: an arm64 machine gets the arm64 PE, with its console on the PL011 (ttyAMA0)', async t => {
  t.equal(render({ kind: 'deploy', baseUrl: B, arch: 'efi-arm64', pe: 'arm64', deploymentId: 'd3', token: 'T', title: 'Ubuntu arm64' }), `#!ipxe
# Deployment d3: Ubuntu arm64. The token is valid for this deployment only.
kernel http://10.0.0.1:8080/pe/arm64/vmlinuz initrd=initrd.img netboot.url=http://10.0.0.1:8080 netboot.token=T netboot.deployment=d3 console=tty0 console=ttyAMA0,115200 || goto failed
initrd http://10.0.0.1:8080/pe/arm64/initrd.img || goto failed
boot || goto failed
:failed
echo netboot: could not boot the PE; retrying in 10 seconds
sleep 10 && chain --autofree http://10.0.0.1:8080/boot.ipxe
`)
})

t.test('deploy: WinPE through wimboot with the runner settings injected as netboot.ini', async t => {
  t.equal(render({ kind: 'deploy-winpe', baseUrl: B, arch: 'efi-x64', deploymentId: 'd2', token: 'a+b/c', title: 'Capture' }), `#!ipxe
# Deployment d2 (WinPE): Capture. The token is valid for this deployment only.
kernel http://10.0.0.1:8080/winpe/wimboot || goto failed
initrd http://10.0.0.1:8080/winpe/BCD BCD || goto failed
initrd http://10.0.0.1:8080/winpe/boot.sdi boot.sdi || goto failed
initrd http://10.0.0.1:8080/winpe/boot.wim boot.wim || goto failed
initrd http://10.0.0.1:8080/pe/v1/winpe/netboot.ini?token=a%2Bb%2Fc netboot.ini || goto failed
boot || goto failed
:failed
echo netboot: could not boot WinPE; retrying in 10 seconds
sleep 10 && chain --autofree http://10.0.0.1:8080/boot.ipxe
`)
})

// An item that cannot start here is text (`item --gap`): iPXE's getopt stops at the first non-option word, so the
// `--arch` inside the text is not read as an option (src/core/getopt.c).
t.test('menu: available deployments, timeout to the local disk, choice sent back to the appliance', async t => {
  t.equal(render({
    kind: 'menu', baseUrl: B, arch: 'bios', mac: '52:54:00:00:00:01', timeoutMs: 10000, withPassword: false,
    items: [{ id: 'win11', label: 'Windows 11' }, { id: 'ubuntu.24', label: 'Ubuntu ${evil} && shell' },
      { id: 'arm', label: 'Arm image', unavailable: 'the arm64 PE is not built on the appliance (netboot pe build --arch arm64)' }]
  }), `#!ipxe
# Available deployments; the local disk after the timeout.
menu Netboot Appliance: available deployments
item __local Boot from the local disk
item --gap --
item win11 Windows 11
item ubuntu.24 Ubuntu ??evil? ?? shell
item --gap Arm image: the arm64 PE is not built on the appliance (netboot pe build --arch arm64)
choose --timeout 10000 --default __local selected || goto local
iseq \${selected} __local && goto local ||
chain --autofree http://10.0.0.1:8080/boot/select?adv=\${selected:uristring}&mac=52%3A54%3A00%3A00%3A00%3A01 || goto failed
exit
:local
sanboot --no-describe --drive 0x80 || exit
exit
:failed
echo netboot: could not start the deployment; retrying in 10 seconds
sleep 10 && chain --autofree http://10.0.0.1:8080/boot.ipxe
`)
})

t.test('menu behind the PXE password: the choice carries the typed password variable, never its value', async t => {
  t.equal(render({
    kind: 'menu', baseUrl: B, arch: 'efi-x64', mac: '52:54:00:00:00:01', timeoutMs: 0, withPassword: true,
    items: [{ id: 'win11', label: 'Windows 11' }]
  }), `#!ipxe
# Available deployments; the local disk after the timeout.
menu Netboot Appliance: available deployments
item __local Boot from the local disk
item --gap --
item win11 Windows 11
choose --timeout 0 --default __local selected || goto local
iseq \${selected} __local && goto local ||
chain --autofree http://10.0.0.1:8080/boot/select?adv=\${selected:uristring}&mac=52%3A54%3A00%3A00%3A00%3A01&password=\${password:uristring} || goto failed
exit
:local
chain --autofree http://10.0.0.1:8080/pe/localboot.efi || exit
exit
:failed
echo netboot: could not start the deployment; retrying in 10 seconds
sleep 10 && chain --autofree http://10.0.0.1:8080/boot.ipxe
`)
})

t.test('login prompt for the PXE password, checked by the appliance', async t => {
  t.equal(render({ kind: 'login', baseUrl: B, arch: 'efi-x64', mac: '52:54:00:00:00:01' }), `#!ipxe
# The menu of available deployments is protected by a PXE password (any user name).
login || goto local
chain --autofree http://10.0.0.1:8080/boot/menu?mac=52%3A54%3A00%3A00%3A00%3A01&password=\${password:uristring} || goto failed
exit
:local
chain --autofree http://10.0.0.1:8080/pe/localboot.efi || exit
exit
:failed
echo netboot: could not reach the appliance; retrying in 10 seconds
sleep 10 && chain --autofree http://10.0.0.1:8080/boot.ipxe
`)
})

t.test('refused and retry scripts', async t => {
  t.equal(render({ kind: 'refused', baseUrl: B, arch: 'bios', message: 'wrong PXE password' }), `#!ipxe
echo netboot: wrong PXE password
sleep 5
sanboot --no-describe --drive 0x80 || exit
exit
`)
  t.equal(render({ kind: 'retry', baseUrl: B, message: 'state store failure' }), `#!ipxe
echo netboot: state store failure; retrying in 10 seconds
sleep 10 && chain --autofree http://10.0.0.1:8080/boot.ipxe
`)
})

t.test('label keeps only text iPXE cannot interpret', async t => {
  t.equal(label('Win 11 (x64) 23H2'), 'Win 11 (x64) 23H2')
  t.equal(label('a\nchain http://evil'), 'a?chain http://evil')
  t.equal(label('$' + '{x} | && "q" \\ #'), '??x? ? ?? ?q? ? ?')
  t.equal(label('   '), '?')
  t.equal(label('x'.repeat(300)).length, 120)
})
