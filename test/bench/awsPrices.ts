/**
 * AWS on-demand prices, us-east-1, in USD, as the cost benchmark bills them. No free tier
 * is applied (it is per account, and other workloads may use it). Each figure says where
 * it is published and when it was read.
 */
export const awsPrices = {
  dynamodb: {
    // "Amazon DynamoDB pricing for on-demand capacity" (aws.amazon.com/dynamodb/pricing/on-demand), read 2026-11-24;
    // on-demand throughput was halved on 2024-11-01 to these figures.
    perMillionWriteUnits: 0.625,
    perMillionReadUnits: 0.125,
    // same page, "Data storage" (Standard table class), read 2026-11-24.
    perGbMonthStorage: 0.25,
    // same page, "Continuous backups (PITR)", read 2026-11-24.
    perGbMonthPitr: 0.2,
    // same page, "DynamoDB Streams": GetRecords calls made by Lambda triggers are free, read 2026-11-24.
    streamReadsByLambda: 0,
  },
  lambda: {
    // "AWS Lambda pricing" (aws.amazon.com/lambda/pricing), Arm, first 7.5 billion GB-s/month, read 2026-11-24.
    perGbSecondArm: 0.0000133334,
    // same page, requests, read 2026-11-24.
    perMillionRequests: 0.2,
  },
  sns: {
    // "Amazon SNS pricing" (aws.amazon.com/sns/pricing), standard topics, API requests (publishes), read 2026-11-24.
    perMillionPublishes: 0.5,
  },
  cloudwatch: {
    // "Amazon CloudWatch pricing" (aws.amazon.com/cloudwatch/pricing), standard-resolution alarm, per alarm metric-month, read 2026-11-24.
    perAlarmMonth: 0.1,
    // same page, custom metrics (first 10,000), per metric-month; EMF metrics count as custom metrics.
    perCustomMetricMonth: 0.3,
    // Alarms on a Metrics Insights query: not in the free tier (same page, free tier table, "Alarms"); priced
    // here as one alarm metric per series the query returns (pgvigil's return one each). The rate is not
    // confirmed: searched again 2026-12-02, the stored copy of the pricing page holds the free tier but not
    // the paid "Alarms" tab, and the Metrics Insights alarm guides (Create_Metrics_Insights_Alarm,
    // alarm-limits) give limits, no price. So no alarm was moved to a query to save metrics.
    perInsightsAlarmMonth: 0.1,
    // same page, "Dashboards", per dashboard-month beyond the first 3.
    perDashboardMonth: 3.0,
  },
  fixed: {
    // "AWS PrivateLink pricing" (aws.amazon.com/privatelink/pricing), interface endpoint per AZ-hour, read 2026-11-24.
    perInterfaceEndpointAzHour: 0.01,
    // "AWS Secrets Manager pricing" (aws.amazon.com/secrets-manager/pricing), per secret-month, read 2026-11-24.
    perSecretMonth: 0.4,
    // "AWS Systems Manager pricing" (aws.amazon.com/systems-manager/pricing), Parameter Store, per advanced
    // parameter-month. Standard parameters: "No additional charge" (SSM User Guide, "Managing parameter tiers",
    // read 2026-12-02). The 0.05 is the pricing page's figure as quoted there and in secondary copies
    // (read 2026-12-02); the stored copies of the pricing page itself did not hold the Parameter Store table.
    perAdvancedParameterMonth: 0.05,
    // "AWS Key Management Service pricing" (aws.amazon.com/kms/pricing), per customer managed key-month, read 2026-11-24.
    perKmsKeyMonth: 1.0,
    // "Amazon VPC pricing" (aws.amazon.com/vpc/pricing), NAT gateway per hour, and a public IPv4 address per hour.
    perNatGatewayHour: 0.045,
    perPublicIpv4Hour: 0.005,
  },
} as const;

/** A billing month as AWS's calculators count it: 730 hours. */
export const SECONDS_PER_MONTH = 730 * 3600;
