import type { ActionDef } from './actionTypes.ts';
import { backup } from './backup.ts';
import { clone } from './clone.ts';
import { demote } from './demote.ts';
import { fence } from './fence.ts';
import { follow } from './follow.ts';
import { promote } from './promote.ts';
import { rewind } from './rewind.ts';
import { status } from './status.ts';

/** Every action the agent performs, by the name in `POST /v1/actions/<name>`. */
export const actionTable: Record<string, ActionDef> = { status, promote, fence, demote, follow, rewind, clone, backup } as Record<string, ActionDef>;
