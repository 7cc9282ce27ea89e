import { z } from 'zod';
import { parseWith, type Parsed } from '../domain/parse.ts';

/** Where the event store lives: a DynamoDB table on AWS, or on dynalite when an endpoint is given. */
export const StoreConfig = z
  .object({
    table: z.string().regex(/^[a-zA-Z0-9_.-]{3,255}$/, 'give a DynamoDB table name: 3-255 letters, digits, _ . or -'),
    region: z.string().min(1, 'give an AWS region, e.g. us-east-1').default('us-east-1'),
    /** Set for dynalite (local mode), e.g. http://127.0.0.1:4567; leave unset for AWS DynamoDB. */
    endpoint: z.string().url('give the endpoint as a URL, e.g. http://127.0.0.1:4567').optional(),
  })
  .strict();
export type StoreConfig = z.infer<typeof StoreConfig>;
export type StoreConfigInput = z.input<typeof StoreConfig>;

export function parseStoreConfig(input: unknown): Parsed<StoreConfig> {
  return parseWith(StoreConfig, input, 'store config');
}
