import { pathToFileURL } from 'node:url';
import { z } from 'zod';

/**
 * One Lambda "container", as its own process: it loads a handler module once (module state,
 * such as the handlers' cached clients, lives as long as the container, as on Lambda) and runs
 * one invocation at a time, sent over IPC by the pool (lambdaContainers.ts). The handler is
 * the module's own `handler` export, given the event and a context with the time it has left;
 * nothing of its logic is here. Run: node --import tsx lambdaContainer.ts <module path>.
 */
const Invocation = z.object({ requestId: z.string().min(1), functionName: z.string().min(1), deadline: z.number(), event: z.unknown() });

type Handler = (event: unknown, context: { awsRequestId: string; functionName: string; getRemainingTimeInMillis(): number }) => Promise<unknown>;

const modulePath = process.argv[2];
if (!modulePath || !process.send) {
  process.stderr.write('usage: a child process with IPC: lambdaContainer.ts <handler module>\n');
  process.exit(2);
}
const mod = (await import(pathToFileURL(modulePath).href)) as { handler?: unknown };
if (typeof mod.handler !== 'function') throw new Error(`${modulePath} exports no handler function`);
const handler = mod.handler as Handler;

process.on('message', (raw: unknown) => {
  const m = Invocation.safeParse(raw);
  if (!m.success) {
    process.send!({ requestId: (raw as { requestId?: string } | null)?.requestId ?? '', error: `bad invocation: ${m.error.message}` });
    return;
  }
  const { requestId, functionName, deadline, event } = m.data;
  const context = { awsRequestId: requestId, functionName, getRemainingTimeInMillis: () => deadline - Date.now() };
  handler(event, context).then(
    (answer) => process.send!({ requestId, answer: answer ?? null }),
    (e: unknown) => process.send!({ requestId, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) }),
  );
});
process.send({ ready: true });
