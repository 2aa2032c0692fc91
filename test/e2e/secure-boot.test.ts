// End to end, UEFI with Secure Boot on (OVMF's Secure Boot build, Microsoft's keys enrolled, as PCs ship):
// - bootLoaders.secureBoot off: the firmware downloads iPXE from our OFFER and refuses to run it (Access Denied),
//   the reason the Secure Boot chain exists;
// - on: PXE (arch 7) → TFTP secureboot/shimx64.efi (signed by Microsoft) → grubx64.efi (Debian's, from our TFTP) →
//   grub/grub.cfg → HTTP /boot/grub/decide → the PE's kernel, checked by shim → the deployment, with the kernel
//   locked down by Secure Boot → next boot: GRUB is told to boot locally;
// - on, with UEFI HTTP Boot: shim, GRUB and GRUB's config over HTTP (GRUB then uses the firmware's HTTP client), up
//   to the PE.
import t from 'tap'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { extractNtfs, hashTree, partitionTable, waitForLine } from '../../src/lab/index.js'
import { decideCount, startLabRun, waitForDeploymentEnd } from '../../src/lab/deploy.js'

t.test('Secure Boot on, iPXE offered: the firmware refuses the unsigned loader', async t => {
  const run = await startLabRun({ firmware: 'uefi-secureboot', secureBoot: false, onLine: (l) => { t.comment(l) } })
  t.teardown(run.close)
  const m = await waitForLine(run.serialLog, /failed to load Boot\d+ "UEFI PXEv4[^\n]*: (Access Denied|Security Violation)/, 3 * 60_000, { vm: run.vm })
  t.ok(m, `the firmware downloaded ipxe.efi and refused it: ${m[1] ?? ''}`)
  const serial = await readFile(run.serialLog, 'latin1')
  t.match(serial, /NBP filename is ipxe\.efi/, 'the loader it refused is the one our OFFER named')
  t.equal(await decideCount(run), 0, 'no iPXE ever asked the appliance for a decision')
})

t.test('Secure Boot on, secureBoot chain: shim → GRUB → signed PE kernel → GPT + ESP + NTFS', async t => {
  const run = await startLabRun({ firmware: 'uefi-secureboot', onLine: (l) => { t.comment(l) } })
  t.teardown(run.close)
  const d = await waitForDeploymentEnd(run, 8 * 60_000)
  t.equal(d.state, 'succeeded', `deployment ${d.id} ${d.state}${d.error !== undefined ? `: ${d.error}` : ''}`)
  const serial = await readFile(run.serialLog, 'latin1')
  t.match(serial, /NBP filename is secureboot\/shimx64\.efi/, 'the firmware loaded the shim our OFFER named')
  t.match(serial, /Secure boot enabled/, 'the PE kernel booted with Secure Boot on')
  t.match(serial, /Kernel is locked down from EFI Secure Boot/, 'and locked down, as Debian\'s signed kernel is under Secure Boot')
  t.match(serial, /netboot: firmware: UEFI, Secure Boot on/, 'the PE says so in the deployment log')
  const firstBoot = serial.indexOf('netboot: task sequence complete')
  t.ok(firstBoot > 0, 'the PE printed the end of the sequence on the serial console')
  // After the result the PE reboots; the firmware loads shim and GRUB again, and GRUB asks a second time.
  await waitForLine(run.serialLog, /netboot: booting from the local disk/, 4 * 60_000, { from: firstBoot, vm: run.vm })
  t.ok(await decideCount(run, 'grub') >= 2, 'the VM booted the chain again and GRUB asked the appliance')
  t.equal(await decideCount(run), 0, 'never through iPXE')
  const again = await run.appliance.fetchText(`/boot/grub/decide?mac=${encodeURIComponent(run.mac)}&platform=efi&buildarch=x86_64`)
  t.match(again.body, /echo 'netboot: booting from the local disk[^\n]*\n/, 'the next boot is told to boot locally')
  t.match(again.body, /for p in \(\*\)\$f; do[^]*chainloader "\$f"[^]*\nexit\n$/, 'by chainloading the local disk\'s OS loader (exit to the firmware when there is none)')
  // This disk holds NTFS and an empty ESP: GRUB finds no loader, says so and exits.
  await waitForLine(run.serialLog, /netboot: local boot: no OS loader on the local disks/, 2 * 60_000, { from: firstBoot, vm: run.vm })
  const log = (await readFile(run.serialLog, 'latin1')).slice(firstBoot)
  const none = log.indexOf('netboot: local boot: no OS loader')
  const search = log.slice(log.lastIndexOf('netboot: booting from the local disk', none), none)
  t.ok(search.startsWith('netboot: booting from the local disk'), 'GRUB said it boots locally, then searched')
  t.notMatch(search, /error:/, 'quietly: no error line for each loader it looked for (signed GRUB\'s built-in regexp expands (*)/EFI/…)')
  await run.vm?.kill()

  const pt = await partitionTable(run.disk)
  t.equal(pt.label, 'gpt', 'UEFI ⇒ GPT')
  const [, data] = pt.partitions
  const out = join(run.work, 'readback')
  await extractNtfs(run.disk, data!, out, run.work)
  const got = await hashTree(out)
  for (const [rel, sum] of run.sums) t.equal(got.get(rel), sum, `${rel} byte for byte`)
})

t.test('Secure Boot on, UEFI HTTP Boot: shim and GRUB over HTTP, then the same decision', async t => {
  const run = await startLabRun({ firmware: 'uefi-secureboot-http', onLine: (l) => { t.comment(l) } })
  t.teardown(run.close)
  // Up to the PE's first words is the HTTP Boot part; the deployment after it is the PXE test's.
  await waitForLine(run.serialLog, /netboot: firmware: UEFI[^\n]*/, 6 * 60_000, { vm: run.vm })
  const serial = await readFile(run.serialLog, 'latin1')
  t.match(serial, /URI: http:\/\/[\d.]+(:\d+)?\/secureboot\/shimx64\.efi/, 'EDK2 HTTP-booted the shim URL our HTTPClient OFFER named')
  const log = await readFile(run.appliance.log, 'utf8')
  const urls = [...log.matchAll(/"url":"([^"?]*)/g)].map(m => m[1])
  t.ok(urls.includes('/secureboot/shimx64.efi'), 'shim came over HTTP')
  t.ok(urls.includes('/secureboot//grubx64.efi'), 'and shim fetched GRUB next to it over HTTP (shim\'s httpboot.c doubles the slash)')
  t.ok(urls.some(u => u === '/grub/grub.cfg' || u === '/grub/x86_64-efi/grub.cfg'), 'GRUB read its entry config over HTTP')
  t.ok(await decideCount(run, 'grub') >= 1, 'GRUB asked for the decision')
  t.match(serial, /Secure boot enabled/, 'the PE kernel booted with Secure Boot on')
  t.match(serial, /netboot: firmware: UEFI, Secure Boot on/, 'the PE runs')
})
