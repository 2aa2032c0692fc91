// Runs functions of boot/pe/steps-boot.sh on the host against a directory standing in for the PE's /mnt/target:
// in a mount namespace of its own (unshare -m; a tmpfs over /mnt holds /mnt/target, bound to the directory), so
// nothing of the host's /mnt is touched. No set -e: the PE's runner does not use it (runner.sh), and the
// functions must work without it.
import { join } from 'node:path'
import { sh } from '../../src/lab/netns.js'

const STEPS_BOOT = join(import.meta.dirname, '../../boot/pe/steps-boot.sh')
const STEPS = join(import.meta.dirname, '../../boot/pe/steps.sh')

/**
 * `commands` (shell, may call steps-boot.sh's functions) with `dir` as /mnt/target; their standard output.
 * `step`: the step's JSON, which the functions read with steps.sh's own `get` (taken from that file: sourcing it
 * whole would source the PE's absolute paths).
 */
export async function inTarget (dir: string, commands: string, step: object = {}): Promise<string> {
  const script = `mount -t tmpfs tmpfs /mnt && mkdir -p /mnt/target /mnt/run && mount -o bind "$1" /mnt/target || exit 97
RUN=/mnt/run
STEP=$RUN/step.json
printf '%s' "$4" > "$STEP"
eval "$(grep '^get () ' "$3")"
. "$2"
${commands}`
  return (await sh(['unshare', '-m', '--propagation', 'private', 'sh', '-c', script, 'sh', dir, STEPS_BOOT, STEPS, JSON.stringify(step)])).stdout
}
