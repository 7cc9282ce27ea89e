import { Command } from 'commander';

// pgvigil supports Node 20; the SDK's notice about its own future Node 22 floor is noise in a CLI.
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
import { registerUp } from './upCommand.ts';

const program = new Command('pgvigil')
  .description('PostgreSQL high availability with a serverless, event-sourced, auditable control plane')
  .showHelpAfterError('(run with --help for usage and examples)');
program.configureOutput({ outputError: (str, write) => write(`pgvigil: ${str}`) });
program.exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));

registerUp(program);

await program.parseAsync(process.argv);
