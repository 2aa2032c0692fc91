// Test trees, WIMs made from them with the real wimcapture, and reading a deployed disk image back:
// the partition table with sfdisk, the NTFS volume through a read-only loop device (or a dd'ed copy when
// loop devices are unavailable) captured with wimlib's NTFS-3G mode and applied to a directory.
import { createHash } from 'node:crypto'
import { mkdir, readdir, readFile, rm, writeFile, lstat } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { sh } from './netns.js'

/** Deterministic pseudo-random bytes (xorshift), so a failing comparison is reproducible. */
function bytes (n: number, seed: number): Buffer {
  const b = Buffer.alloc(n)
  let x = seed | 1
  for (let i = 0; i < n; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; b[i] = x & 0xff }
  return b
}

/** A tree with nested directories, empty to ~1 MiB files, unicode names. Returns relative path → sha256. */
export async function makeTree (dir: string, opts: { bigFileBytes?: number } = {}): Promise<Map<string, string>> {
  const files: Array<[string, Buffer]> = [
    ['readme.txt', Buffer.from('deployed by netboot\n')],
    ['empty.bin', Buffer.alloc(0)],
    ['Windows/System32/config/SOFTWARE', bytes(48 * 1024, 7)],
    ['Windows/System32/drivers/etc/hosts', Buffer.from('127.0.0.1 localhost\r\n')],
    ['Program Files/Äpp Ünïcode/数据.dat', bytes(200 * 1024, 11)],
    ['Program Files/Äpp Ünïcode/ё ж з.txt', Buffer.from('кириллица\n')],
    ['Users/Default/deep/a/b/c/d/e/leaf.bin', bytes(4096, 13)],
    ['big/blob.bin', bytes(opts.bigFileBytes ?? 1024 * 1024, 17)],
    ['big/zeros.bin', Buffer.alloc(256 * 1024)]
  ]
  const sums = new Map<string, string>()
  for (const [rel, data] of files) {
    await mkdir(join(dir, rel, '..'), { recursive: true })
    await writeFile(join(dir, rel), data)
    sums.set(rel, createHash('sha256').update(data).digest('hex'))
  }
  return sums
}

/** Relative path → sha256 of every regular file under dir. */
export async function hashTree (dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  async function walk (d: string): Promise<void> {
    for (const e of await readdir(d)) {
      const p = join(d, e)
      const st = await lstat(p)
      if (st.isDirectory()) await walk(p)
      else if (st.isFile()) out.set(relative(dir, p), createHash('sha256').update(await readFile(p)).digest('hex'))
    }
  }
  await walk(dir)
  return out
}

/** wimcapture TREE → WIM (one image); more trees append more images. unixData: owners, modes, device nodes, xattrs. */
export async function makeWim (wim: string, trees: Array<{ dir: string, name: string }>, compress = 'lzx', unixData = false): Promise<void> {
  await rm(wim, { force: true })
  for (const [i, t] of trees.entries()) {
    await sh([i === 0 ? 'wimcapture' : 'wimappend', t.dir, wim, t.name, ...(i === 0 ? [`--compress=${compress}`] : []), ...(unixData ? ['--unix-data'] : [])])
  }
}

export interface Partition { node: string, start: number, size: number, type: string, bootable?: boolean }
export interface PartitionTable { label: 'dos' | 'gpt', partitions: Partition[] }

/** The disk image's partition table (sfdisk --json), offsets in bytes. */
export async function partitionTable (disk: string): Promise<PartitionTable> {
  const { stdout } = await sh(['sfdisk', '--json', disk])
  const pt = (JSON.parse(stdout) as { partitiontable: { label: 'dos' | 'gpt', sectorsize?: number, partitions?: Array<{ node: string, start: number, size: number, type: string, bootable?: boolean }> } }).partitiontable
  const ss = pt.sectorsize ?? 512
  return { label: pt.label, partitions: (pt.partitions ?? []).map(p => ({ ...p, start: p.start * ss, size: p.size * ss })) }
}

/** Copy the files of an NTFS partition of a disk image into dir (via wimlib's NTFS-3G reader). */
export async function extractNtfs (disk: string, part: Partition, dir: string, work: string): Promise<void> {
  const wim = join(work, `readback-${part.start}.wim`)
  let source: string
  let loop: string | undefined
  try {
    loop = (await sh(['losetup', '-f', '--show', '-r', '-o', String(part.start), '--sizelimit', String(part.size), disk])).stdout.trim()
    source = loop
  } catch {
    source = join(work, `part-${part.start}.img`)        // no loop devices: a sparse copy of the partition
    await sh(['dd', `if=${disk}`, `of=${source}`, 'bs=1M', `skip=${part.start}`, `count=${part.size}`, 'iflag=skip_bytes,count_bytes', 'conv=sparse', 'status=none'])
  }
  try {
    await sh(['wimcapture', source, wim, 'readback', '--compress=none'])
    await mkdir(dir, { recursive: true })
    await sh(['wimapply', wim, '1', dir])
  } finally {
    if (loop !== undefined) await sh(['losetup', '-d', loop]).catch(() => {})
    await rm(wim, { force: true })
    if (loop === undefined) await rm(source, { force: true })
  }
}

/** Label (FAT or NTFS) and type of a partition, via blkid on a loop device or a copy. */
export async function blkid (disk: string, part: Partition): Promise<string> {
  const { stdout } = await sh(['blkid', '-p', '-O', String(part.start), '-S', String(part.size), '-o', 'export', disk]).catch(() => ({ stdout: '' }))
  return stdout
}
