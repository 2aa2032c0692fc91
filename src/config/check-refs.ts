// Cross-references between the deployment model's lists: ids are unique, advertisements name a task
// sequence and a collection that exist, steps name images that exist, schedules make sense.
import { entries, str, type Obj, type Reporter } from './report.js'
import { didYouMean } from './suggest.js'

const LISTS = [
  ['images', 'image'],
  ['taskSequences', 'task sequence'],
  ['collections', 'collection'],
  ['advertisements', 'advertisement']
] as const

/** Every list's ids, in file order; the first definition wins for lookups. */
export function idsOf (data: Obj, list: string): Map<string, number> {
  const ids = new Map<string, number>()
  for (const [i, e] of entries(data[list])) {
    const id = str(e.id)
    if (id !== undefined && !ids.has(id)) ids.set(id, i)
  }
  return ids
}

export function checkDuplicateIds (data: Obj, r: Reporter): void {
  for (const [list, what] of LISTS) {
    const seen = new Map<string, number>()
    for (const [i, e] of entries(data[list])) {
      const id = str(e.id)
      if (id === undefined) continue
      const first = seen.get(id)
      if (first === undefined) { seen.set(id, i); continue }
      r.error([list, i, 'id'], `duplicate ${what} id '${id}'`,
        `first defined at line ${r.lineOf([list, first, 'id'])}; ids must be unique within ${list}`)
    }
  }
}

function missingRef (r: Reporter, path: Array<string | number>, what: string, id: string, known: Map<string, number>, list: string): void {
  const names = [...known.keys()]
  const hint = didYouMean(id, names) ??
    (names.length === 0 ? `no ${list} are defined` : `defined ${list}: ${names.slice(0, 8).join(', ')}${names.length > 8 ? ', …' : ''}`)
  r.error(path, `${what} '${id}' is not defined`, hint)
}

export function checkAdvertisements (data: Obj, r: Reporter, now: Date): void {
  const sequences = idsOf(data, 'taskSequences')
  const collections = idsOf(data, 'collections')
  const requiredByCollection = new Map<string, number>()
  for (const [i, ad] of entries(data.advertisements)) {
    const base = ['advertisements', i]
    const ts = str(ad.taskSequence)
    const col = str(ad.collection)
    if (ts !== undefined && !sequences.has(ts)) missingRef(r, [...base, 'taskSequence'], 'task sequence', ts, sequences, 'taskSequences')
    if (col !== undefined && !collections.has(col)) missingRef(r, [...base, 'collection'], 'collection', col, collections, 'collections')
    if (col !== undefined && collections.has(col)) {
      const c = entries(data.collections).find(([, e]) => e.id === col)?.[1]
      if (c !== undefined && isEmptyCollection(c)) {
        r.warn([...base, 'collection'], `collection '${col}' has no members and no rules: advertisement '${str(ad.id) ?? i}' reaches no machine`)
      }
    }
    if (ad.purpose === 'required' && col !== undefined) {
      const other = requiredByCollection.get(col)
      if (other !== undefined) {
        r.warn([...base, 'collection'], `two required advertisements target collection '${col}'`,
          `the other is at line ${r.lineOf(['advertisements', other])}; a machine runs them one after the other`)
      } else {
        requiredByCollection.set(col, i)
      }
    }
    checkSchedule(ad, base, r, now)
  }
}

function isEmptyCollection (c: Obj): boolean {
  const m = c.members
  const rl = c.rules
  return (!Array.isArray(m) || m.length === 0) && (!Array.isArray(rl) || rl.length === 0)
}

function checkSchedule (ad: Obj, base: Array<string | number>, r: Reporter, now: Date): void {
  const start = parseTime(ad.start)
  const expires = parseTime(ad.expires)
  if (start !== undefined && expires !== undefined && start >= expires) {
    r.error([...base, 'start'], `start ${String(ad.start)} is not before expires ${String(ad.expires)}`,
      'the advertisement would never be offered; move start earlier or expires later')
    return
  }
  if (expires !== undefined && expires <= now.getTime()) {
    r.warn([...base, 'expires'], `advertisement '${str(ad.id) ?? ''}' expired at ${String(ad.expires)} and is no longer offered`,
      'remove it or move expires into the future')
  }
}

