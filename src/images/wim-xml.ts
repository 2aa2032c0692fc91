// The WIM XML catalogue (UTF-16LE text at the header's XML data resource) → per-image metadata.
// Layout, as WIMGAPI and wimlib write it:
//   <WIM><TOTALBYTES>n</TOTALBYTES><IMAGE INDEX="1"><DIRCOUNT/><FILECOUNT/><TOTALBYTES/><HARDLINKBYTES/>
//   <CREATIONTIME><HIGHPART>0x…</HIGHPART><LOWPART>0x…</LOWPART></CREATIONTIME><LASTMODIFICATIONTIME/>
//   <WINDOWS><ARCH/><PRODUCTNAME/><EDITIONID/><INSTALLATIONTYPE/><LANGUAGES><LANGUAGE/><DEFAULT/></LANGUAGES>
//   <VERSION><MAJOR/><MINOR/><BUILD/><SPBUILD/><SPLEVEL/></VERSION><SYSTEMROOT/></WINDOWS>
//   <NAME/><DESCRIPTION/><DISPLAYNAME/><DISPLAYDESCRIPTION/><FLAGS/></IMAGE>…</WIM>
import { WimError } from './errors.js'
import { parseXml, child, childText, XmlSyntaxError, type XmlElement } from './xml.js'

export type WimArch = 'x86' | 'arm' | 'ia64' | 'x64' | 'arm64' | `unknown(${number})`

export interface WimImageInfo {
  index: number
  name: string
  description?: string
  displayName?: string
  displayDescription?: string
  /** <FLAGS> (the edition for Windows install images, e.g. "Professional"), else WINDOWS/EDITIONID */
  edition?: string
  flags?: string
  editionId?: string
  productName?: string
  installationType?: string
  /** WINDOWS/ARCH: PROCESSOR_ARCHITECTURE_* codes 0 x86, 5 arm, 6 ia64, 9 x64, 12 arm64 */
  arch?: WimArch
  /** WINDOWS/VERSION as MAJOR.MINOR.BUILD.SPBUILD */
  windowsVersion?: string
  languages?: string[]
  defaultLanguage?: string
  totalBytes: number
  hardLinkBytes: number
  fileCount: number
  dirCount: number
  /** ISO 8601, from the FILETIME HIGHPART/LOWPART pair */
  createdAt?: string
  modifiedAt?: string
}

export interface WimXml {
  totalBytes: number
  images: WimImageInfo[]
}

const ARCH: Record<string, WimArch> = { 0: 'x86', 5: 'arm', 6: 'ia64', 9: 'x64', 12: 'arm64' }

function bad (msg: string, where: number): never {
  throw new WimError('NB_ERR_WIM_BAD_XML', `XML data at offset ${where}: ${msg}`, where)
}

function count (el: XmlElement, name: string, ctx: string, where: number): number {
  const t = childText(el, name)
  if (t === undefined || t === '') return 0
  if (!/^[0-9]{1,16}$/.test(t)) bad(`${ctx}/${name} is not a non-negative integer: ${JSON.stringify(t.slice(0, 40))}`, where)
  return Number(t)
}

/** FILETIME: 100 ns intervals since 1601-01-01 UTC, written as two hex (or decimal) 32-bit halves. */
function filetime (el: XmlElement, name: string, ctx: string, where: number): string | undefined {
  const t = child(el, name)
  if (t === undefined) return undefined
  const part = (p: string): bigint => {
    const s = childText(t, p) ?? ''
    if (!/^(0x[0-9A-Fa-f]{1,8}|[0-9]{1,10})$/.test(s)) bad(`${ctx}/${name}/${p} is not a 32-bit number: ${JSON.stringify(s.slice(0, 40))}`, where)
    const v = BigInt(s)
    if (v > 0xffffffffn) bad(`${ctx}/${name}/${p} exceeds 32 bits`, where)
    return v
  }
  const ft = (part('HIGHPART') << 32n) | part('LOWPART')
  const ms = ft / 10000n - 11644473600000n
  const d = new Date(Number(ms))
  if (Number.isNaN(d.getTime())) bad(`${ctx}/${name} is out of range`, where)
  return d.toISOString()
}

