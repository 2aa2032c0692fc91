// Helpers for the config tests: load a YAML text from a temp directory, and a real two-image WIM.
import { execFile } from 'node:child_process'
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { Test } from 'tap'
import { loadConfigText, type LoadOptions, type LoadResult } from '../../src/config/load.js'

const run = promisify(execFile)

/** A fixed "now" so schedule checks do not depend on the day the suite runs. */
export const NOW = new Date('2026-06-01T12:00:00Z')

/** An interface list like os.networkInterfaces() on a machine with one NIC. */
export const ONE_NIC = () => ({
  lo: [{ address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4' as const, mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' }],
  eth0: [{ address: '10.9.8.7', netmask: '255.255.255.0', family: 'IPv4' as const, mac: '52:54:00:aa:bb:cc', internal: false, cidr: '10.9.8.7/24' }]
})

export async function tempDir (t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'nb-config-'))
  t.teardown(async () => await rm(dir, { recursive: true, force: true }))
  return dir
}

export async function load (text: string, opts: LoadOptions & { cwd: string }): Promise<LoadResult> {
  return await loadConfigText(text, join(opts.cwd, 'appliance.yaml'), { now: NOW, networkInterfaces: ONE_NIC, ...opts })
}

/** Make `<dir>/images/two.wim` holding two images (wimcapture, then wimappend) and `<dir>/images/bogus.wim`. */
export async function makeImageStore (dir: string): Promise<void> {
  const src = join(dir, 'wimsrc')
  await mkdir(join(src, 'etc'), { recursive: true })
  await writeFile(join(src, 'etc', 'hostname'), 'reference\n')
  await mkdir(join(dir, 'images'), { recursive: true })
  const wim = join(dir, 'images', 'two.wim')
  await run('wimcapture', ['--compress=none', src, wim, 'First'])
  await writeFile(join(src, 'etc', 'motd'), 'second image\n')
  await run('wimappend', [src, wim, 'Second'])
  await writeFile(join(dir, 'images', 'bogus.wim'), 'this is not a WIM file, just text that is long enough to hold a header'.repeat(4))
}
