// Real firmware (QEMU, TCG) against the appliance's proxyDHCP beside a separate site DHCP server that gives
// addresses only: the boot file the firmware fetches can only have come from our OFFER. See
// test/dhcp/lab/firmware-boot.sh. Slow (BIOS ~15 s, OVMF ~1-2 min under TCG); the two BIOS runs (proxy, then full
// mode with no site server) run while OVMF boots.
import t from 'tap'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const script = fileURLToPath(new URL('./lab/firmware-boot.sh', import.meta.url))

function boot (kind: 'bios' | 'ovmf', seconds: number, mode: 'proxy' | 'full' = 'proxy'): Promise<string> {
  return new Promise((resolve) => {
    const p = spawn('bash', [script, kind, String(seconds), mode], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    p.stdout.on('data', (d) => { out += d })
    p.stderr.on('data', (d) => { out += d })
    p.on('exit', () => resolve(out))
  })
}

t.test('firmware boots through our proxyDHCP', async t => {
  const biosBoth = (async () => [await boot('bios', 90), await boot('bios', 90, 'full')])()
  const [[bios, biosFull], ovmf] = await Promise.all([biosBoth, boot('ovmf', 240)])
  t.test('SeaBIOS + iPXE ROM (already iPXE): fetches the HTTP script URL we offered', async t => {
    t.match(bios, /PROXY-REPLY .*10\.98\.0\.1\.67 > 255\.255\.255\.255\.68/, 'we answered the DISCOVER by broadcast')
    t.match(bios, /HTTP-GET \/boot\.ipxe/, 'iPXE combined the site lease with our boot file and fetched boot.ipxe')
    t.notMatch(bios, /TFTP-SENT/, 'no chainload of a loader into an iPXE that already runs')
  })
  t.test('full mode, no other DHCP server: SeaBIOS iPXE takes our address and our boot file', async t => {
    t.match(biosFull, /HTTP-SYN-FROM 10\.98\.0\.160\./, 'the VM used the first pool address we offered')
    t.match(biosFull, /HTTP-GET \/boot\.ipxe/, 'and fetched the script URL from the same ACK')
  })
  t.test('OVMF (EDK2 PXE, no iPXE ROM): TFTP ipxe.efi from our OFFER, then the chained iPXE fetches boot.ipxe', async t => {
    t.match(ovmf, /TFTP-SENT ipxe\.efi/, 'EDK2 downloaded the loader our OFFER named (arch 7)')
    t.match(ovmf, /HTTP-GET \/boot\.ipxe/, 'the chained ipxe.efi got the script URL, not the loader again')
  })
})
