import { agentKeyParameterEvent } from '../lib/control/agentKeyParameterEvent.ts';
import { ssmClient } from '../lib/host/awsParameters.ts';
import { jsonLog } from '../lib/log.ts';

/**
 * The onEvent handler of the agent key parameters' custom resource (cdk/agentKeyParameter.ts):
 * makes, keeps or deletes one node's SecureString key; answers its name only, never the key.
 */
let ssm: ReturnType<typeof ssmClient> | null = null;

export const handler = async (event: unknown) => {
  ssm ??= ssmClient(process.env['AWS_REGION']);
  return agentKeyParameterEvent(event, ssm, jsonLog('agent-key-parameter'));
};
