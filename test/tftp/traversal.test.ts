// Hostile paths: none may leave the TFTP root. Each row asserts the TFTP error the client sees (or silence when
// the request itself is malformed), and that no byte of the secret outside the root ever arrives.
import t from 'tap'
import { mkdir, symlink, writeFile } from 'node:fs/promises'
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { tempRoot, startServer, tftpGet, sha256 } from './helpers.js'

const base = await tempRoot(t)
const root = join(base, 'root')
const outside = join(base, 'outside')
await mkdir(join(root, 'sub', 'Deep'), { recursive: true })
await mkdir(outside)
const secret = Buffer.from('TOP SECRET outside the root\n')
await writeFile(join(outside, 'secret'), secret)
const boot = Buffer.from('a boot loader\n')
await writeFile(join(root, 'boot.bin'), boot)
await writeFile(join(root, 'sub', 'Deep', 'Loader.EFI'), boot)
await symlink(join(outside, 'secret'), join(root, 'abs-link'))
await symlink('../outside/secret', join(root, 'rel-link'))
await symlink(outside, join(root, 'dir-link'))
await symlink('loop-b', join(root, 'loop-a'))
await symlink('loop-a', join(root, 'loop-b'))
await symlink('self', join(root, 'self'))
await symlink('boot.bin', join(root, 'inside-link'))
// As Debian's ipxe package does (/usr/lib/ipxe/ipxe.efi -> /boot/ipxe.efi): followed only because the config's
// bootLoaders names it; the same target under another name stays refused.
await writeFile(join(outside, 'named.efi'), boot)
await symlink(join(outside, 'named.efi'), join(root, 'named-link.efi'))
await symlink(join(outside, 'named.efi'), join(root, 'unnamed-link.efi'))
await symlink('/dev/zero', join(root, 'zero-link'))
execFileSync('mkfifo', [join(root, 'fifo')])

const { port } = await startServer(t, root)

type Row = [string, string, number | 'silent']
const NF = 1 // file not found
const AV = 2 // access violation
const hostile: Row[] = [
  ['parent', '../outside/secret', AV],
  ['parent twice', '../../etc/passwd', AV],
  ['parent after a name', 'sub/../../outside/secret', AV],
  ['parent inside the root', 'sub/../boot.bin', AV],
  ['windows parent', '..\\outside\\secret', AV],
  ['windows parent deep', 'sub\\..\\..\\outside\\secret', AV],
  ['mixed separators', '..\\/outside/secret', AV],
  ['trailing parent', 'sub/..', AV],
  ['absolute unix path', '/etc/passwd', NF],
  ['absolute path with many slashes', '////etc//passwd', NF],
  ['absolute parent', '/../outside/secret', AV],
  ['drive letter', 'C:\\Windows\\System32\\config\\SAM', AV],
  ['drive letter forward', 'c:/windows/win.ini', AV],
  ['UNC path', '\\\\server\\share\\secret', NF],
  ['percent-encoded parent (not decoded)', '%2e%2e/outside/secret', NF],
  ['double-encoded', '%252e%252e%252fsecret', NF],
  ['utf-8 overlong dot', '\xc0\xae\xc0\xae/outside/secret', NF],
  ['NUL byte cuts the name: the rest is read as a bad mode', 'boot.bin\0../outside/secret', 'silent'],
  ['newline', 'boot.bin\n', AV],
  ['tab', 'sub\t/boot.bin', AV],
  ['DEL character', 'boot\x7f.bin', AV],
  ['escape sequence', '\x1b[31mboot.bin', AV],
  ['very long name', 'a'.repeat(300), AV],
  ['very long path', 'a/'.repeat(600) + 'boot.bin', AV],
  ['symlink to an absolute path outside', 'abs-link', AV],
  ['relative symlink outside', 'rel-link', AV],
  ['through a directory symlink outside', 'dir-link/secret', AV],
  ['case-insensitive symlink outside', 'ABS-LINK', AV],
  ['link out not named in bootLoaders', 'unnamed-link.efi', AV],
  ['named link reached through a parent', 'sub/../named-link.efi', AV],
  ['named link in another case (only the exact name is trusted)', 'NAMED-LINK.EFI', AV],
  ['symlink loop', 'loop-a', AV],
  ['self-referencing symlink', 'self', AV],
  ['symlink to a device', 'zero-link', AV],
  ['FIFO inside the root (would block a reader)', 'fifo', AV],
  ['directory', 'sub', AV],
  ['the root itself', '/', NF],
  ['dot only', '.', NF],
  ['windows device CON', 'CON', NF],
  ['windows device NUL with extension', 'NUL.txt', NF],
  ['unix device', '/dev/zero', NF],
  ['proc', '/proc/self/environ', NF],
  ['home directory', '~/.ssh/id_rsa', NF],
  ['trailing dot and space (Windows strips them)', 'boot.bin. ', NF]
]

for (const [name, path, want] of hostile) {
  t.test(`hostile: ${name}`, async t => {
    const r = await tftpGet(port, path, { idleMs: want === 'silent' ? 400 : 3000 })
    t.equal(r.data, undefined, 'no file delivered')
    t.equal(r.dataPackets, 0, 'no DATA packet at all')
    if (want === 'silent') t.equal(r.error, undefined, 'malformed request dropped without a reply')
    else t.equal(r.error?.code, want, `ERROR ${want} (${r.error?.message})`)
  })
}

const allowed: Array<[string, string]> = [
  ['plain', 'boot.bin'],
  ['leading slash stripped', '/boot.bin'],
  ['backslash', '\\boot.bin'],
  ['any case', 'BOOT.BIN'],
  ['windows path, any case', '\\SUB\\deep\\loader.efi'],
  ['dot segments', './sub/./Deep/Loader.EFI'],
  ['symlink that stays inside', 'inside-link'],
  ['link out of the root that bootLoaders names (Debian ipxe.efi)', 'named-link.efi'],
  ['the named link with a leading backslash', '\\named-link.efi']
]
for (const [name, path] of allowed) {
  t.test(`allowed: ${name}`, async t => {
    const r = await tftpGet(port, path)
    t.equal(r.error, undefined)
    t.equal(sha256(r.data ?? Buffer.alloc(0)), sha256(boot))
  })
}

t.test('the table is big enough', async t => { t.ok(hostile.length >= 30) })
