// A lab network: one network namespace holding a bridge, the taps VMs attach to and veth links to side
// namespaces (the stand-in site DHCP server). Everything is named PREFIX<random>… so parallel tests and
// colleagues never collide, and close() deletes all of it (namespaces, links, processes it spawned).
import { execFile, execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { promisify } from 'node:util'

const exec = promisify(execFile)

export interface Lab {
  /** the main namespace (bridge, taps, the appliance) */
  ns: string
  /** the bridge's name inside ns */
  bridge: string
  /** first three octets of the lab's /24, e.g. "10.77.12" */
  subnet: string
  /** the bridge's own address (where the appliance listens): SUBNET.1 */
  address: string
  /** short unique id, used in names */
  id: string
  /** create a tap in ns, attached to the bridge; returns its name */
  addTap (): Promise<string>
  /** a side namespace linked to the bridge with a veth, address SUBNET.HOST/24 (+ fd00:…::HOST/64) */
  addHost (name: string, host: number): Promise<{ ns: string, address: string, ifname: string }>
  /** run a command in ns (or another lab namespace); rejects with its stderr on failure */
  run (cmd: string[], ns?: string): Promise<{ stdout: string, stderr: string }>
  /** spawn a long-running process in ns; it is killed (by PID) on close() */
  spawnInNs (cmd: string[], opts?: SpawnOptions & { ns?: string }): ChildProcess
  /** kill the lab's processes by PID, delete its namespaces. Safe to call twice. */
  close (): Promise<void>
}

export async function sh (cmd: string[]): Promise<{ stdout: string, stderr: string }> {
  try {
    return await exec(cmd[0] as string, cmd.slice(1), { maxBuffer: 64 << 20 })
  } catch (err) {
    const e = err as Error & { stderr?: string }
    throw new Error(`${cmd.join(' ')}: ${(e.stderr ?? e.message).trim()}`)
  }
}

/** Kill a child and its process group politely, then for good. Resolves when it has exited. */
export async function killChild (child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return
  const exited = new Promise<void>(resolve => child.once('exit', () => { resolve() }))
  try { child.kill('SIGTERM') } catch {}
  const t = setTimeout(() => { try { child.kill('SIGKILL') } catch {} }, graceMs)
  await exited
  clearTimeout(t)
}

export async function createLab (opts: { prefix?: string } = {}): Promise<Lab> {
  const prefix = opts.prefix ?? 'nbe-'
  const id = randomBytes(3).toString('hex')
  const base = `${prefix}${id}`                     // e.g. nbe-a1b2c3: 10 chars; interface names stay < 16
  const ns = base
  const bridge = `${base}b`
  const subnet = `10.${64 + (parseInt(id.slice(0, 2), 16) % 64)}.${parseInt(id.slice(2, 4), 16)}`
  const namespaces = [ns]
  const children: ChildProcess[] = []
  let taps = 0
  const run = async (cmd: string[], where = ns): Promise<{ stdout: string, stderr: string }> => await sh(['ip', 'netns', 'exec', where, ...cmd])

  await sh(['ip', 'netns', 'add', ns])
  // If the test process is killed (tap timeout, Ctrl-C) teardowns do not run: delete what we made anyway.
  const onExit = (): void => {
    for (const c of children) { try { if (c.pid !== undefined && c.exitCode === null) process.kill(c.pid, 'SIGKILL') } catch {} }
    for (const n of [...namespaces].reverse()) { try { execFileSync('ip', ['netns', 'del', n], { stdio: 'ignore' }) } catch {} }
  }
  // Someone else handling the signal (netboot lab cleans up itself) goes first; otherwise clean up and die of it.
  const onSignal = (sig: NodeJS.Signals): void => {
    if (process.listenerCount(sig) > 0) return
    onExit(); process.kill(process.pid, sig)
  }
  process.once('exit', onExit)
  process.once('SIGTERM', onSignal)
  process.once('SIGINT', onSignal)
  const lab: Lab = {
    ns,
    bridge,
    subnet,
    address: `${subnet}.1`,
    id,
    run,
    async addTap () {
      const tap = `${base}t${taps++}`
      await run(['ip', 'tuntap', 'add', 'dev', tap, 'mode', 'tap'])
      await run(['ip', 'link', 'set', tap, 'master', bridge])
      await run(['ip', 'link', 'set', tap, 'up'])
      return tap
    },
    async addHost (name, host) {
      const side = `${base}-${name}`
      const a = `${base}v${host}`                  // bridge end, in ns
      const b = `${base}h${host}`                  // host end, in side
      await sh(['ip', 'netns', 'add', side])
      namespaces.push(side)
      await run(['ip', 'link', 'add', a, 'type', 'veth', 'peer', 'name', b])
      await run(['ip', 'link', 'set', b, 'netns', side])
      await run(['ip', 'link', 'set', a, 'master', bridge])
      await run(['ip', 'link', 'set', a, 'up'])
      await run(['ip', 'link', 'set', 'lo', 'up'], side)
      await run(['ip', 'addr', 'add', `${subnet}.${host}/24`, 'dev', b], side)
      await run(['ip', '-6', 'addr', 'add', `fd00:${id.slice(0, 4)}::${host}/64`, 'dev', b, 'nodad'], side)
      await run(['ip', 'link', 'set', b, 'up'], side)
      return { ns: side, address: `${subnet}.${host}`, ifname: b }
    },
    spawnInNs (cmd, o = {}) {
      const { ns: where = ns, ...rest } = o
      const child = spawn('ip', ['netns', 'exec', where, ...cmd], { stdio: 'ignore', ...rest })
      children.push(child)
      child.on('error', () => {})
      return child
    },
    async close () {
      process.removeListener('exit', onExit)
      process.removeListener('SIGTERM', onSignal)
      process.removeListener('SIGINT', onSignal)
      await Promise.all(children.splice(0).map(async c => { await killChild(c) }))
      for (const n of namespaces.splice(0).reverse()) {
        // processes we did not spawn ourselves cannot be in our fresh namespaces; delete them
        await sh(['ip', 'netns', 'del', n]).catch(() => {})
      }
    }
  }
  try {
    await run(['ip', 'link', 'set', 'lo', 'up'])
    await run(['ip', 'link', 'add', bridge, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0'])
    await run(['ip', 'addr', 'add', `${lab.address}/24`, 'dev', bridge])
    await run(['ip', '-6', 'addr', 'add', `fd00:${id.slice(0, 4)}::1/64`, 'dev', bridge, 'nodad'])
    await run(['ip', 'link', 'set', bridge, 'up'])
    // A default route on the bridge: without any route Linux answers a send to 255.255.255.255 (proxyDHCP
    // replies to clients without an address) with ENETUNREACH. The namespace has no other way out.
    await run(['ip', 'route', 'add', 'default', 'dev', bridge])
  } catch (err) {
    await lab.close()
    throw err
  }
  return lab
}