function opt (el: XmlElement | undefined, name: string): string | undefined {
  const t = childText(el, name)
  return t === undefined || t === '' ? undefined : t
}

function windowsInfo (img: XmlElement, out: WimImageInfo, ctx: string, where: number): void {
  const win = child(img, 'WINDOWS')
  if (win === undefined) return
  const arch = opt(win, 'ARCH')
  if (arch !== undefined) {
    if (!/^[0-9]{1,5}$/.test(arch)) bad(`${ctx}/WINDOWS/ARCH is not a number: ${JSON.stringify(arch.slice(0, 40))}`, where)
    out.arch = ARCH[String(Number(arch))] ?? `unknown(${Number(arch)})`
  }
  out.productName = opt(win, 'PRODUCTNAME')
  out.editionId = opt(win, 'EDITIONID')
  out.installationType = opt(win, 'INSTALLATIONTYPE')
  const langs = child(win, 'LANGUAGES')
  if (langs !== undefined) {
    out.languages = langs.children.filter(c => c.name === 'LANGUAGE').map(c => c.text.trim())
    out.defaultLanguage = opt(langs, 'DEFAULT')
  }
  const v = child(win, 'VERSION')
  if (v !== undefined) {
    out.windowsVersion = ['MAJOR', 'MINOR', 'BUILD', 'SPBUILD'].map(p => opt(v, p) ?? '0').join('.')
  }
}

function imageInfo (img: XmlElement, position: number, where: number): WimImageInfo {
  const ctx = `IMAGE[${position}]`
  const idx = img.attrs.INDEX
  if (idx === undefined || !/^[0-9]{1,10}$/.test(idx) || Number(idx) !== position) {
    bad(`${ctx} has INDEX=${JSON.stringify(idx ?? null)}, expected "${position}" (images are numbered 1, 2, … in order)`, where)
  }
  const out: WimImageInfo = {
    index: position,
    name: childText(img, 'NAME') ?? '',
    description: opt(img, 'DESCRIPTION'),
    displayName: opt(img, 'DISPLAYNAME'),
    displayDescription: opt(img, 'DISPLAYDESCRIPTION'),
    flags: opt(img, 'FLAGS'),
    totalBytes: count(img, 'TOTALBYTES', ctx, where),
    hardLinkBytes: count(img, 'HARDLINKBYTES', ctx, where),
    fileCount: count(img, 'FILECOUNT', ctx, where),
    dirCount: count(img, 'DIRCOUNT', ctx, where),
    createdAt: filetime(img, 'CREATIONTIME', ctx, where),
    modifiedAt: filetime(img, 'LASTMODIFICATIONTIME', ctx, where)
  }
  windowsInfo(img, out, ctx, where)
  out.edition = out.flags ?? out.editionId
  // Drop absent optional fields so the catalogue JSON stays small and readable.
  for (const k of Object.keys(out) as Array<keyof WimImageInfo>) if (out[k] === undefined) delete out[k]
  return out
}

/** Parses the decoded XML text. `where` is the XML resource's file offset, for error messages. */
export function parseWimXml (text: string, where: number): WimXml {
  let root: XmlElement
  try {
    root = parseXml(text)
  } catch (err) {
    if (err instanceof XmlSyntaxError) bad(`malformed XML: ${err.message}`, where)
    throw err
  }
  if (root.name !== 'WIM') bad(`root element is <${root.name}>, expected <WIM>`, where)
  const images = root.children.filter(c => c.name === 'IMAGE').map((img, i) => imageInfo(img, i + 1, where))
  return { totalBytes: count(root, 'TOTALBYTES', 'WIM', where), images }
}
