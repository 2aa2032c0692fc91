// The Secure Boot chain over TFTP, as firmware, shim and GRUB ask for it, through real clients (curl, atftp):
// shim and GRUB from bootLoaders.secureBootDir under secureboot/, GRUB's entry config under grub/.
import t from 'tap'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { tempRoot, startServer, run, sha256 } from './helpers.js'
import { randomBytes } from 'node:crypto'

t.test('secureboot/* from secureBootDir, grub/grub.cfg generated, other names not found', async t => {
  const root = await tempRoot(t)
  const sb = join(root, 'sb')
  await mkdir(sb)
  const shim = randomBytes(300_000)
  const grub = randomBytes(700_000)
  await writeFile(join(sb, 'shimx64.efi'), shim)
  await writeFile(join(sb, 'grubx64.efi'), grub)
  await writeFile(join(sb, 'notes.txt'), 'not part of the chain')
  const { port } = await startServer(t, root)
  const out = join(root, 'got')

  // EDK2 asks for the NBP with blksize 1468; shim asks for grubx64.efi with 512 (seen in the lab's capture).
  let r = await run('curl', ['-sS', '-o', out, '--tftp-blksize', '1468', `tftp://127.0.0.1:${port}/secureboot/shimx64.efi`])
  t.equal(r.code, 0, r.stderr)
  t.equal(sha256(await readFile(out)), sha256(shim), 'shim byte for byte')
  r = await run('atftp', ['-g', '-r', 'secureboot/GRUBX64.EFI', '-l', out, '127.0.0.1', String(port)])
  t.equal(r.code, 0, r.stderr)
  t.equal(sha256(await readFile(out)), sha256(grub), 'GRUB byte for byte, any case')

  for (const path of ['grub/grub.cfg', '/grub/x86_64-efi/grub.cfg']) {
    r = await run('curl', ['-sS', '-o', out, `tftp://127.0.0.1:${port}/${path}`])
    t.equal(r.code, 0, r.stderr)
    t.match(await readFile(out, 'utf8'), 'configfile "(http,127.0.0.1)/boot/grub/decide?${nb_id}"', `${path}: GRUB's entry config for the HTTP base URL`)
  }
  for (const path of ['secureboot/mmx64.efi', 'secureboot/notes.txt', 'secureboot/revocations_sbat.efi']) {
    r = await run('curl', ['-sS', '-o', out, `tftp://127.0.0.1:${port}/${path}`])
    // curl's exit code 68: "File not found on TFTP server" (TFTP error 1), which shim takes as "optional file absent".
    t.equal(r.code, 68, `${path}: file not found`)
  }
})
