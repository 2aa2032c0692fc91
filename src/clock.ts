// Time is injected so schedules, lease expiry and deployment timeouts are testable.
export interface Clock {
  now (): Date
}

export const systemClock: Clock = { now: () => new Date() }

export function fixedClock (iso: string | Date): Clock & { set (iso: string | Date): void, advance (ms: number): void } {
  let t = new Date(iso).getTime()
  return {
    now: () => new Date(t),
    set: (v) => { t = new Date(v).getTime() },
    advance: (ms) => { t += ms }
  }
}
