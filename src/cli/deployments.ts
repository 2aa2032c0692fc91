// `netboot deployments list | show ID | events ID` through the daemon's admin API.
import type { CliCommand, CliIO } from './command.js'
import type { Deployment, DeploymentEvent } from '../store/types.js'
import { COMMON_OPTIONS, connect, fields, parseAdminArgs, table } from '../http/cli-support.js'

const usage = `usage: netboot deployments list [--json]
       netboot deployments show ID [--json]
       netboot deployments events ID [--json]

Deployments: one per PXE boot the policy sent to the PE (advertised → booting → running → succeeded | failed).
Asks the running daemon (\`netboot serve\`).
${COMMON_OPTIONS}`

type Shown = Omit<Deployment, 'tokenHash'>

function step (d: Shown): string {
  return d.currentStep === undefined ? `-/${d.totalSteps}` : `${d.currentStep + 1}/${d.totalSteps}`
}

export function deploymentTable (list: Shown[]): string[] {
  return table(['ID', 'MAC', 'ADVERTISEMENT', 'TASK SEQUENCE', 'STATE', 'STEP', 'PROGRESS', 'UPDATED'],
    list.map(d => [d.id, d.mac, d.advertisementId, d.taskSequenceId, d.state, step(d), d.progress === undefined ? '' : `${d.progress}%`, d.updatedAt]))
}

export function deploymentFields (d: Shown): string[] {
  return fields([
    ['id', d.id], ['mac', d.mac], ['advertisement', d.advertisementId], ['task sequence', d.taskSequenceId],
    ['purpose', d.purpose], ['state', d.state], ['step', step(d)], ['progress', d.progress === undefined ? undefined : `${d.progress}%`],
    ['created', d.createdAt], ['updated', d.updatedAt], ['ended', d.endedAt], ['token expires', d.tokenExpiresAt], ['error', d.error]
  ])
}

export function eventTable (list: DeploymentEvent[]): string[] {
  return table(['SEQ', 'AT', 'TYPE', 'STEP', 'MESSAGE'],
    list.map(e => [String(e.seq), e.at, e.type, e.step === undefined ? '' : String(e.step + 1),
      [e.progress === undefined ? '' : `${e.progress}%`, (e.message ?? '').split('\n')[0]].filter(Boolean).join(' ')]))
}

async function run (argv: string[], io: CliIO): Promise<number> {
  const a = parseAdminArgs(argv)
  const verbs = ['list', 'show', 'events']
  if (typeof a === 'string' || a.verb === undefined || !verbs.includes(a.verb) || a.pos.length !== (a.verb === 'list' ? 0 : 1)) {
    io.err(`netboot deployments: ${typeof a === 'string' ? a : a.verb === undefined ? 'give a verb' : `wrong use of '${a.verb}'`}`)
    io.err(usage)
    return 2
  }
  const api = await connect(a)
  const id = encodeURIComponent(a.pos[0] ?? '')
  if (a.verb === 'list') {
    const list = await api.call<Shown[]>('GET', '/api/v1/deployments')
    if (a.json) io.out(JSON.stringify(list, null, 2))
    else if (list.length === 0) io.out('no deployments yet')
    else for (const l of deploymentTable(list)) io.out(l)
  } else if (a.verb === 'show') {
    const d = await api.call<Shown>('GET', `/api/v1/deployments/${id}`)
    if (a.json) io.out(JSON.stringify(d, null, 2))
    else {
      for (const l of deploymentFields(d)) io.out(l)
      if (d.logTail !== undefined && d.logTail !== '') { io.out('log tail:'); for (const l of d.logTail.trimEnd().split('\n').slice(-20)) io.out(`  ${l}`) }
    }
  } else {
    const ev = await api.call<DeploymentEvent[]>('GET', `/api/v1/deployments/${id}/events`)
    if (a.json) io.out(JSON.stringify(ev, null, 2))
    else for (const l of eventTable(ev)) io.out(l)
  }
  return 0
}

export const command: CliCommand = {
  name: 'deployments',
  summary: 'list deployments, show one and its events',
  usage,
  run
}
