import { PublishCommand, type MessageAttributeValue, type SNSClient } from '@aws-sdk/client-sns';

export interface SnsAlert {
  subject: string;
  body: string;
  /** Filterable by subscriptions (e.g. severity, cluster); string values only. */
  attributes?: Record<string, string>;
}

export type PublishResult = { ok: true; messageId: string } | { ok: false; reason: string };

const SUBJECT_MAX = 100;
/** SNS takes 256 KiB per message; leave room for the attributes. */
const BODY_MAX_BYTES = 250 * 1024;

/**
 * SNS rejects a subject that is longer than 100 characters, has line breaks or control
 * characters, or is not ASCII: e-mail subjects are the first thing an on-call reads, so
 * keep what can be kept (→ becomes ->) rather than fail the alert.
 */
export function sanitizeSubject(subject: string): string {
  const ascii = subject
    .replace(/→/g, '->')
    .replace(/[‘’]/g, "'")
    .replace(/[“”]/g, '"')
    .replace(/[–—]/g, '-')
    .normalize('NFKD')
    .replace(/[^\x20-\x7e]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  const text = ascii.length > 0 ? ascii : 'pgvigil alert';
  return text.length <= SUBJECT_MAX ? text : `${text.slice(0, SUBJECT_MAX - 3).trimEnd()}...`;
}

function truncateBody(body: string): string {
  if (Buffer.byteLength(body, 'utf8') <= BODY_MAX_BYTES) return body;
  const note = '\n[truncated: the full record is in the decision log]';
  let cut = Buffer.from(body, 'utf8').subarray(0, BODY_MAX_BYTES - Buffer.byteLength(note)).toString('utf8');
  // A cut inside a multi-byte character decodes to U+FFFD: drop it.
  cut = cut.replace(/\uFFFD$/, '');
  return cut + note;
}

function attributeValues(attributes: Record<string, string>): Record<string, MessageAttributeValue> | { reason: string } {
  const out: Record<string, MessageAttributeValue> = {};
  for (const [name, value] of Object.entries(attributes)) {
    if (!/^[A-Za-z0-9_.-]{1,256}$/.test(name) || name.startsWith('AWS.') || name.startsWith('Amazon.')) {
      return { reason: `sns: attribute name ${JSON.stringify(name)}: use letters, digits, _ - . (not starting with AWS. or Amazon.)` };
    }
    if (value.length === 0) return { reason: `sns: attribute ${name}: give a non-empty value or leave it out` };
    out[name] = { DataType: 'String', StringValue: value };
  }
  return out;
}

/** Publish one alert to the topic. Errors come back as a reason; the body is never logged here. */
export async function publishAlert(sns: SNSClient, topicArn: string, alert: SnsAlert): Promise<PublishResult> {
  const attributes = attributeValues(alert.attributes ?? {});
  if ('reason' in attributes && typeof attributes.reason === 'string') return { ok: false, reason: attributes.reason };
  try {
    const out = await sns.send(
      new PublishCommand({
        TopicArn: topicArn,
        Subject: sanitizeSubject(alert.subject),
        Message: truncateBody(alert.body),
        MessageAttributes: attributes as Record<string, MessageAttributeValue>,
      }),
    );
    return { ok: true, messageId: out.MessageId ?? '' };
  } catch (e) {
    const err = e as Error;
    return { ok: false, reason: `sns: publish to ${topicArn} failed: ${err.name}: ${err.message}` };
  }
}
