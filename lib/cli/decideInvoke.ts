import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { z } from 'zod';
import type { CommandWithoutObservations } from '../domain/commands.ts';
import { DecisionEvent } from '../domain/events.ts';
import { parseWith } from '../domain/parse.ts';

/** What the decide function is sent for an operator command (AWS mode). */
export interface DecideRequest {
  source: 'pgvigil.cli';
  cluster: string;
  command: CommandWithoutObservations;
}

/** The decide function's answer. A refusal changes nothing; `refused` absent counts as one. */
const DecideAnswer = z.object({
  ok: z.boolean(),
  reason: z.string().optional(),
  refused: z.boolean().optional(),
  seq: z.number().int().optional(),
  events: z.array(DecisionEvent).optional(),
});

export type SubmitOutcome =
  | { ok: true; seq: number; events: DecisionEvent[] }
  | { ok: false; reason: string; refused: boolean };

export function decideRequest(cluster: string, command: CommandWithoutObservations): DecideRequest {
  return { source: 'pgvigil.cli', cluster, command };
}

/** Parse what the decide function answered; anything unexpected is a failure, not a refusal. */
export function parseDecideAnswer(text: string, functionName: string): SubmitOutcome {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, refused: false, reason: `decide function ${functionName} answered something that is not JSON: ${text.slice(0, 200)}` };
  }
  const parsed = parseWith(DecideAnswer, json, `answer of decide function ${functionName}`);
  if (!parsed.ok) return { ok: false, refused: false, reason: parsed.reason };
  const a = parsed.value;
  if (!a.ok) return { ok: false, refused: a.refused ?? true, reason: a.reason ?? 'refused without a reason' };
  return { ok: true, seq: a.seq ?? 0, events: a.events ?? [] };
}

/** AWS mode: operator commands go to the decide function, which decides, appends and reacts. */
export async function invokeDecide(lambda: LambdaClient, functionName: string, request: DecideRequest): Promise<SubmitOutcome> {
  const out = await invokeFunction(lambda, functionName, request);
  return out.ok ? parseDecideAnswer(out.text, functionName) : { ok: false, refused: false, reason: out.reason };
}

/** Invoke a function with a JSON payload and answer its text; a function error or a failed call is a reason. */
export async function invokeFunction(lambda: LambdaClient, functionName: string, payload: unknown): Promise<{ ok: true; text: string } | { ok: false; reason: string }> {
  try {
    const out = await lambda.send(new InvokeCommand({ FunctionName: functionName, Payload: Buffer.from(JSON.stringify(payload)) }));
    const text = out.Payload ? out.Payload.transformToString() : '';
    if (out.FunctionError) return { ok: false, reason: `decide function ${functionName} failed (${out.FunctionError}): ${text.slice(0, 300)}` };
    return { ok: true, text };
  } catch (e) {
    const err = e as Error;
    return { ok: false, reason: `invoking decide function ${functionName} failed: ${err.name}: ${err.message}` };
  }
}
