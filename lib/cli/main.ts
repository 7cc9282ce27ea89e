import { Command } from 'commander';

// pgvigil supports Node 20; the SDK's notice about its own future Node 22 floor is noise in a CLI.
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
import { registerChangePrimary } from './changePrimaryCommands.ts';
import { registerHistory } from './historyCommand.ts';
import { registerMaintenance } from './maintenanceCommands.ts';
import { registerStatus } from './statusCommand.ts';
import { registerUp } from './upCommand.ts';
import { registerGrow } from './growCommand.ts';
import { registerClone } from './cloneCommand.ts';
import { registerBackup } from './backupCommands.ts';
import { registerAbort } from './abortCommand.ts';
import { watchOutput } from './output.ts';

// `pgvigil history | head`: a closed output ends a command quietly, for every command at once.
watchOutput();

const program = new Command('pgvigil')
  .description('PostgreSQL high availability with a serverless, event-sourced, auditable control plane')
  .showHelpAfterError('(run with --help for usage and examples)')
  .addHelpText(
    'after',
    '\nLocal mode finds the cluster through --workdir (default .pgvigil, where `pgvigil up` runs);\nAWS mode through --table, --region and --cluster (operator commands go to --decide-function).\n\nExample:\n  $ pgvigil up &  pgvigil status  &&  pgvigil switchover --to pg2  &&  pgvigil history --since 10m',
  );
program.configureOutput({ outputError: (str, write) => write(`pgvigil: ${str}`) });
program.exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));

registerUp(program);
registerStatus(program);
registerHistory(program);
registerChangePrimary(program);
registerAbort(program);
registerMaintenance(program);
registerGrow(program);
registerClone(program);
registerBackup(program);

await program.parseAsync(process.argv);