function parseTime (v: unknown): number | undefined {
  if (typeof v !== 'string') return undefined
  const t = Date.parse(v)
  return Number.isNaN(t) ? undefined : t
}

/**
 * makeBootable installs GRUB for a Linux image on ext4 (boot/pe/steps-boot.sh): after a partition step that
 * formats NTFS it can only fail, and before any applyImage there is no kernel on the volume yet.
 */
function checkMakeBootable (r: Reporter, base: Array<string | number>, tsId: string, filesystem: string | undefined, applied: boolean): void {
  if (filesystem === 'ntfs') {
    r.warn([...base, 'type'], `task sequence '${tsId}': makeBootable after a partition step that formats NTFS`,
      'makeBootable installs GRUB for Linux images: use filesystem: ext4 on the partition step (a Windows image needs bcdboot, which only WinPE has)')
  }
  if (!applied) {
    r.warn([...base, 'type'], `task sequence '${tsId}': makeBootable before any applyImage step`,
      'put it after the applyImage step: it looks for the kernel in the applied image\'s /boot')
  }
}

/** applyImage names a defined image; capture over an existing image id is allowed but said. */
export function checkSteps (data: Obj, r: Reporter): void {
  const images = idsOf(data, 'images')
  for (const [ti, ts] of entries(data.taskSequences)) {
    let partitioned = false
    let filesystem: string | undefined   // of the last partition step
    let applied = false
    for (const [si, step] of entries(ts.steps)) {
      const base = ['taskSequences', ti, 'steps', si]
      const image = str(step.image)
      if (step.type === 'partition') { partitioned = true; filesystem = str(step.filesystem) ?? 'ntfs' }
      if (step.type === 'applyImage') applied = true
      if (step.type === 'makeBootable') {
        checkMakeBootable(r, base, str(ts.id) ?? String(ti), filesystem, applied)
        // grub.cfg gets the arguments on the kernel's `linux` line: a line break would start a GRUB command.
        if (/[\r\n]/.test(str(step.kernelArgs) ?? '')) r.error([...base, 'kernelArgs'], 'kernelArgs must be one line (it goes on the kernel\'s line of grub.cfg)')
      }
      if (step.type === 'applyImage' && image !== undefined) {
        if (!images.has(image)) missingRef(r, [...base, 'image'], 'image', image, images, 'images')
        if (!partitioned) {
          r.warn([...base, 'type'], `task sequence '${str(ts.id) ?? ti}' applies an image before any partition step`,
            'add a partition step first, unless the target disk is already partitioned and formatted')
        }
      }
      if (step.type === 'capture' && image !== undefined && images.has(image)) {
        r.warn([...base, 'image'], `capture step writes image '${image}', which is already defined`,
          'a capture replaces that WIM in the image store; use a new id to keep the old one')
      }
      if (step.type === 'applyFiles') checkRelative(r, [...base, 'source'], step.source, 'paths.files')
    }
  }
  for (const [i, img] of entries(data.images)) checkRelative(r, ['images', i, 'file'], img.file, 'paths.images')
  const files = new Map<string, number>()
  for (const [i, img] of entries(data.images)) {
    const f = str(img.file)
    if (f === undefined) continue
    const first = files.get(f)
    if (first !== undefined) {
      r.warn(['images', i, 'file'], `images '${str(img.id) ?? i}' and the one at line ${r.lineOf(['images', first])} share the file '${f}'`)
    } else files.set(f, i)
  }
}

function checkRelative (r: Reporter, path: Array<string | number>, v: unknown, root: string): void {
  const p = str(v)
  if (p === undefined) return
  if (p.startsWith('/') || p.split(/[\\/]/).includes('..') || p.trim() === '') {
    r.error(path, `'${p}' must be a relative path inside ${root}`, `no leading "/" and no ".." components`)
  }
}

