// Load the config: parse YAML keeping positions → validate the structure (every error) → cross-reference
// and semantic checks (every error) → normalize → freeze. Nothing here throws for a bad file: problems
// come back as ConfigIssues located at file:line:column, each with a hint when there is one to give.
import { readFile } from 'node:fs/promises'
import { basename, dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ConfigSchema, type AppConfig, type RawConfig } from './schema.js'
import type { ConfigIssue } from './issues.js'
import { locate, parseYaml, pointer, toData, type ParsedYaml, type Path } from './yaml-doc.js'
import { fillUnionDefaults, numbersToText } from './schema-walk.js'
import { validateSchema } from './validate-schema.js'
import { isObj, type Reporter } from './report.js'
import { checkAdvertisements, checkDuplicateIds, checkSteps } from './check-refs.js'
import { checkMachines } from './check-machines.js'
import { checkDhcp, checkLocalAddresses, checkPorts, checkServer } from './check-network.js'
import { checkFiles } from './check-files.js'
import { checkUsage } from './check-usage.js'
import { finalize, type InterfaceLister } from './finalize.js'

export { ConfigInvalidError } from './errors.js'

export type LoadResult =
  | { ok: true, config: AppConfig, warnings: ConfigIssue[] }
  | { ok: false, errors: ConfigIssue[], warnings: ConfigIssue[] }

export interface LoadOptions {
  /** base for relative paths in the file (default: process.cwd(), as for any command-line tool) */
  cwd?: string
  /** "now" for schedule checks (an already expired advertisement is a warning) */
  now?: Date
  /** where server.address "auto" looks (default: os.networkInterfaces) */
  networkInterfaces?: InterfaceLister
  /** check against this machine: WIMs in the image store, the TFTP root, local addresses (default true) */
  checkFiles?: boolean
}

/** The package root seen from this module's directory: src/config/ from sources, dist/src/config/ once compiled. */
export function packageRootFrom (moduleDir: string): string {
  const up2 = resolve(moduleDir, '..', '..')
  return basename(up2) === 'dist' ? dirname(up2) : up2    // tsconfig: rootDir ".", outDir "dist"
}

/** Absolute path of the embedded default config shipped in the package (config/appliance.yaml). */
export const EMBEDDED_CONFIG_PATH = resolve(packageRootFrom(dirname(fileURLToPath(import.meta.url))), 'config', 'appliance.yaml')

export async function loadConfigFile (path: string, opts: LoadOptions = {}): Promise<LoadResult> {
  const file = resolve(path)
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    const hint = code === 'ENOENT' ? `no such file; the embedded default is ${EMBEDDED_CONFIG_PATH}` : undefined
    return { ok: false, errors: [{ file, line: 0, column: 0, path: '', message: `cannot read config: ${code ?? String(err)}`, hint }], warnings: [] }
  }
  return await loadConfigText(text, file, opts)
}

export async function loadConfigText (text: string, file: string, opts: LoadOptions = {}): Promise<LoadResult> {
  const source = file.startsWith('<') ? file : resolve(file)
  const parsed = parseYaml(text, source)
  const errors = [...parsed.errors]
  const warnings = [...parsed.warnings]
  if (errors.length > 0) return { ok: false, errors, warnings }

  numbersToText(parsed.doc, ConfigSchema)
  const js = toData(parsed, source)
  if ('issue' in js) return { ok: false, errors: [...errors, js.issue], warnings }
  const data: unknown = js.data ?? {}             // an empty file is a config of defaults
  if (!isObj(data)) {
    errors.push({ file: source, line: 1, column: 1, path: '', message: 'the config must be a map of settings (server:, dhcp:, images: …)' })
    return { ok: false, errors, warnings }
  }
  const r = reporter(parsed, source, errors, warnings)
  fillUnionDefaults(data, ConfigSchema)
  for (const i of validateSchema(data)) r.error(i.path, i.message, i.hint, i.at)

  const cwd = opts.cwd ?? process.cwd()
  checkServer(data, r)
  checkPorts(data, r)
  checkDhcp(data, r)
  checkDuplicateIds(data, r)
  checkAdvertisements(data, r, opts.now ?? new Date())
  checkSteps(data, r)
  checkMachines(data, r)
  checkUsage(data, r)
  if (opts.checkFiles !== false) {
    await checkFiles(data, r, cwd)
    checkLocalAddresses(data, r, opts.networkInterfaces)
  }

  sortIssues(errors)
  sortIssues(warnings)
  if (errors.length > 0) return { ok: false, errors, warnings }
  const { config, autoWarning } = finalize(data as RawConfig, { source, cwd, networkInterfaces: opts.networkInterfaces })
  if (autoWarning !== undefined) r.warn(['server', 'address'], autoWarning, 'set server.address to the address clients reach')
  return { ok: true, config, warnings }
}

function reporter (parsed: ParsedYaml, file: string, errors: ConfigIssue[], warnings: ConfigIssue[]): Reporter {
  const issue = (path: Path, message: string, hint: string | undefined, at: 'value' | 'key'): ConfigIssue => {
    const { line, column } = locate(parsed, path, at)
    const i: ConfigIssue = { file, line, column, path: pointer(path), message }
    if (hint !== undefined) i.hint = hint
    return i
  }
  return {
    error: (path, message, hint, at = 'value') => { errors.push(issue(path, message, hint, at)) },
    warn: (path, message, hint, at = 'value') => { warnings.push(issue(path, message, hint, at)) },
    lineOf: (path, at = 'key') => locate(parsed, path, at).line
  }
}

/** File order, so the admin reads them top to bottom; stable for issues on one line. */
function sortIssues (list: ConfigIssue[]): void {
  list.sort((a, b) => a.line - b.line || a.column - b.column)
}
