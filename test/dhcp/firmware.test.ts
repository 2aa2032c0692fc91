// Real firmware (QEMU, TCG) against the appliance's proxyDHCP beside a separate site DHCP server that gives
// addresses only: the boot file the firmware fetches can only have come from our OFFER. See
// test/dhcp/lab/firmware-boot.sh. Eight boots (measured here: BIOS ~10 s each, OVMF x64 ~25 s, OVMF x64 HTTP Boot
// ~15 s each, AAVMF arm64 PXE and HTTP Boot into Debian trixie's arm64 iPXE ~20 s each, OVMF IA32 ~10 s, under TCG)
// run two at a time, longest first: never more than 2 QEMUs from this file.
import t from 'tap'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const script = fileURLToPath(new URL('./lab/firmware-boot.sh', import.meta.url))

type Kind = 'bios' | 'ovmf' | 'ovmf-http' | 'aavmf' | 'aavmf-http' | 'ovmf32'
interface Boot { kind: Kind, seconds: number, mode?: 'proxy' | 'full' }

function boot ({ kind, seconds, mode = 'proxy' }: Boot): Promise<string> {
  return new Promise((resolve) => {
    const p = spawn('bash', [script, kind, String(seconds), mode], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    p.stdout.on('data', (d) => { out += d })
    p.stderr.on('data', (d) => { out += d })
    p.on('exit', () => resolve(out))
  })
}

/** Runs the boots with at most `lanes` at once, in the given order; results in the same order. */
async function pool (boots: Boot[], lanes: number): Promise<string[]> {
  const out: string[] = new Array(boots.length)
  let next = 0
  const lane = async (): Promise<void> => {
    while (next < boots.length) {
      const i = next++
      out[i] = await boot(boots[i])
    }
  }
  await Promise.all(Array.from({ length: lanes }, lane))
  return out
}

t.test('firmware boots through our proxyDHCP', async t => {
  // Failure timeouts only: each boot stops as soon as its evidence is there.
  const [ovmf, aavmf, ovmf32, ovmfHttp, ovmfHttpFull, aavmfHttp, bios, biosFull] = await pool([
    { kind: 'ovmf', seconds: 240 }, { kind: 'aavmf', seconds: 150 }, { kind: 'ovmf32', seconds: 150 },
    { kind: 'ovmf-http', seconds: 150 }, { kind: 'ovmf-http', seconds: 150, mode: 'full' }, { kind: 'aavmf-http', seconds: 150 },
    { kind: 'bios', seconds: 90 }, { kind: 'bios', seconds: 90, mode: 'full' }
  ], 2)
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
  t.test('OVMF UEFI HTTP Boot (its PXE off): arch 16, the loader URL from our HTTPClient OFFER, then boot.ipxe', async t => {
    t.match(ovmfHttp, /^CLIENT-ARCH Discover 16$/m, 'the firmware\'s DISCOVER carried option 93 = 16 (x64 UEFI HTTP)')
    t.match(ovmfHttp, /PROXY-REPLY .*10\.98\.0\.1\.67 > 255\.255\.255\.255\.68/, 'we answered it by broadcast')
    t.match(ovmfHttp, /^FIRMWARE Start HTTP Boot over IPv4$/m, 'EDK2 took our offer as an HTTP Boot offer (option 60 HTTPClient)')
    t.match(ovmfHttp, /^FIRMWARE URI: http:\/\/10\.98\.0\.1:8080\/loaders\/ipxe\.efi$/m, 'with the URI our OFFER carried in its file field')
    t.match(ovmfHttp, /HTTP-GET \/loaders\/ipxe\.efi\n(.*\n)*HTTP-GET \/boot\.ipxe/, 'it fetched the loader over HTTP, and the chained iPXE its script')
    t.notMatch(ovmfHttp, /TFTP-SENT/, 'no TFTP at all')
    t.match(ovmfHttp, /^CLIENT-ARCH Discover 7$/m, 'the chained iPXE asked as EFI x64 (arch 7) and got the script URL, not the loader again')
  })
  t.test('full mode, OVMF UEFI HTTP Boot: our address and our loader URL in one OFFER, then boot.ipxe', async t => {
    t.match(ovmfHttpFull, /^CLIENT-ARCH Discover 16$/m)
    t.match(ovmfHttpFull, /^FIRMWARE URI: http:\/\/10\.98\.0\.1:8080\/loaders\/ipxe\.efi$/m, 'EDK2 took the URI from our OFFER')
    t.match(ovmfHttpFull, /HTTP-SYN-FROM 10\.98\.0\.160\./, 'from the first pool address we offered')
    t.match(ovmfHttpFull, /HTTP-GET \/loaders\/ipxe\.efi\n(.*\n)*HTTP-GET \/boot\.ipxe/, 'loader, then the chained iPXE\'s script')
  })
  // arm64: Debian trixie's iPXE build (scripts/fetch-trixie-loaders.sh), chained by AAVMF over TFTP (arch 11) or HTTP
  // (arch 19); the chained iPXE asks as arch 11 with user class iPXE and must get the script URL, not the loader again.
  t.test('AAVMF arm64 (EDK2 PXE on -M virt): option 93 = 11, TFTP ipxe-arm64.efi, then the chained arm64 iPXE fetches boot.ipxe', async t => {
    t.match(aavmf, /^CLIENT-ARCH Discover 11$/m, 'the firmware\'s DISCOVER carried option 93 = 11')
    t.notMatch(aavmf, /^CLIENT-ARCH \S+ (?!11$)/m, 'and no request carried another arch (iPXE asks as 11 too)')
    t.match(aavmf, /PROXY-REPLY .*10\.98\.0\.1\.67 > 255\.255\.255\.255\.68/, 'we answered the DISCOVER by broadcast')
    t.match(aavmf, /^FIRMWARE NBP filename is ipxe-arm64\.efi$/m, 'the firmware took the boot file our OFFER named')
    t.match(aavmf, /^FIRMWARE NBP file downloaded successfully/m, 'and downloaded it')
    t.notMatch(aavmf, /^TFTP-SENT (?!ipxe-arm64\.efi$)/m, 'dnsmasq served that file and nothing else')
    t.match(aavmf, /^FIRMWARE iPXE 1\.\d+/m, 'the loader ran: iPXE printed its banner on the arm64 serial console')
    t.match(aavmf, /^HTTP-GET \/boot\.ipxe$/m, 'and the chained iPXE fetched the script URL from our second OFFER')
  })
  t.test('AAVMF arm64 UEFI HTTP Boot (its PXE off): arch 19, the arm64 loader URL from our HTTPClient OFFER, then boot.ipxe', async t => {
    t.match(aavmfHttp, /^CLIENT-ARCH Discover 19$/m, 'the firmware\'s DISCOVER carried option 93 = 19 (arm64 UEFI HTTP)')
    t.match(aavmfHttp, /^FIRMWARE Start HTTP Boot over IPv4$/m, 'EDK2 took our offer as an HTTP Boot offer')
    t.match(aavmfHttp, /^FIRMWARE URI: http:\/\/10\.98\.0\.1:8080\/loaders\/ipxe-arm64\.efi$/m, 'with the arm64 loader URI (loaders.httpArm64)')
    t.match(aavmfHttp, /HTTP-GET \/loaders\/ipxe-arm64\.efi\n(.*\n)*HTTP-GET \/boot\.ipxe/, 'it fetched the loader over HTTP, and the chained iPXE its script')
    t.match(aavmfHttp, /^CLIENT-ARCH Discover 11$/m, 'the chained iPXE asked as EFI arm64 (arch 11)')
    t.notMatch(aavmfHttp, /TFTP-SENT/, 'no TFTP at all')
  })
  // EDK2's PXE on IA32 (OVMF32): no Debian release builds iPXE for IA32, so the lab serves a placeholder under the
  // default loader name and the firmware stops after the download; that is the DHCP side's job.
  const edk2 = [
    { name: 'OVMF IA32 (EDK2 PXE on q35)', out: ovmf32, arch: 6, file: 'ipxe-ia32.efi' }
  ]
  for (const { name, out, arch, file } of edk2) {
    t.test(`${name}: option 93 = ${arch}, TFTP ${file} from our OFFER`, async t => {
      t.match(out, new RegExp(`^CLIENT-ARCH Discover ${arch}$`, 'm'), `the firmware's DISCOVER carried option 93 = ${arch}`)
      t.notMatch(out, new RegExp(`^CLIENT-ARCH \\S+ (?!${arch}$)`, 'm'), 'and no request carried another arch')
      t.match(out, /PROXY-REPLY .*10\.98\.0\.1\.67 > 255\.255\.255\.255\.68/, 'we answered the DISCOVER by broadcast')
      t.match(out, new RegExp(`^FIRMWARE NBP filename is ${file.replace('.', '\\.')}$`, 'm'), 'the firmware took the boot file our OFFER named')
      t.match(out, /^FIRMWARE NBP file downloaded successfully/m, 'and downloaded it')
      t.match(out, new RegExp(`^TFTP-SENT ${file.replace('.', '\\.')}$`, 'm'), 'dnsmasq served exactly that file')
      t.notMatch(out, new RegExp(`^TFTP-SENT (?!${file.replace('.', '\\.')}$)`, 'm'), 'and nothing else')
    })
  }
})
