import type { z } from 'zod';
import type { ActionDef } from './actionTypes.ts';
import { backup } from './backup.ts';
import { clone } from './clone.ts';
import { checkpoint } from './checkpoint.ts';
import { demote } from './demote.ts';
import { fence } from './fence.ts';
import { follow } from './follow.ts';
import { promote } from './promote.ts';
import { rewind } from './rewind.ts';
import { start } from './start.ts';
import { status } from './status.ts';
import type { AgentAction, answers } from './wire.ts';

/** One row per action of the wire contract, each answering with that action's answer schema. */
const actions = { status, promote, fence, demote, checkpoint, follow, rewind, clone, backup, start } satisfies { [A in AgentAction]: ActionDef<z.ZodType, (typeof answers)[A]> };
export type Actions = typeof actions;

/** Every action the agent performs, by the name in `POST /v1/actions/<name>`. */
export const actionTable: Readonly<Record<string, ActionDef>> = actions;
