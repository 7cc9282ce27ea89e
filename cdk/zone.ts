import { Construct } from 'constructs';
import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';

export interface ZoneProps {
  /** The private hosted zone that holds the writer and reader records. */
  zoneId: string;
  zoneName: string;
  /** Default: writer.<zoneName> and reader.<zoneName>. */
  writerName?: string;
  readerName?: string;
  /** Seconds; low, so clients follow a failover quickly. */
  ttl?: number;
}

/** The writer/reader records in a private hosted zone, and the right to change only those. */
export class WriterReaderZone extends Construct {
  readonly zoneId: string;
  readonly writerName: string;
  readonly readerName: string;
  readonly ttl: number;

  constructor(scope: Construct, id: string, props: ZoneProps) {
    super(scope, id);
    const zoneName = props.zoneName.replace(/\.$/, '').toLowerCase();
    this.zoneId = props.zoneId;
    this.writerName = (props.writerName ?? `writer.${zoneName}`).replace(/\.$/, '').toLowerCase();
    this.readerName = (props.readerName ?? `reader.${zoneName}`).replace(/\.$/, '').toLowerCase();
    this.ttl = props.ttl ?? 5;
  }

  /** PGVIGIL_ENDPOINTS.route53, as the handlers read it. */
  endpointsConfig() {
    return { zoneId: this.zoneId, writerName: this.writerName, readerName: this.readerName, ttl: this.ttl };
  }

  /** Change and read records in this zone only, and only the writer, reader and term records. */
  grantEndpointChanges(grantee: iam.IGrantable): void {
    const zoneArn = Stack.of(this).formatArn({ service: 'route53', region: '', account: '', resource: 'hostedzone', resourceName: this.zoneId });
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['route53:ChangeResourceRecordSets'],
        resources: [zoneArn],
        conditions: {
          'ForAllValues:StringEquals': {
            'route53:ChangeResourceRecordSetsNormalizedRecordNames': [this.writerName, this.readerName, `_pgvigil-term.${this.writerName}`],
            'route53:ChangeResourceRecordSetsRecordTypes': ['A', 'CNAME', 'TXT'],
            'route53:ChangeResourceRecordSetsActions': ['CREATE', 'UPSERT', 'DELETE'],
          },
        },
      }),
    );
    grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['route53:ListResourceRecordSets'], resources: [zoneArn] }));
  }
}
