// The same stack as template.yaml, as a CDK v2 app: the same resources, permissions, alarms,
// queries and dashboard, from the same function binaries (`cargo lambda build --release`).
// tests/tests/template_invariants.rs holds both to the same rules and compares them.
import * as path from "path";
import {
  Aws,
  CfnOutput,
  Duration,
  Fn,
  RemovalPolicy,
  Stack,
  StackProps,
  aws_cloudwatch as cloudwatch,
  aws_cloudwatch_actions as actions,
  aws_dynamodb as dynamodb,
  aws_iam as iam,
  aws_kms as kms,
  aws_lambda as lambda,
  aws_logs as logs,
  aws_scheduler as scheduler,
  aws_ses as ses,
  aws_sns as sns,
  aws_sns_subscriptions as subs,
  aws_sqs as sqs,
} from "aws-cdk-lib";
import { NagSuppressions } from "cdk-nag";
import { Construct } from "constructs";
import { SesLedgerSettings } from "./config";
import { Json, SamTemplate, resolveWithSettings, resourcesOfType } from "./sam-template";

export interface SesLedgerStackProps extends StackProps {
  settings: SesLedgerSettings;
  /** Folder with ingest/bootstrap and alarm/bootstrap (cargo lambda build's target/lambda). */
  codeDir: string;
  /** template.yaml, for the queries, the dashboard and the outputs' descriptions. */
  sam: SamTemplate;
}

const ALL_SES_EVENT_TYPES = ["send", "reject", "bounce", "complaint", "delivery", "open", "click", "renderingFailure", "deliveryDelay", "subscription"];

