// A small, strict, bounded XML parser for the WIM XML catalogue (src/images/wim.ts).
// Elements, attributes, text, the five predefined entities and character references, CDATA, comments and
// processing instructions. No DOCTYPE (so no entity expansion), no namespaces. Pure: a string in, a tree out.

export interface XmlElement {
  name: string
  attrs: Record<string, string>
  children: XmlElement[]
  /** concatenated character data directly inside this element (entities decoded) */
  text: string
}

export interface XmlLimits {
  maxDepth: number
  maxElements: number
}

const DEFAULT_LIMITS: XmlLimits = { maxDepth: 32, maxElements: 200_000 }

/** Thrown with the character offset where parsing stopped; wim.ts turns it into NB_ERR_WIM_BAD_XML. */
export class XmlSyntaxError extends Error {
  readonly offset: number
  constructor (message: string, offset: number) {
    super(`${message} at character ${offset}`)
    this.name = 'XmlSyntaxError'
    this.offset = offset
  }
}

const NAME_RE = /[A-Za-z_:][-A-Za-z0-9_:.]*/y
const WS_RE = /[ \t\r\n]*/y
const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }

function decodeEntities (raw: string, at: number): string {
  if (!raw.includes('&')) return raw
  return raw.replace(/&([^;&]*);?/g, (m, ref: string, pos: number) => {
    if (!m.endsWith(';')) throw new XmlSyntaxError('unterminated entity reference', at + pos)
    if (ref in ENTITIES) return ENTITIES[ref]
    const num = /^#x([0-9A-Fa-f]{1,6})$/.exec(ref) ?? /^#([0-9]{1,7})$/.exec(ref)
    if (num === null) throw new XmlSyntaxError(`unknown entity &${ref};`, at + pos)
    const cp = parseInt(num[1], ref.startsWith('#x') ? 16 : 10)
    if (cp === 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      throw new XmlSyntaxError(`invalid character reference &${ref};`, at + pos)
    }
    return String.fromCodePoint(cp)
  })
}

class Parser {
  private pos = 0
  private elements = 0
  constructor (private readonly s: string, private readonly limits: XmlLimits) {}

  fail (msg: string): never { throw new XmlSyntaxError(msg, this.pos) }

  skipWs (): void {
    WS_RE.lastIndex = this.pos
    WS_RE.exec(this.s)
    this.pos = WS_RE.lastIndex
  }

  name (): string {
    NAME_RE.lastIndex = this.pos
    const m = NAME_RE.exec(this.s)
    if (m === null) this.fail('expected a name')
    this.pos = NAME_RE.lastIndex
    return m[0]
  }

  /** Skips `<?…?>` and `<!--…-->`; returns false when neither starts here. Rejects DOCTYPE. */
  skipMisc (): boolean {
    const s = this.s
    if (s.startsWith('<?', this.pos)) {
      const end = s.indexOf('?>', this.pos + 2)
      if (end < 0) this.fail('unterminated processing instruction')
      this.pos = end + 2
      return true
    }
    if (s.startsWith('<!--', this.pos)) {
      const end = s.indexOf('-->', this.pos + 4)
      if (end < 0) this.fail('unterminated comment')
      this.pos = end + 3
      return true
    }
    if (s.startsWith('<!DOCTYPE', this.pos)) this.fail('DOCTYPE is not allowed')
    return false
  }

  document (): XmlElement {
    if (this.s.charCodeAt(0) === 0xfeff) this.pos = 1
    for (;;) { this.skipWs(); if (!this.skipMisc()) break }
    if (this.s[this.pos] !== '<') this.fail('expected the root element')
    const root = this.element(1)
    for (;;) { this.skipWs(); if (!this.skipMisc()) break }
    if (this.pos !== this.s.length) this.fail('content after the root element')
    return root
  }

  attributes (el: XmlElement): void {
    for (;;) {
      const before = this.pos
      this.skipWs()
      const c = this.s[this.pos]
      if (c === '>' || c === '/' || c === undefined) return
      if (this.pos === before) this.fail('expected whitespace before attribute')
      const name = this.name()
      this.skipWs()
      if (this.s[this.pos] !== '=') this.fail(`expected = after attribute ${name}`)
      this.pos++
      this.skipWs()
      const q = this.s[this.pos]
      if (q !== '"' && q !== "'") this.fail(`expected a quoted value for attribute ${name}`)
      const end = this.s.indexOf(q, this.pos + 1)
      if (end < 0) this.fail(`unterminated value of attribute ${name}`)
      const raw = this.s.slice(this.pos + 1, end)
      if (raw.includes('<')) this.fail(`'<' in the value of attribute ${name}`)
      if (Object.hasOwn(el.attrs, name)) this.fail(`duplicate attribute ${name}`)
      el.attrs[name] = decodeEntities(raw, this.pos + 1)
      this.pos = end + 1
    }
  }

  element (depth: number): XmlElement {
    if (depth > this.limits.maxDepth) this.fail(`elements nested deeper than ${this.limits.maxDepth}`)
    if (++this.elements > this.limits.maxElements) this.fail(`more than ${this.limits.maxElements} elements`)
    this.pos++ // '<'
    const el: XmlElement = { name: this.name(), attrs: Object.create(null), children: [], text: '' }
    this.attributes(el)
    if (this.s.startsWith('/>', this.pos)) { this.pos += 2; return el }
    if (this.s[this.pos] !== '>') this.fail(`expected > to close the start tag of ${el.name}`)
    this.pos++
    this.content(el, depth)
    return el
  }

  content (el: XmlElement, depth: number): void {
    const s = this.s
    for (;;) {
      const lt = s.indexOf('<', this.pos)
      if (lt < 0) this.fail(`missing end tag </${el.name}>`)
      if (lt > this.pos) {
        const raw = s.slice(this.pos, lt)
        if (raw.includes(']]>')) this.fail("']]>' in character data")
        el.text += decodeEntities(raw, this.pos)
        this.pos = lt
      }
      if (s.startsWith('</', lt)) {
        this.pos = lt + 2
        const name = this.name()
        if (name !== el.name) this.fail(`end tag </${name}> does not match <${el.name}>`)
        this.skipWs()
        if (s[this.pos] !== '>') this.fail(`expected > to close </${name}>`)
        this.pos++
        return
      }
      if (s.startsWith('<![CDATA[', lt)) {
        const end = s.indexOf(']]>', lt + 9)
        if (end < 0) this.fail('unterminated CDATA section')
        el.text += s.slice(lt + 9, end)
        this.pos = end + 3
        continue
      }
      if (this.skipMisc()) continue
      el.children.push(this.element(depth + 1))
    }
  }
}

/** Parses a whole document; throws XmlSyntaxError on anything malformed or beyond the limits. */
export function parseXml (text: string, limits: Partial<XmlLimits> = {}): XmlElement {
  // XML 1.0 §2.2: control characters other than tab, CR and LF are not allowed anywhere.
  // eslint-disable-next-line no-control-regex
  const bad = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/.exec(text)
  if (bad !== null) throw new XmlSyntaxError(`invalid character U+${bad[0].charCodeAt(0).toString(16).padStart(4, '0')}`, bad.index)
  return new Parser(text, { ...DEFAULT_LIMITS, ...limits }).document()
}

/** First child element with that name, or undefined. */
export function child (el: XmlElement | undefined, name: string): XmlElement | undefined {
  return el?.children.find(c => c.name === name)
}

/** Trimmed text of the first child with that name, or undefined when absent. */
export function childText (el: XmlElement | undefined, name: string): string | undefined {
  const c = child(el, name)
  return c === undefined ? undefined : c.text.trim()
}
