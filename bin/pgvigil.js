#!/usr/bin/env node
// The installed `pgvigil` command: run the TypeScript CLI through tsx's loader.
import { register } from 'tsx/esm/api';
register();
await import('../lib/cli/main.ts');
