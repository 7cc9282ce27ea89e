import { SSMClient } from '@aws-sdk/client-ssm';
import { cutWire, offlineClientConfig, type WireRequest, type WireResponse } from './sdkWire.ts';

/**
 * An SSM client cut off at the wire (test/support/sdkWire.ts), answering from `parameters` as
 * Parameter Store's JSON protocol would: GetParameter (SecureString values come back only with
 * WithDecryption), PutParameter (ParameterAlreadyExists unless Overwrite), DeleteParameter
 * (ParameterNotFound). `fail` answers a request with an error of that name instead, once each.
 * The SDK's own serializer and deserializer run; nothing leaves the process.
 */
export interface SsmWire {
  ssm: SSMClient;
  wire: WireRequest[];
  parameters: Map<string, { value: string; type: string; tier?: string }>;
  /** What each request asked, parsed: X-Amz-Target's operation and the JSON body. */
  calls(): Array<{ op: string; body: Record<string, unknown> }>;
  failNext(name: string, message: string, status?: number): void;
}

export function ssmWire(region = offlineClientConfig.region): SsmWire {
  const ssm = new SSMClient({ ...offlineClientConfig, region });
  const parameters = new Map<string, { value: string; type: string; tier?: string }>();
  const failures: Array<{ name: string; message: string; status: number }> = [];
  const json = (statusCode: number, body: unknown): WireResponse => ({ statusCode, headers: { 'content-type': 'application/x-amz-json-1.1' }, body: JSON.stringify(body) });
  const error = (name: string, message: string, status = 400) => json(status, { __type: name, message });
  const op = (req: WireRequest) => String(req.headers['x-amz-target'] ?? '').replace('AmazonSSM.', '');
  const wire = cutWire(ssm, (req) => {
    const failure = failures.shift();
    if (failure) return error(failure.name, failure.message, failure.status);
    const body = JSON.parse(req.body || '{}') as Record<string, any>;
    const name = String(body['Name']);
    switch (op(req)) {
      case 'GetParameter': {
        const p = parameters.get(name);
        if (!p) return error('ParameterNotFound', '');
        const value = p.type === 'SecureString' && body['WithDecryption'] !== true ? 'AQICAHh-ciphertext-not-decrypted' : p.value;
        return json(200, { Parameter: { Name: name, Type: p.type, Value: value, Version: 1, ARN: `arn:aws:ssm:${region}:123456789012:parameter${name}` } });
      }
      case 'PutParameter': {
        if (parameters.has(name) && body['Overwrite'] !== true) return error('ParameterAlreadyExists', 'The parameter already exists. To overwrite this value, set the overwrite option in the request to true.');
        parameters.set(name, { value: String(body['Value']), type: String(body['Type'] ?? parameters.get(name)?.type ?? 'String'), tier: body['Tier'] });
        return json(200, { Version: 1, Tier: body['Tier'] ?? 'Standard' });
      }
      case 'DeleteParameter':
        if (!parameters.delete(name)) return error('ParameterNotFound', '');
        return json(200, {});
      default:
        return error('InvalidAction', `not answered here: ${op(req)}`);
    }
  });
  return {
    ssm,
    wire,
    parameters,
    calls: () => wire.map((r) => ({ op: op(r), body: JSON.parse(r.body || '{}') as Record<string, unknown> })),
    failNext: (name, message, status = 400) => void failures.push({ name, message, status }),
  };
}
