import * as iam from 'aws-cdk-lib/aws-iam';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type { IGrantable } from 'aws-cdk-lib/aws-iam';
import type { ClusterSpec } from '../lib/domain/spec.ts';
import { claimsPartition } from '../lib/store/claims.ts';
import { leasePartition, observationsPartition } from '../lib/store/partitions.ts';

/**
 * Item actions on the store, only in the given partitions (dynamodb:LeadingKeys; the partition
 * key is all IAM can see of an item's key). Every request names exactly one partition, so
 * ForAllValues never meets an empty set here.
 */
export function itemStatement(table: dynamodb.ITable, actions: string[], partitions: string[], extra?: Record<string, Record<string, string>>): iam.PolicyStatement {
  return new iam.PolicyStatement({
    actions,
    resources: [table.tableArn],
    conditions: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': partitions }, ...(extra ?? {}) },
  });
}

export interface StoreWriters {
  probe: IGrantable;
  decide: IGrantable;
  notify: IGrantable;
  /** Reads the log for the intent it carries out, writes nothing (its result goes to decide). */
  act: IGrantable;
}

/**
 * Each handler's store access by trust domain (lib/store/partitions.ts): the probe writes
 * observations only, decide decisions, snapshots and its hand-off claims, notify its alert
 * claims. Reads and writes are separate statements, so a template test can read each write set.
 * No Scan, no DeleteItem, no batch or transaction writes: no handler makes them.
 */
export function grantStoreAccess(table: dynamodb.ITable, fns: StoreWriters, clusters: readonly ClusterSpec[]): void {
  const each = (f: (c: ClusterSpec) => string[]) => clusters.flatMap(f);
  const log = each((c) => [c.cluster]);
  const observations = each((c) => [observationsPartition(c.cluster)]);
  const claims = each((c) => [claimsPartition(c.cluster)]);
  const leases = each((c) => c.nodes.map((n) => leasePartition(c.cluster, n.name)));
  const read = ['dynamodb:GetItem', 'dynamodb:Query'];
  const add = (fn: IGrantable, st: iam.PolicyStatement) => fn.grantPrincipal.addToPrincipalPolicy(st);

  // The probe folds the log (to know the primary), resumes from its observations, reads leases.
  add(fns.probe, itemStatement(table, read, [...log, ...observations, ...leases]));
  add(fns.probe, itemStatement(table, ['dynamodb:PutItem'], observations));

  // decide reads the log, the observations and its claims; appends decisions and snapshots.
  add(fns.decide, itemStatement(table, read, [...log, ...observations, ...claims]));
  add(fns.decide, itemStatement(table, ['dynamodb:PutItem'], log));
  add(fns.decide, itemStatement(table, ['dynamodb:PutItem', 'dynamodb:UpdateItem'], claims));

  // act reads the pending intent from the log, and nothing else.
  add(fns.act, itemStatement(table, read, log));

  // notify reads the decisions it publishes and claims each alert once.
  add(fns.notify, itemStatement(table, read, [...log, ...claims]));
  add(fns.notify, itemStatement(table, ['dynamodb:PutItem', 'dynamodb:UpdateItem'], claims));
}
