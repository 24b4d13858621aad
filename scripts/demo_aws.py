"""Small AWS chores for scripts/demo.sh against the local stack (boto3 comes with moto).

Usage: demo_aws.py setup | count | seed-ses-metric VALUE | alerts | log-sample N
Reads endpoints from the AWS_ENDPOINT_URL_* variables of .local-stack/env; `count` also
LAMBDA_INVOKE_URL (scripts/lambda-watch.sh).
"""
import datetime
import json
import os
import sys
import time
import urllib.request

import boto3
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Where `count` remembers how far it has read each stream shard, as an event source mapping does.
STREAM_POSITION = os.path.join(ROOT, ".local-stack", "demo-stream-position.json")

TABLE = os.environ["SES_LEDGER_TABLE"]
LOG_GROUP = os.environ["SES_LEDGER_EVENT_LOG_GROUP"]
TOPIC_ARN = os.environ["SES_LEDGER_ALERT_TOPIC_ARN"]
QUEUE = "ses-ledger-demo-alert-inbox"


def client(service, env):
    url = os.environ[env]
    assert url.startswith("http://127.0.0.1:"), url
    return boto3.client(service, endpoint_url=url, region_name=os.environ["AWS_REGION"])


def ledger_table_definition():
    """LedgerTable's keys, index and stream exactly as template.yaml declares them."""

    class Loader(yaml.SafeLoader):
        pass

    # CloudFormation's short forms (!Ref, !If, ...) are irrelevant here; read them as plain values.
    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    with open(os.path.join(ROOT, "template.yaml")) as f:
        properties = yaml.load(f, Loader=Loader)["Resources"]["LedgerTable"]["Properties"]
    stream = dict(properties["StreamSpecification"], StreamEnabled=True)
    return {
        "AttributeDefinitions": properties["AttributeDefinitions"],
        "KeySchema": properties["KeySchema"],
        "GlobalSecondaryIndexes": properties["GlobalSecondaryIndexes"],
        "StreamSpecification": stream,
    }


def setup():
    ddb = client("dynamodb", "AWS_ENDPOINT_URL_DYNAMODB")
    ddb.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST", **ledger_table_definition())
    if os.path.exists(STREAM_POSITION):
        os.remove(STREAM_POSITION)
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


def lambda_record(record):
    """A stream record as Lambda hands it to a function (images stay in DynamoDB JSON)."""
    change = {k: v for k, v in record["dynamodb"].items() if k != "ApproximateCreationDateTime"}
    return {"eventID": record["eventID"], "eventName": record["eventName"],
            "eventSource": "aws:dynamodb", "dynamodb": change}


def count():
    """Plays the count function's event source mapping once over the table's stream: each shard,
    from where the last call stopped, is one tumbling window. Its records go to the real count
    binary under the emulator in batches of up to 1,000, each with the state the invocation
    before returned; then an invocation closes the window and the counters are written. A failed
    invocation is retried with the same records and state, and the shard's position moves only
    once the window is closed, as Lambda checkpoints a window."""
    url = os.environ["LAMBDA_INVOKE_URL"].rstrip("/")
    assert url.startswith("http://127.0.0.1:"), url
    ddb = client("dynamodb", "AWS_ENDPOINT_URL_DYNAMODB")
    streams = client("dynamodbstreams", "AWS_ENDPOINT_URL_DYNAMODB")
    arn = ddb.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
    position = {}
    if os.path.exists(STREAM_POSITION):
        with open(STREAM_POSITION) as f:
            position = json.load(f)
    counted = batches = writes = 0
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        sid = shard["ShardId"]
        after = position.get(sid)
        kwargs = {"StreamArn": arn, "ShardId": sid}
        if after:
            kwargs.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=after)
        else:
            kwargs.update(ShardIteratorType="TRIM_HORIZON")
        iterator = streams.get_shard_iterator(**kwargs)["ShardIterator"]
        records = []
        while iterator:
            page = streams.get_records(ShardIterator=iterator, Limit=1000)
            records.extend(lambda_record(r) for r in page["Records"])
            iterator = page.get("NextShardIterator")
            if not page["Records"]:
                break
        if not records:
            continue
        state = {}
        for start in range(0, len(records), 1000):
            out = invoke_until_it_takes(url, sid, records[start:start + 1000], state, False)
            counted += out["counted"]
            state = out["state"]
            batches += 1
        writes += invoke_until_it_takes(url, sid, [], state, True)["writes"]
        position[sid] = records[-1]["dynamodb"]["SequenceNumber"]
        with open(STREAM_POSITION, "w") as f:
            json.dump(position, f)
    print(f"count: {batches} stream batches, {counted} recipient events added to the counters "
          f"in {writes} counter updates")


def invoke_until_it_takes(url, shard, batch, state, closes):
    body = json.dumps({"Records": batch, "shardId": shard, "state": state,
                       "isFinalInvokeForWindow": closes,
                       "isWindowTerminatedEarly": False}).encode()
    for attempt in range(10):
        request = urllib.request.Request(f"{url}/2015-03-31/functions/count/invocations", data=body,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            print(f"count: invocation failed ({error.code}: {error.read()[:200]!r}); retrying it "
                  "with the same records and state", file=sys.stderr)
            time.sleep(min(2 ** attempt, 30))
    sys.exit("count: an invocation kept failing")


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
    elif command == "count":
        count()
    elif command == "seed-ses-metric":
        seed_ses_metric(sys.argv[2])
    elif command == "alerts":
        alerts()
    elif command == "log-sample":
        log_sample(int(sys.argv[2]))
    else:
        sys.exit(__doc__)
