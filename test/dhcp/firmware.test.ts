// Real firmware (QEMU, TCG) against the appliance's proxyDHCP beside a separate site DHCP server that gives
// addresses only: the boot file the firmware fetches can only have come from our OFFER. See
// test/dhcp/lab/firmware-boot.sh. Slow (BIOS ~15 s, OVMF ~1-2 min under TCG); both run in parallel.
import t from 'tap'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const script = fileURLToPath(new URL('./lab/firmware-boot.sh', import.meta.url))

function boot (kind: 'bios' | 'ovmf', seconds: number): Promise<string> {
  return new Promise((resolve) => {
    const p = spawn('bash', [script, kind, String(seconds)], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    p.stdout.on('data', (d) => { out += d })
    p.stderr.on('data', (d) => { out += d })
    p.on('exit', () => resolve(out))
  })
}

t.test('firmware boots through our proxyDHCP', async t => {
  const [bios, ovmf] = await Promise.all([boot('bios', 90), boot('ovmf', 240)])
  t.test('SeaBIOS + iPXE ROM (already iPXE): fetches the HTTP script URL we offered', async t => {
    t.match(bios, /PROXY-REPLY .*10\.98\.0\.1\.67 > 255\.255\.255\.255\.68/, 'we answered the DISCOVER by broadcast')
    t.match(bios, /HTTP-GET \/boot\.ipxe/, 'iPXE combined the site lease with our boot file and fetched boot.ipxe')
    t.notMatch(bios, /TFTP-SENT/, 'no chainload of a loader into an iPXE that already runs')
  })
  t.test('OVMF (EDK2 PXE, no iPXE ROM): TFTP ipxe.efi from our OFFER, then the chained iPXE fetches boot.ipxe', async t => {
    t.match(ovmf, /TFTP-SENT ipxe\.efi/, 'EDK2 downloaded the loader our OFFER named (arch 7)')
    t.match(ovmf, /HTTP-GET \/boot\.ipxe/, 'the chained ipxe.efi got the script URL, not the loader again')
  })
})
