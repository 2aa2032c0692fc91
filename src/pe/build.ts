// Builds the Linux PE by running boot/pe/build.sh (Debian packages → vmlinuz + initrd.img, cached by a
// hash of its inputs), for amd64 or arm64. The script prints one "pe: …" line per phase; they are passed to
// onLine as they come.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { basename, dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createError } from '../errors.js'
import type { PeArch } from './arch.js'

export const PeBuildError = createError('NB_ERR_PE_BUILD', 'PE build failed: %s', 500)

// The package root: src/pe/ from sources, dist/src/pe/ once compiled.
const here = dirname(fileURLToPath(import.meta.url))
const up2 = resolve(here, '..', '..')
export const PACKAGE_ROOT = basename(up2) === 'dist' ? dirname(up2) : up2
/** The build script and the PE sources (init, runner.sh, steps*.sh, capture*.sh). */
export const PE_SOURCE_DIR = join(PACKAGE_ROOT, 'boot', 'pe')
export const PE_BUILD_SCRIPT = join(PE_SOURCE_DIR, 'build.sh')

export interface PeBuildOptions {
  /** output directory (cfg.paths.pe for amd64; peDirFor(paths.pe, 'arm64') for arm64) */
  outDir: string
  /** Debian architecture of the PE (default amd64) */
  arch?: PeArch
  /** rebuild even when the inputs hash matches */
  force?: boolean
  /** where the kernel .deb and its unpacked tree (arm64: also the private apt state and sysroot) are cached
   *  (default /var/cache/netboot-pe) */
  cacheDir?: string
  /** each progress line of the build, as it is printed */
  onLine?: (line: string) => void
}

export interface PeBuildResult {
  vmlinuz: string
  initrd: string
  /** true when nothing was rebuilt (inputs unchanged) */
  upToDate: boolean
}

/** Paths of a built PE in DIR, or undefined when it is not (completely) there. */
export function builtPe (dir: string): { vmlinuz: string, initrd: string } | undefined {
  const vmlinuz = join(dir, 'vmlinuz')
  const initrd = join(dir, 'initrd.img')
  return existsSync(vmlinuz) && existsSync(initrd) ? { vmlinuz, initrd } : undefined
}

export async function buildPe (opts: PeBuildOptions): Promise<PeBuildResult> {
  const args = [PE_BUILD_SCRIPT, resolve(opts.outDir)]
  if (opts.arch !== undefined) args.push('--arch', opts.arch)
  if (opts.force === true) args.push('--force')
  if (opts.cacheDir !== undefined) args.push('--cache', resolve(opts.cacheDir))
  const child = spawn('bash', args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let upToDate = false
  const tail: string[] = []
  const feed = (buf: string, carry: { rest: string }): void => {
    const lines = (carry.rest + buf).split('\n')
    carry.rest = lines.pop() ?? ''
    for (const line of lines) {
      if (line.includes('pe: up to date')) upToDate = true
      tail.push(line); if (tail.length > 20) tail.shift()
      opts.onLine?.(line)
    }
  }
  const out = { rest: '' }
  const err = { rest: '' }
  child.stdout.setEncoding('utf8').on('data', (d: string) => { feed(d, out) })
  child.stderr.setEncoding('utf8').on('data', (d: string) => { feed(d, err) })
  const code = await new Promise<number>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (c) => { resolve(c ?? 1) })
  })
  for (const c of [out, err]) if (c.rest !== '') feed('\n', c)
  if (code !== 0) {
    const last = tail.filter(l => l.trim() !== '').slice(-3).join(' | ')
    throw new PeBuildError(`${PE_BUILD_SCRIPT} exited with ${code}: ${last}`)
  }
  const built = builtPe(opts.outDir)
  if (built === undefined) throw new PeBuildError(`no vmlinuz/initrd.img in ${opts.outDir} after the build`)
  return { ...built, upToDate }
}