export class SesLedgerStack extends Stack {
  constructor(scope: Construct, id: string, props: SesLedgerStackProps) {
    super(scope, id, props);
    const s = props.settings;
    const sam = props.sam;
    const account = { StringEquals: { "aws:SourceAccount": Aws.ACCOUNT_ID } };

    // One customer-managed key for both topics: SES and CloudWatch alarms must be able to use it,
    // which an AWS-managed key's fixed policy never allows.
    const topicKey = new kms.Key(this, "TopicKey", {
      description: `ses-ledger ${Aws.STACK_NAME}: encrypts the SES event topic and the alert topic`,
      enableKeyRotation: true,
      pendingWindow: Duration.days(7),
      removalPolicy: RemovalPolicy.DESTROY,
      policy: new iam.PolicyDocument({
        statements: [
          new iam.PolicyStatement({
            sid: "AccountAdministersTheKeyThroughIam",
            principals: [new iam.AccountRootPrincipal()],
            actions: ["kms:*"],
            resources: ["*"],
          }),
          // Scoped, as template.yaml explains, by the encryption context SNS uses for a topic's
          // messages (sns-enable-encryption-for-topic.html): topics of this account and Region.
          ...["ses", "cloudwatch"].map(
            (service) =>
              new iam.PolicyStatement({
                sid: service === "ses" ? "SesPublishesToTheEventTopic" : "CloudWatchAlarmsPublishToTheAlertTopic",
                principals: [new iam.ServicePrincipal(`${service}.amazonaws.com`)],
                actions: ["kms:GenerateDataKey*", "kms:Decrypt"],
                resources: ["*"],
                conditions: { StringLike: { "kms:EncryptionContext:aws:sns:topicArn": `arn:${Aws.PARTITION}:sns:${Aws.REGION}:${Aws.ACCOUNT_ID}:*` } },
              }),
          ),
        ],
      }),
    });
    new kms.Alias(this, "TopicKeyAlias", { aliasName: `alias/ses-ledger/${Aws.STACK_NAME}/topics`, targetKey: topicKey });

    let eventTopic: sns.ITopic;
    if (s.SesEventTopicArn === "") {
      const topic = new sns.Topic(this, "SesEventTopic", { displayName: "SES events for ses-ledger", masterKey: topicKey, enforceSSL: true });
      topic.applyRemovalPolicy(RemovalPolicy.DESTROY);
      topic.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: "SesPublishesFromThisAccount",
          principals: [new iam.ServicePrincipal("ses.amazonaws.com")],
          actions: ["sns:Publish"],
          resources: [topic.topicArn],
          conditions: { ...account, ArnLike: { "aws:SourceArn": `arn:${Aws.PARTITION}:ses:${Aws.REGION}:${Aws.ACCOUNT_ID}:*` } },
        }),
      );
      eventTopic = topic;
    } else {
      eventTopic = sns.Topic.fromTopicArn(this, "SesEventTopic", s.SesEventTopicArn);
    }

    const table = new dynamodb.Table(this, "LedgerTable", {
      partitionKey: { name: "pk", type: dynamodb.AttributeType.STRING },
      sortKey: { name: "sk", type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: "expires_at",
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      deletionProtection: s.TableDeletionProtection,
      removalPolicy: RemovalPolicy.RETAIN,
      // The count function's source: every inserted event item, and the scopes a duplicate adds.
      stream: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
    });
    // The recipient index exactly as template.yaml declares it (keys and projection).
    const samTable = sam.Resources.LedgerTable?.Properties as unknown as { GlobalSecondaryIndexes: SamIndex[] };
    const [recipientIndex] = samTable.GlobalSecondaryIndexes;
    table.addGlobalSecondaryIndex({
      indexName: recipientIndex.IndexName,
      partitionKey: { name: keyOf(recipientIndex, "HASH"), type: dynamodb.AttributeType.STRING },
      sortKey: { name: keyOf(recipientIndex, "RANGE"), type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.INCLUDE,
      nonKeyAttributes: recipientIndex.Projection.NonKeyAttributes,
    });

    // The indexed fields are template.yaml's (`FieldIndexPolicies` under `!If StandardEventLog`).
    const samIndexes = sam.Resources.EventLogGroup.Properties?.FieldIndexPolicies as { "Fn::If": [string, { Fields: string[] }[], Json] };
    const standardLog = s.EventLogClass === "STANDARD";
    const eventLogGroup = new logs.LogGroup(this, "EventLogGroup", {
      retention: s.EventLogRetentionDays as logs.RetentionDays,
      removalPolicy: RemovalPolicy.RETAIN,
      logGroupClass: standardLog ? logs.LogGroupClass.STANDARD : logs.LogGroupClass.INFREQUENT_ACCESS,
      fieldIndexPolicies: standardLog ? samIndexes["Fn::If"][1].map((p) => new logs.FieldIndexPolicy({ fields: p.Fields })) : undefined,
    });

    const deadLetters = new sqs.Queue(this, "IngestDeadLetterQueue", {
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    const functionLogGroup = (id: string, name: string) =>
      new logs.LogGroup(this, id, {
        logGroupName: `/aws/lambda/${Aws.STACK_NAME}-${name}`,
        retention: logs.RetentionDays.ONE_MONTH,
        removalPolicy: RemovalPolicy.DESTROY,
      });

    const sharedEnvironment = {
      RUST_LOG: "info",
      SES_LEDGER_TABLE: table.tableName,
      SES_LEDGER_EVENT_LOG_GROUP: eventLogGroup.logGroupName,
      SES_LEDGER_HISTORY_TTL_DAYS: String(s.HistoryTtlDays),
      SES_LEDGER_TENANT_TAGS: s.TenantTags,
      SES_LEDGER_FEEDBACK_LOOP_PROVIDERS: s.FeedbackLoopProviders,
      SES_LEDGER_SOFT_BOUNCE_LIMIT: String(s.SoftBounceLimit),
      SES_LEDGER_SOFT_BOUNCE_WINDOW_DAYS: String(s.SoftBounceWindowDays),
      SES_LEDGER_SUPPRESS_ON_PERMANENT_STATUS: String(s.SuppressOnPermanentStatus),
    };
    const architecture = s.Architecture === "arm64" ? lambda.Architecture.ARM_64 : lambda.Architecture.X86_64;

    // Roles with inline policies only, written out as in template.yaml: no grant helper adds an
    // action the function does not call.
    const functionRole = (id: string, statements: iam.PolicyStatement[]) =>
      new iam.Role(this, id, {
        assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
        managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName("service-role/AWSLambdaBasicExecutionRole")],
        inlinePolicies: { [`${id}Policy`]: new iam.PolicyDocument({ statements }) },
      });

    const ingestQueue =
      s.IngestTransport === "sqs"
        ? new sqs.Queue(this, "IngestQueue", {
            visibilityTimeout: Duration.seconds(360),
            retentionPeriod: Duration.days(14),
            encryption: sqs.QueueEncryption.SQS_MANAGED,
            enforceSSL: true,
            deadLetterQueue: { queue: deadLetters, maxReceiveCount: 5 },
            removalPolicy: RemovalPolicy.DESTROY,
          })
        : undefined;

    const pseudonymise = s.PseudonymKeyParameter !== "";
    const ingestRole = functionRole("IngestFunctionRole", [
      new iam.PolicyStatement({ sid: "LedgerWrites", actions: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"], resources: [table.tableArn] }),
      new iam.PolicyStatement({ sid: "EventStream", actions: ["logs:CreateLogStream", "logs:PutLogEvents"], resources: [eventLogGroup.logGroupArn] }),
      new iam.PolicyStatement({ sid: "OnFailureDestination", actions: ["sqs:SendMessage"], resources: [deadLetters.queueArn] }),
      ...(ingestQueue
        ? [
            new iam.PolicyStatement({
              sid: "ReadTheIngestQueue",
              actions: ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"],
              resources: [ingestQueue.queueArn],
            }),
          ]
        : []),
      // Once per cold start: the pseudonymisation key, and nothing else in Parameter Store.
      ...(pseudonymise
        ? [
            new iam.PolicyStatement({
              sid: "ReadThePseudonymKey",
              actions: ["ssm:GetParameter"],
              resources: [`arn:${Aws.PARTITION}:ssm:${Aws.REGION}:${Aws.ACCOUNT_ID}:parameter${s.PseudonymKeyParameter}`],
            }),
          ]
        : []),
      // Parameter Store's default key (aws/ssm) lets every principal of the account decrypt
      // through Parameter Store; a customer-managed key must say so itself.
      ...(pseudonymise && s.PseudonymKeyKmsKeyArn !== ""
        ? [
            new iam.PolicyStatement({
              sid: "DecryptThePseudonymKey",
              actions: ["kms:Decrypt"],
              resources: [s.PseudonymKeyKmsKeyArn],
              conditions: { StringEquals: { "kms:ViaService": `ssm.${Aws.REGION}.amazonaws.com` } },
            }),
          ]
        : []),
    ]);
    const ingest = new lambda.Function(this, "IngestFunction", {
      description: "Normalises every SES event into DynamoDB and the event log stream, exactly once.",
      runtime: lambda.Runtime.PROVIDED_AL2023,
      architecture,
      handler: "bootstrap",
      code: lambda.Code.fromAsset(path.join(props.codeDir, "ingest")),
      memorySize: 256,
      timeout: Duration.seconds(60),
      role: ingestRole,
      logGroup: functionLogGroup("IngestFunctionLogGroup", "ingest"),
      environment: pseudonymise
        ? { ...sharedEnvironment, SES_LEDGER_PSEUDONYM_KEY_PARAMETER: s.PseudonymKeyParameter }
        : sharedEnvironment,
    });
    // Direct transport: SNS invokes asynchronously; two retries, then the dead-letter queue.
    new lambda.CfnEventInvokeConfig(this, "IngestFunctionEventInvokeConfig", {
      functionName: ingest.functionName,
      qualifier: "$LATEST",
      maximumRetryAttempts: 2,
      maximumEventAgeInSeconds: 21600,
      destinationConfig: { onFailure: { destination: deadLetters.queueArn } },
    });

    if (ingestQueue) {
      eventTopic.addSubscription(new subs.SqsSubscription(ingestQueue, { deadLetterQueue: deadLetters }));
      new lambda.EventSourceMapping(this, "IngestQueueEventSource", {
        target: ingest,
        eventSourceArn: ingestQueue.queueArn,
        batchSize: s.IngestBatchSize,
        maxBatchingWindow: Duration.seconds(s.IngestBatchWindowSeconds),
        reportBatchItemFailures: true,
      });
    } else {
      eventTopic.addSubscription(new subs.LambdaSubscription(ingest, { deadLetterQueue: deadLetters }));
    }

    // Counts from the table's stream: each batch written as it comes, under the shards' marks
    // (the mapping's settings are template.yaml's, with the reasons written there).
    const countDeadLetters = new sqs.Queue(this, "CountDeadLetterQueue", {
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const streamArn = table.tableStreamArn ?? "";
    const countRole = functionRole("CountFunctionRole", [
      // Counter items only (partition keys CNT#...), and only updated (functions/count).
      new iam.PolicyStatement({
        sid: "UpdateCounterItems",
        actions: ["dynamodb:UpdateItem"],
        resources: [table.tableArn],
        conditions: { "ForAllValues:StringLike": { "dynamodb:LeadingKeys": ["CNT#*"] } },
      }),
      new iam.PolicyStatement({
        sid: "ReadTheLedgerStream",
        actions: ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"],
        resources: [streamArn],
      }),
      new iam.PolicyStatement({ sid: "ReportUnappliedBatches", actions: ["sqs:SendMessage"], resources: [countDeadLetters.queueArn] }),
    ]);
    const count = new lambda.Function(this, "CountFunction", {
      description: "Adds every recorded recipient event to the hourly counters exactly once, from the ledger table's stream.",
      runtime: lambda.Runtime.PROVIDED_AL2023,
      architecture,
      handler: "bootstrap",
      code: lambda.Code.fromAsset(path.join(props.codeDir, "count")),
      memorySize: 256,
      timeout: Duration.seconds(60),
      role: countRole,
      logGroup: functionLogGroup("CountFunctionLogGroup", "count"),
      environment: sharedEnvironment,
    });
    const samStream = sam.Resources.CountStreamSource?.Properties as unknown as SamStreamEvent;
    new lambda.CfnEventSourceMapping(this, "CountStreamSource", {
      functionName: count.functionName,
      eventSourceArn: streamArn,
      startingPosition: samStream.StartingPosition,
      batchSize: samStream.BatchSize,
      maximumBatchingWindowInSeconds: samStream.MaximumBatchingWindowInSeconds,
      tumblingWindowInSeconds: samStream.TumblingWindowInSeconds,
      parallelizationFactor: samStream.ParallelizationFactor,
      bisectBatchOnFunctionError: samStream.BisectBatchOnFunctionError,
      maximumRetryAttempts: samStream.MaximumRetryAttempts,
      maximumRecordAgeInSeconds: samStream.MaximumRecordAgeInSeconds,
      destinationConfig: { onFailure: { destination: countDeadLetters.queueArn } },
    });

    const alertTopic = new sns.Topic(this, "AlertTopic", { displayName: "ses-ledger alerts", masterKey: topicKey, enforceSSL: true });
    alertTopic.applyRemovalPolicy(RemovalPolicy.DESTROY);
    alertTopic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: "CloudWatchAlarmsOfThisAccountPublish",
        principals: [new iam.ServicePrincipal("cloudwatch.amazonaws.com")],
        actions: ["sns:Publish"],
        resources: [alertTopic.topicArn],
        conditions: account,
      }),
    );
    if (s.AlertEmail !== "") alertTopic.addSubscription(new subs.EmailSubscription(s.AlertEmail));

    const alarmRole = functionRole("AlarmFunctionRole", [
      new iam.PolicyStatement({ sid: "ReadCountersAndKeepAlertState", actions: ["dynamodb:Query", "dynamodb:GetItem", "dynamodb:PutItem"], resources: [table.tableArn] }),
      new iam.PolicyStatement({ sid: "PublishAlerts", actions: ["sns:Publish"], resources: [alertTopic.topicArn] }),
      new iam.PolicyStatement({ sid: "EncryptAlertsForTheTopic", actions: ["kms:GenerateDataKey*", "kms:Decrypt"], resources: [topicKey.keyArn] }),
      // GetMetricData has no resource-level permissions.
      new iam.PolicyStatement({ sid: "ReadSesReputation", actions: ["cloudwatch:GetMetricData"], resources: ["*"] }),
      // An alert for a tenant scope shows SES's own status of that tenant.
      new iam.PolicyStatement({ sid: "ReadSesTenantStatus", actions: ["ses:GetTenant", "ses:GetReputationEntity"], resources: [`arn:${Aws.PARTITION}:ses:${Aws.REGION}:${Aws.ACCOUNT_ID}:tenant/*`] }),
    ]);
    const alarm = new lambda.Function(this, "AlarmFunction", {
      description: "Judges bounce and complaint rates per scope and alerts through SNS before SES opens a review.",
      runtime: lambda.Runtime.PROVIDED_AL2023,
      architecture,
      handler: "bootstrap",
      code: lambda.Code.fromAsset(path.join(props.codeDir, "alarm")),
      memorySize: 256,
      timeout: Duration.seconds(120),
      role: alarmRole,
      logGroup: functionLogGroup("AlarmFunctionLogGroup", "alarm"),
      environment: {
        ...sharedEnvironment,
        SES_LEDGER_ALERT_TOPIC_ARN: alertTopic.topicArn,
        SES_LEDGER_MIN_COMPLAINT_VOLUME: String(s.MinComplaintVolume),
        SES_LEDGER_MIN_BOUNCE_VOLUME: String(s.MinBounceVolume),
        SES_LEDGER_RECENT_SENDS: String(s.RecentSends),
        SES_LEDGER_RECENT_SENDS_MAX_DAYS: String(s.RecentSendsMaxDays),
      },
    });
    // A failed or stale run is not retried: the next tick recomputes everything from the counters.
    new lambda.CfnEventInvokeConfig(this, "AlarmFunctionEventInvokeConfig", {
      functionName: alarm.functionName,
      qualifier: "$LATEST",
      maximumRetryAttempts: 0,
      maximumEventAgeInSeconds: 900,
    });
    const schedulerRole = new iam.Role(this, "AlarmFunctionScheduleRole", {
      assumedBy: new iam.ServicePrincipal("scheduler.amazonaws.com"),
      inlinePolicies: {
        AlarmFunctionScheduleLambdaPolicy: new iam.PolicyDocument({
          statements: [new iam.PolicyStatement({ actions: ["lambda:InvokeFunction"], resources: [alarm.functionArn] })],
        }),
      },
    });
    // No name: CloudFormation generates one, so a second stack does not collide.
    new scheduler.CfnSchedule(this, "AlarmFunctionSchedule", {
      scheduleExpression: s.AlarmSchedule,
      flexibleTimeWindow: { mode: "OFF" },
      target: { arn: alarm.functionArn, roleArn: schedulerRole.roleArn, retryPolicy: { maximumRetryAttempts: 0 } },
    });

    if (s.CreateConfigurationSet) {
      const configurationSet = new ses.CfnConfigurationSet(this, "ConfigurationSet", {
        reputationOptions: { reputationMetricsEnabled: true },
        sendingOptions: { sendingEnabled: true },
      });
      new ses.CfnConfigurationSetEventDestination(this, "ConfigurationSetEventDestination", {
        configurationSetName: configurationSet.ref,
        eventDestination: { enabled: true, matchingEventTypes: ALL_SES_EVENT_TYPES, snsDestination: { topicArn: eventTopic.topicArn } },
      });
      this.output(sam, "ConfigurationSetName", configurationSet.ref);
    }

    // Watching the watcher: the same alarms as template.yaml, into the alert topic.
    const toAlertTopic = new actions.SnsAction(alertTopic);
    const watch = (id: string, description: string, metric: cloudwatch.IMetric, threshold: number, comparison: cloudwatch.ComparisonOperator, missing: cloudwatch.TreatMissingData) => {
      const a = new cloudwatch.Alarm(this, id, {
        alarmDescription: description,
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: comparison,
        treatMissingData: missing,
      });
      a.addAlarmAction(toAlertTopic);
      a.addOkAction(toAlertTopic);
    };
    const above = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD;
    const quiet = cloudwatch.TreatMissingData.NOT_BREACHING;
    const fiveMinutes = Duration.minutes(5);
    const describe = (id: string) => alarmDescription(sam, id);
    watch("IngestDeadLetterQueueAlarm", describe("IngestDeadLetterQueueAlarm"), deadLetters.metricApproximateNumberOfMessagesVisible({ statistic: "Maximum", period: fiveMinutes }), 0, above, quiet);
    watch("IngestErrorsAlarm", describe("IngestErrorsAlarm"), ingest.metricErrors({ statistic: "Sum", period: fiveMinutes }), 0, above, quiet);
    watch("IngestThrottlesAlarm", describe("IngestThrottlesAlarm"), ingest.metricThrottles({ statistic: "Sum", period: fiveMinutes }), 0, above, quiet);
    watch("IngestDestinationDeliveryFailuresAlarm", describe("IngestDestinationDeliveryFailuresAlarm"), ingest.metric("DestinationDeliveryFailures", { statistic: "Sum", period: fiveMinutes }), 0, above, quiet);
    if (ingestQueue) {
      watch("IngestQueueAgeAlarm", describe("IngestQueueAgeAlarm"), ingestQueue.metricApproximateAgeOfOldestMessage({ statistic: "Maximum", period: fiveMinutes }), 900, above, quiet);
    }
    watch("CountErrorsAlarm", describe("CountErrorsAlarm"), count.metricErrors({ statistic: "Sum", period: fiveMinutes }), 0, above, quiet);
    watch("CountIteratorAgeAlarm", describe("CountIteratorAgeAlarm"), count.metric("IteratorAge", { statistic: "Maximum", period: fiveMinutes }), 1800000, above, quiet);
    watch(
      "CountSkippedAlarm",
      describe("CountSkippedAlarm"),
      new cloudwatch.Metric({ namespace: "SesLedger", metricName: "CountSkipped", statistic: "Sum", period: fiveMinutes }),
      0,
      above,
      quiet,
    );
    watch("CountDeadLetterQueueAlarm", describe("CountDeadLetterQueueAlarm"), countDeadLetters.metricApproximateNumberOfMessagesVisible({ statistic: "Maximum", period: fiveMinutes }), 0, above, quiet);
    watch("AlarmFunctionErrorsAlarm", describe("AlarmFunctionErrorsAlarm"), alarm.metricErrors({ statistic: "Sum", period: fiveMinutes }), 0, above, quiet);
    const hour = Duration.hours(1);
    watch(
      "AlarmFunctionMissedRunsAlarm",
      describe("AlarmFunctionMissedRunsAlarm"),
      new cloudwatch.MathExpression({
        expression: "FILL(invocations, 0) - FILL(errors, 0)",
        label: "successful runs in the last hour",
        period: hour,
        usingMetrics: { invocations: alarm.metricInvocations({ statistic: "Sum", period: hour }), errors: alarm.metricErrors({ statistic: "Sum", period: hour }) },
      }),
      1,
      cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      cloudwatch.TreatMissingData.BREACHING,
    );

    // The saved queries and the dashboard, exactly as template.yaml writes them.
    for (const [id, query] of resourcesOfType(sam, "AWS::Logs::QueryDefinition")) {
      new logs.CfnQueryDefinition(this, id, {
        name: Fn.sub(String((query.Name as { "Fn::Sub": string })["Fn::Sub"])),
        logGroupNames: [eventLogGroup.logGroupName],
        queryString: String(resolveWithSettings(query.QueryString, s as unknown as Record<string, unknown>)),
      });
    }
    const [[dashboardId, dashboard]] = resourcesOfType(sam, "AWS::CloudWatch::Dashboard");
    const dashboardResource = new cloudwatch.CfnDashboard(this, dashboardId, {
      dashboardName: Fn.sub(String((dashboard.DashboardName as { "Fn::Sub": string })["Fn::Sub"])),
      dashboardBody: Fn.sub(String((dashboard.DashboardBody as { "Fn::Sub": string })["Fn::Sub"]), { EventLogGroup: eventLogGroup.logGroupName }),
    });

    this.output(sam, "SesEventTopicArn", eventTopic.topicArn);
    this.output(sam, "AlertTopicArn", alertTopic.topicArn);
    this.output(sam, "TopicKeyArn", topicKey.keyArn);
    this.output(sam, "LedgerTableName", table.tableName);
    this.output(sam, "EventLogGroupName", eventLogGroup.logGroupName);
    if (ingestQueue) this.output(sam, "IngestQueueUrl", ingestQueue.queueUrl);
    this.output(sam, "IngestDeadLetterQueueUrl", deadLetters.queueUrl);
    this.output(sam, "IngestDeadLetterQueueArn", deadLetters.queueArn);
    this.output(sam, "IngestFunctionName", ingest.functionName);
    this.output(sam, "AlarmFunctionName", alarm.functionName);
    this.output(sam, "CountFunctionName", count.functionName);
    this.output(sam, "CountDeadLetterQueueUrl", countDeadLetters.queueUrl);
    this.output(sam, "DashboardName", dashboardResource.ref);
    if (pseudonymise) this.output(sam, "PseudonymKeyParameter", s.PseudonymKeyParameter);

    this.suppressFindings([deadLetters, countDeadLetters], ingestRole, alarmRole, countRole);
  }

  private output(sam: SamTemplate, id: string, value: string) {
    const spec = sam.Outputs[id];
    if (!spec) throw new Error(`template.yaml has no output ${id}`);
    new CfnOutput(this, id, { value, description: spec.Description });
  }

  // cdk-nag AwsSolutions findings that are deliberate, each with its reason.
  private suppressFindings(deadLetterQueues: sqs.Queue[], ...roles: iam.Role[]) {
    for (const queue of deadLetterQueues) {
      NagSuppressions.addResourceSuppressions(queue, [
        { id: "AwsSolutions-SQS3", reason: "This queue is a dead-letter queue (of the ingest path or of the count function's stream mapping); it needs none of its own." },
      ]);
    }
    for (const role of roles) {
      NagSuppressions.addResourceSuppressions(role, [
        {
          id: "AwsSolutions-IAM4",
          reason: "AWSLambdaBasicExecutionRole only lets the function write its own logs, as SAM's default role does.",
          appliesTo: ["Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"],
        },
        {
          id: "AwsSolutions-IAM5",
          reason: "Log streams are created at run time (log-group:NAME:*); kms:GenerateDataKey* is the SNS encryption pattern; cloudwatch:GetMetricData has no resource-level permissions; the alarm reads the status of whichever SES tenants the mail names (tenant/*), not known when the stack is deployed.",
          appliesTo: [
            "Resource::<EventLogGroup3B17BD8A.Arn>",
            "Action::kms:GenerateDataKey*",
            "Resource::*",
            "Resource::arn:<AWS::Partition>:ses:<AWS::Region>:<AWS::AccountId>:tenant/*",
          ],
        },
      ]);
    }
  }
}

interface SamIndex {
  IndexName: string;
  KeySchema: { AttributeName: string; KeyType: "HASH" | "RANGE" }[];
  Projection: { ProjectionType: string; NonKeyAttributes: string[] };
}

interface SamStreamEvent {
  StartingPosition: string;
  BatchSize: number;
  MaximumBatchingWindowInSeconds: number;
  TumblingWindowInSeconds: number;
  ParallelizationFactor: number;
  BisectBatchOnFunctionError: boolean;
  MaximumRetryAttempts: number;
  MaximumRecordAgeInSeconds: number;
}

function keyOf(index: SamIndex, kind: "HASH" | "RANGE"): string {
  const key = index.KeySchema.find((k) => k.KeyType === kind);
  if (!key) throw new Error(`template.yaml's index ${index.IndexName} has no ${kind} key`);
  return key.AttributeName;
}

function alarmDescription(sam: SamTemplate, id: string): string {
  const alarm = sam.Resources[id];
  const description = alarm?.Properties?.AlarmDescription;
  if (typeof description !== "string") throw new Error(`template.yaml has no alarm ${id} with a description`);
  return description;
}
