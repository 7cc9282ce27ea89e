/** Run `step` every `everyMs` until Ctrl-C (or SIGTERM); the step in flight finishes first. */
export async function untilInterrupted(step: () => Promise<void>, everyMs: number): Promise<void> {
  let stop = false;
  let wake: (() => void) | null = null;
  const onSignal = () => {
    stop = true;
    wake?.();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    while (!stop) {
      await step();
      if (!stop) await new Promise<void>((r) => ((wake = r), setTimeout(r, everyMs)));
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** Wait until `until` (ms since epoch), or Ctrl-C: answers false when interrupted. */
export async function sleepUntil(until: number): Promise<boolean> {
  let interrupted = false;
  let wake: (() => void) | null = null;
  const onSignal = () => {
    interrupted = true;
    wake?.();
  };
  process.once('SIGINT', onSignal);
  try {
    while (!interrupted && Date.now() < until) {
      await new Promise<void>((r) => ((wake = r), setTimeout(r, Math.min(1_000, Math.max(0, until - Date.now())))));
    }
  } finally {
    process.off('SIGINT', onSignal);
  }
  return !interrupted;
}
