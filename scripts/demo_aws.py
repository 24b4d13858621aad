"""Small AWS chores for scripts/demo.sh against the local stack (boto3 comes with moto).

Usage: demo_aws.py setup | seed-ses-metric VALUE | alerts | log-sample N
Reads endpoints from the AWS_ENDPOINT_URL_* variables of .local-stack/env.
"""
import datetime
import json
import os
import sys

import boto3

TABLE = os.environ["SES_LEDGER_TABLE"]
LOG_GROUP = os.environ["SES_LEDGER_EVENT_LOG_GROUP"]
TOPIC_ARN = os.environ["SES_LEDGER_ALERT_TOPIC_ARN"]
QUEUE = "ses-ledger-demo-alert-inbox"


def client(service, env):
    url = os.environ[env]
    assert url.startswith("http://127.0.0.1:"), url
    return boto3.client(service, endpoint_url=url, region_name=os.environ["AWS_REGION"])


def setup():
    ddb = client("dynamodb", "AWS_ENDPOINT_URL_DYNAMODB")
    ddb.create_table(
        TableName=TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    )
    client("logs", "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS").create_log_group(logGroupName=LOG_GROUP)
    sns = client("sns", "AWS_ENDPOINT_URL_SNS")
    sqs = client("sqs", "AWS_ENDPOINT_URL_SQS")
    topic = sns.create_topic(Name=TOPIC_ARN.rsplit(":", 1)[1])["TopicArn"]
    sqs.create_queue(QueueName=QUEUE)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=f"arn:aws:sqs:us-east-1:123456789012:{QUEUE}")
    print(f"table {TABLE}, log group {LOG_GROUP}, alert topic {topic} -> SQS queue {QUEUE}")


def seed_ses_metric(value):
    cw = client("cloudwatch", "AWS_ENDPOINT_URL_CLOUDWATCH")
    cw.put_metric_data(
        Namespace="AWS/SES",
        MetricData=[{"MetricName": "Reputation.ComplaintRate", "Value": float(value),
                     "Timestamp": datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=30)}],
    )
    print(f"AWS/SES Reputation.ComplaintRate = {value} (as SES would publish it)")


def alerts():
    sqs = client("sqs", "AWS_ENDPOINT_URL_SQS")
    url = sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        if not got:
            return
        for m in got:
            env = json.loads(m["Body"])
            attrs = {k: v["Value"] for k, v in env.get("MessageAttributes", {}).items()}
            print(f"--- alert received by the subscribed SQS queue {attrs}")
            print(f"Subject: {env.get('Subject')}")
            print(env["Message"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def log_sample(n):
    logs = client("logs", "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS")
    streams = logs.describe_log_streams(logGroupName=LOG_GROUP)["logStreams"]
    total, shown = 0, 0
    for s in streams:
        kwargs = {"logGroupName": LOG_GROUP, "logStreamName": s["logStreamName"], "startFromHead": True}
        while True:
            page = logs.get_log_events(**kwargs)
            for e in page["events"]:
                total += 1
                if shown < n:
                    shown += 1
                    print(json.dumps(json.loads(e["message"]), indent=None)[:400])
            if not page["events"] or page["nextForwardToken"] == kwargs.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextForwardToken"]
    print(f"{total} lines in {len(streams)} log streams of {LOG_GROUP}")


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "setup":
        setup()
    elif command == "seed-ses-metric":
        seed_ses_metric(sys.argv[2])
    elif command == "alerts":
        alerts()
    elif command == "log-sample":
        log_sample(int(sys.argv[2]))
    else:
        sys.exit(__doc__)
