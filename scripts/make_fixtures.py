#!/usr/bin/env python3
"""Generates events/ from the official SES examples: the raw SES JSON, the same messages in every
envelope they arrive in (SNS -> Lambda, SQS with and without raw message delivery, EventBridge),
the oddities seen in the wild, and malformed input.

Deterministic: ids are UUIDv5 of the fixture name, times come from the examples, so running it
twice gives the same files. Python 3 standard library only.

    scripts/make_fixtures.py [--examples DIR] [--out DIR]
"""

import argparse
import copy
import hashlib
import json
import shutil
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_EXAMPLES = ROOT.parent / "shared" / "reference" / "aws-ses-examples"
REGION = "us-east-1"
ACCOUNT = "123456789012"
TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:ses-events"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:ses-events"
CERT_URL = f"https://sns.{REGION}.amazonaws.com/SimpleNotificationService-0000000000000000000000000000000.pem"
NAMESPACE = uuid.UUID("5e51ed9e-0000-4000-8000-000000000000")
VALIDATION_NOTICE = "Successfully validated SNS topic for Amazon SES event publishing."

# EventBridge detail-type per event-publishing type.
DETAIL_TYPES = {
    "Send": "Email Sent",
    "Delivery": "Email Delivered",
    "Bounce": "Email Bounced",
    "Complaint": "Email Complaint Received",
    "Reject": "Email Rejected",
    "Rendering Failure": "Email Rendering Failed",
    "DeliveryDelay": "Email Delivery Delayed",
    "Open": "Email Opened",
    "Click": "Email Clicked",
    "Subscription": "Email Subscribed",
}
# The key of each type's own object, for the event's timestamp.
TYPE_KEYS = {
    "Bounce": "bounce",
    "Complaint": "complaint",
    "Delivery": "delivery",
    "DeliveryDelay": "deliveryDelay",
    "Open": "open",
    "Click": "click",
    "Subscription": "subscription",
}


def uid(name):
    return str(uuid.uuid5(NAMESPACE, name))


def compact(ses):
    """The SES JSON as SES puts it in an SNS Message: one line, no spaces."""
    return json.dumps(ses, separators=(",", ":"), ensure_ascii=False)


def event_time(ses):
    kind = ses.get("eventType") or ses.get("notificationType")
    own = ses.get(TYPE_KEYS.get(kind, ""), {})
    return own.get("timestamp") or ses["mail"]["timestamp"]


def sns_time(ses):
    """A plausible SNS Timestamp: the event's time when it is RFC 3339, else a fixed one."""
    t = event_time(ses)
    return t if t.endswith("Z") and "T" in t else "2018-10-08T14:05:46.000Z"


def sns_envelope(name, message, timestamp, lambda_spelling=True):
    """The SNS envelope. Lambda spells the URLs `Url`, SNS's JSON (SQS bodies, HTTP) `URL`."""
    url = "Url" if lambda_spelling else "URL"
    envelope = {
        "Type": "Notification",
        "MessageId": uid(f"sns/{name}"),
        "TopicArn": TOPIC_ARN,
        "Subject": None,
        "Message": message,
        "Timestamp": timestamp,
        "SignatureVersion": "1",
        "Signature": "EXAMPLE",
        f"SigningCert{url}": CERT_URL,
        f"Unsubscribe{url}": f"https://sns.{REGION}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={TOPIC_ARN}:{uid('subscription')}",
        "MessageAttributes": {},
    }
    if not lambda_spelling:
        # SNS leaves out a missing subject in its own JSON.
        del envelope["Subject"]
        del envelope["MessageAttributes"]
    return envelope


def sns_record(name, message, timestamp, lambda_spelling=True):
    return {
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": f"{TOPIC_ARN}:{uid('subscription')}",
        "Sns": sns_envelope(name, message, timestamp, lambda_spelling),
    }


def sns_event(records):
    return {"Records": records}


def sqs_record(name, body):
    return {
        "messageId": uid(f"sqs/{name}"),
        "receiptHandle": "AQEBEXAMPLE" + hashlib.sha256(name.encode()).hexdigest()[:24],
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1523232000000",
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": "1523232000001",
        },
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(body.encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": QUEUE_ARN,
        "awsRegion": REGION,
    }


def eventbridge_event(name, ses):
    config_set = ses["mail"].get("tags", {}).get("ses:configuration-set", ["ConfigSet"])[0]
    return {
        "version": "0",
        "id": uid(f"eventbridge/{name}"),
        "detail-type": DETAIL_TYPES[ses["eventType"]],
        "source": "aws.ses",
        "account": ACCOUNT,
        "time": event_time(ses)[:19] + "Z",
        "region": REGION,
        "resources": [f"arn:aws:ses:{REGION}:{ACCOUNT}:configuration-set/{config_set}"],
        "detail": ses,
    }


def write(path, doc):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def load_examples(examples):
    """{folder: [(stem, text, parsed)]} in name order."""
    out = {}
    for folder, target in [("ses-notifications", "notification"), ("ses-event-publishing-sns", "event-publishing")]:
        out[target] = [
            (p.stem, p.read_text(encoding="utf-8"), json.loads(p.read_text(encoding="utf-8")))
            for p in sorted((examples / folder).glob("*.json"))
        ]
    return out


def oddities(by_name, out):
    """The quirks the domain brief lists, each as an SNS -> Lambda event."""
    docs = {}

    # The SES docs' own `mail` example: a timestamp with a space before the offset, display
    # names in the headers, sourceIp.
    mail = {
        "timestamp": "2018-10-08T14:05:45 +0000",
        "messageId": "000001378603177f-7a5433e7-8edb-42ae-af10-f0181f34d6ee-000000",
        "source": "sender@example.com",
        "sourceArn": "arn:aws:ses:us-east-1:888888888888:identity/example.com",
        "sourceIp": "127.0.3.0",
        "sendingAccountId": "123456789012",
        "destination": ["recipient@example.com"],
        "headersTruncated": False,
        "commonHeaders": {
            "from": ["Sender Name <sender@example.com>"],
            "date": "Mon, 08 Oct 2018 14:05:45 +0000",
            "to": ["Recipient Name <recipient@example.com>"],
            "messageId": " custom-message-ID",
            "subject": "Message sent using Amazon SES",
        },
    }
    delivery = {
        "notificationType": "Delivery",
        "mail": mail,
        "delivery": {
            "timestamp": "2018-10-08T14:05:46 +0000",
            "processingTimeMillis": 546,
            "recipients": ["recipient@example.com"],
            "smtpResponse": "250 ok:  Message 64111812 accepted",
            "reportingMTA": "a8-70.smtp-out.amazonses.com",
            "remoteMtaIp": "127.0.2.0",
        },
    }
    docs["offset-timestamp"] = [("offset-timestamp", compact(delivery))]

    # Whole seconds in `mail`, six fractional digits in the event: the ledger writes both in one
    # shape (three digits, Z).
    mixed = copy.deepcopy(by_name["delivery-record"])
    mixed["mail"]["timestamp"] = "2022-04-01T21:24:49Z"
    mixed["delivery"]["timestamp"] = "2022-04-01T21:24:50.123456Z"
    docs["timestamp-shapes"] = [("timestamp-shapes", compact(mixed))]

    bounce = copy.deepcopy(by_name["bounce-notification-with-a-dsn"])
    bounce["mail"]["source"] = '"John Doe" <john@Example.COM>'
    docs["display-name-source"] = [("display-name-source", compact(bounce))]

    complaint = copy.deepcopy(by_name["complaint-record"])
    complaint["complaint"]["complaintSubType"] = None
    docs["complaint-subtype-null"] = [("complaint-subtype-null", compact(complaint))]

    # SES's own complaint for mail sent to an address on the account suppression list, and the
    # matching bounce: neither counts toward SES's rates.
    suppressed = copy.deepcopy(by_name["complaint-record"])
    suppressed["complaint"]["complaintSubType"] = "OnAccountSuppressionList"
    suppressed["complaint"]["feedbackId"] = "suppressed-complaint-feedback-id"
    suppressed_bounce = copy.deepcopy(by_name["bounce-record"])
    suppressed_bounce["bounce"]["bounceSubType"] = "OnAccountSuppressionList"
    suppressed_bounce["bounce"]["feedbackId"] = "suppressed-bounce-feedback-id"
    docs["on-account-suppression-list"] = [
        ("suppressed-complaint", compact(suppressed)),
        ("suppressed-bounce", compact(suppressed_bounce)),
    ]

    docs["trailing-newline-message"] = [
        ("trailing-newline-message", compact(by_name["delivery-record"]) + "\n")
    ]

    # Some serialisers escape every `/`; JSON allows it.
    docs["escaped-slashes-message"] = [
        ("escaped-slashes-message", compact(by_name["click-record"]).replace("/", "\\/"))
    ]

    unknown = copy.deepcopy(by_name["send-record"])
    del unknown["send"]
    unknown["eventType"] = "Mystery"
    unknown["mystery"] = {"timestamp": "2016-10-14T05:03:16.645Z", "whatever": ["SES", "added", "this"]}
    docs["unknown-event-type"] = [("unknown-event-type", compact(unknown))]

    # Identity notifications and a configuration set both on: the same complaint twice.
    publishing = copy.deepcopy(by_name["complaint-record"])
    notification = copy.deepcopy(publishing)
    del notification["eventType"]
    notification = {"notificationType": "Complaint", **notification}
    del notification["mail"]["tags"]
    notification["mail"]["callerIdentity"] = "ses_user"
    notification["mail"]["sourceIp"] = "192.0.2.0"
    docs["complaint-both-formats"] = [
        ("complaint-both-formats/notification", compact(notification)),
        ("complaint-both-formats/event-publishing", compact(publishing)),
    ]

    # An open of a message with no destination at all, and a send whose destination is empty:
    # each is one record of its message, unattributed.
    no_destination = copy.deepcopy(by_name["open-record"])
    del no_destination["mail"]["destination"]
    empty_send = copy.deepcopy(by_name["send-record"])
    empty_send["mail"]["destination"] = []
    docs["no-recipient"] = [
        ("no-recipient/open", compact(no_destination)),
        ("no-recipient/send", compact(empty_send)),
    ]

    # One open and one click of a message sent to four people: SES does not say who opened, so
    # each is one record, unattributed; the official single-recipient open is that recipient's.
    four = ["a@example.com", "b@example.com", "c@example.org", "d@example.net"]
    shared_open = copy.deepcopy(by_name["open-record"])
    shared_open["mail"]["destination"] = four
    shared_open["mail"]["messageId"] = "EXAMPLE-four-recipients-000000"
    shared_click = copy.deepcopy(by_name["click-record"])
    shared_click["mail"]["destination"] = four
    shared_click["mail"]["messageId"] = "EXAMPLE-four-recipients-000000"
    docs["engagement-of-several-recipients"] = [
        ("engagement/open-of-four", compact(shared_open)),
        ("engagement/click-of-four", compact(shared_click)),
        ("engagement/open-of-one", compact(by_name["open-record"])),
    ]

    # Trimmed payloads without `mail.timestamp`: a hard bounce with its own time, and a send
    # with none, whose time can only be the SNS envelope's.
    untimed_bounce = copy.deepcopy(by_name["bounce-notification-with-a-dsn"])
    del untimed_bounce["mail"]["timestamp"]
    untimed_send = copy.deepcopy(by_name["send-record"])
    del untimed_send["mail"]["timestamp"]
    docs["missing-mail-timestamp"] = [
        ("missing-mail-timestamp/bounce", compact(untimed_bounce)),
        ("missing-mail-timestamp/send", compact(untimed_send)),
    ]

    # Values outside what SES documents: a bounce type seen in third-party payloads (it means
    # Transient), a feedback type no ISP registers, and a delay type SES never listed.
    temporary = copy.deepcopy(by_name["bounce-record"])
    temporary["bounce"]["bounceType"] = "Temporary"
    temporary["bounce"]["bounceSubType"] = "MailboxFull"
    temporary["bounce"]["feedbackId"] = "temporary-bounce-feedback-id"
    spam = copy.deepcopy(by_name["complaint-record"])
    spam["complaint"]["complaintFeedbackType"] = "spam"
    spam["complaint"]["feedbackId"] = "spam-complaint-feedback-id"
    throttled = copy.deepcopy(by_name["deliverydelay-record"])
    throttled["deliveryDelay"]["delayType"] = "Throttled"
    docs["undocumented-values"] = [
        ("undocumented-values/bounce-type", compact(temporary)),
        ("undocumented-values/feedback-type", compact(spam)),
        ("undocumented-values/delay-type", compact(throttled)),
    ]

    # Setup messages SES sends once per topic or destination: no events, and no errors.
    subscribed = {
        "notificationType": "AmazonSnsSubscriptionSucceeded",
        "message": f"You have successfully subscribed your Amazon SNS topic '{TOPIC_ARN}' to receive 'Bounce' notifications from Amazon SES for identity 'example.com'.",
    }
    docs["setup-notices"] = [
        ("setup-notices/validation", VALIDATION_NOTICE),
        ("setup-notices/subscription-succeeded", compact(subscribed) + "\n"),
    ]

    for name, messages in docs.items():
        records = [
            sns_record(record_name, message, "2018-10-08T14:05:46.000Z")
            for record_name, message in messages
        ]
        write(out / "oddities" / f"{name}.json", sns_event(records))

    # SNS envelope field spellings: `SigningCertURL`/`UnsubscribeURL` in a Lambda record.
    record = sns_record("signing-cert-url-caps", compact(by_name["send-record"]), "2016-10-14T05:02:17.000Z", False)
    write(out / "oddities" / "signing-cert-url-caps.json", sns_event([record]))


def receiving_mail(recipient):
    """SES receiving's `mail` and `receipt` (inbound mail to the operator's own domain)."""
    mail = {
        "timestamp": "2024-03-04T10:15:30.123Z",
        "source": "customer@example.org",
        "messageId": "o3vrnil0e2ic28trm7dfhrc2v0clambda4nbp0g1",
        "destination": [recipient],
        "headersTruncated": False,
        "headers": [{"name": "From", "value": "Customer <customer@example.org>"}],
        "commonHeaders": {
            "returnPath": "customer@example.org",
            "from": ["Customer <customer@example.org>"],
            "date": "Mon, 4 Mar 2024 10:15:29 +0000",
            "to": [recipient],
            "messageId": "<0123456789@example.org>",
            "subject": "Re: your order",
        },
    }
    verdict = {"status": "PASS"}
    receipt = {
        "timestamp": "2024-03-04T10:15:30.123Z",
        "processingTimeMillis": 574,
        "recipients": [recipient],
        "spamVerdict": verdict,
        "virusVerdict": verdict,
        "spfVerdict": verdict,
        "dkimVerdict": verdict,
        "dmarcVerdict": verdict,
    }
    return mail, receipt


def skipped(out):
    """Messages that reach SES topics, queues and files but are no sending events."""
    inbox = "support@example.com"
    mail, receipt = receiving_mail(inbox)
    received_sns = {
        "notificationType": "Received",
        "mail": mail,
        "receipt": {**receipt, "action": {"type": "SNS", "topicArn": TOPIC_ARN, "encoding": "UTF8"}},
        "content": "Return-Path: <customer@example.org>\r\nSubject: Re: your order\r\n\r\nThanks!\r\n",
    }
    write(
        out / "skipped" / "received-mail-sns.json",
        sns_event([sns_record("skipped/received", compact(received_sns), "2024-03-04T10:15:31.000Z")]),
    )
    function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:inbound-mail"
    lambda_receipt = {**receipt, "action": {"type": "Lambda", "functionArn": function_arn, "invocationType": "Event"}}
    write(
        out / "skipped" / "received-mail-lambda.json",
        {"Records": [{"eventSource": "aws:ses", "eventVersion": "1.0", "ses": {"mail": mail, "receipt": lambda_receipt}}]},
    )

    def sns_control(kind, name, message):
        return {
            "Type": kind,
            "MessageId": uid(f"skipped/{name}"),
            "Token": hashlib.sha256(name.encode()).hexdigest() * 2,
            "TopicArn": TOPIC_ARN,
            "Message": message,
            "SubscribeURL": f"https://sns.{REGION}.amazonaws.com/?Action=ConfirmSubscription&TopicArn={TOPIC_ARN}&Token=EXAMPLE",
            "Timestamp": "2024-03-04T10:00:00.000Z",
            "SignatureVersion": "1",
            "Signature": "EXAMPLE",
            "SigningCertURL": CERT_URL,
        }

    confirm = sns_control(
        "SubscriptionConfirmation",
        "subscription-confirmation",
        f"You have chosen to subscribe to the topic {TOPIC_ARN}.\nTo confirm the subscription, visit the SubscribeURL included in this message.",
    )
    unsubscribe = sns_control(
        "UnsubscribeConfirmation",
        "unsubscribe-confirmation",
        f"You have chosen to deactivate subscription {TOPIC_ARN}:{uid('subscription')}.\nTo cancel this operation and restore the subscription, visit the SubscribeURL included in this message.",
    )
    # What an HTTPS endpoint receives (and captured dumps hold): the bare SNS JSON.
    write(out / "skipped" / "sns-subscription-confirmation.json", confirm)
    write(out / "skipped" / "sns-unsubscribe-confirmation.json", unsubscribe)
    # What a queue subscribed across accounts receives until someone confirms.
    body = json.dumps(confirm, indent=2, separators=(",", " : "))
    write(
        out / "skipped" / "sqs-subscription-confirmation.json",
        {"Records": [sqs_record("skipped/subscription-confirmation", body)]},
    )


def malformed(by_name, out):
    """SNS -> Lambda events whose Message cannot be used."""
    delivery = compact(by_name["delivery-record"])
    wrong_types = copy.deepcopy(by_name["delivery-record"])
    wrong_types["mail"]["destination"] = "x"
    missing_id = copy.deepcopy(by_name["delivery-record"])
    del missing_id["mail"]["messageId"]
    bad_time = copy.deepcopy(by_name["bounce-record"])
    bad_time["bounce"]["timestamp"] = "yesterday"
    cases = {
        "not-json-message": "Delivery notification for recipient@example.com",
        "truncated-message": delivery[: len(delivery) // 2],
        "not-ses-message": json.dumps({"hello": "world"}),
        "wrong-types": compact(wrong_types),
        "missing-message-id": compact(missing_id),
        "bad-timestamp": compact(bad_time),
    }
    for name, message in cases.items():
        record = sns_record(f"malformed/{name}", message, "2016-10-19T23:21:05.000Z")
        write(out / "malformed" / f"{name}.json", sns_event([record]))
    # A send with no time anywhere: no `mail.timestamp`, no event time, an envelope trimmed of
    # its Timestamp.
    untimed = copy.deepcopy(by_name["send-record"])
    del untimed["mail"]["timestamp"]
    record = sns_record("malformed/no-time-at-all", compact(untimed), "2016-10-19T23:21:05.000Z")
    del record["Sns"]["Timestamp"]
    write(out / "malformed" / "no-time-at-all.json", sns_event([record]))


def on_failure_record(name, request_payload):
    """What Lambda writes to an on-failure destination after the last retry of an async
    invocation (the direct transport's DLQ): the original event is `requestPayload`."""
    return {
        "version": "1.0",
        "timestamp": "2026-11-20T10:05:00.123Z",
        "requestContext": {
            "requestId": uid(f"request/{name}"),
            "functionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:ses-ledger-ingest:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 3,
        },
        "requestPayload": request_payload,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {
            "errorType": "StoreUnavailable",
            "errorMessage": "1 of 1 SES messages were not recorded: storage: TransactWriteItems: throttled",
        },
    }


def received(name, body):
    """One message of `aws sqs receive-message` output."""
    return {
        "MessageId": uid(f"dlq/{name}"),
        "ReceiptHandle": "AQEBEXAMPLE" + hashlib.sha256(name.encode()).hexdigest()[:24],
        "MD5OfBody": hashlib.md5(body.encode()).hexdigest(),
        "Body": body,
    }


def dead_letters(by_name, out):
    """What the two dead-letter queues hold, as an operator saves them to replay."""
    bounce = "bounce-notification-with-a-dsn"
    direct = sns_event([sns_record(bounce, compact(by_name[bounce]), sns_time(by_name[bounce]))])
    write(out / "dlq" / "on-failure-record.json", on_failure_record(bounce, direct))
    complaint = "complaint-record"
    complaint_event = sns_event(
        [sns_record(complaint, compact(by_name[complaint]), sns_time(by_name[complaint]))]
    )
    delivery = "delivery-record"
    redriven = json.dumps(
        sns_envelope(delivery, compact(by_name[delivery]), sns_time(by_name[delivery]), lambda_spelling=False),
        indent=2,
        separators=(",", " : "),
    )
    messages = [
        received(f"direct/{complaint}", json.dumps(on_failure_record(complaint, complaint_event))),
        received(f"sqs/{delivery}", redriven),
    ]
    write(out / "dlq" / "receive-message.json", {"Messages": messages})


def in_every_envelope(out, stem, ses, bare=True):
    """One SES message as it arrives by each route: bare (unless the caller keeps its own text),
    SNS -> Lambda, SQS (SNS envelope and raw message delivery), and EventBridge for event
    publishing."""
    message = compact(ses)
    if bare:
        write(out / "ses" / f"{stem}.json", ses)
    write(out / "sns" / f"{stem}.json", sns_event([sns_record(stem, message, sns_time(ses))]))
    # SNS writes the envelope into an SQS body pretty-printed, with " : " separators.
    envelope = json.dumps(
        sns_envelope(stem, message, sns_time(ses), lambda_spelling=False),
        indent=2,
        separators=(",", " : "),
    )
    write(out / "sqs" / f"{stem}.json", {"Records": [sqs_record(stem, envelope)]})
    write(out / "sqs" / f"{stem}-raw.json", {"Records": [sqs_record(f"{stem}-raw", message)]})
    if "eventType" in ses:
        write(out / "eventbridge" / f"{stem}.json", eventbridge_event(stem, ses))


def tenants(by_name, out):
    """SES tenants (2025): events tagged `ses:tenant-name`, and the tenant suppression list's
    bounce subtype, in every envelope."""
    out = out / "tenants"
    tenant = {"ses:tenant-name": ["acme-customer-42"]}

    delivery = copy.deepcopy(by_name["delivery-record"])
    delivery["mail"]["tags"].update(tenant)
    in_every_envelope(out, "tenant-delivery", delivery)

    complaint = copy.deepcopy(by_name["complaint-record"])
    complaint["mail"]["tags"].update(tenant)
    complaint["complaint"]["feedbackId"] = "tenant-complaint-feedback-id"
    in_every_envelope(out, "tenant-complaint", complaint)

    # An address on the tenant's own suppression list: like the account's, SES never sent it.
    suppressed = copy.deepcopy(by_name["bounce-record"])
    suppressed["mail"]["tags"].update(tenant)
    suppressed["bounce"]["bounceSubType"] = "OnTenantSuppressionList"
    suppressed["bounce"]["feedbackId"] = "tenant-suppressed-bounce-feedback-id"
    suppressed["bounce"]["bouncedRecipients"][0]["diagnosticCode"] = (
        "Amazon SES did not send the message to this address because it is on the suppression "
        "list for your tenant."
    )
    in_every_envelope(out, "tenant-suppression-list-bounce", suppressed)

    # Identity notifications carry no tags; the subtype arrives there too.
    notification = copy.deepcopy(by_name["bounce-notification-with-a-dsn"])
    notification["bounce"]["bounceSubType"] = "OnTenantSuppressionList"
    notification["bounce"]["feedbackId"] = "tenant-suppressed-notification-feedback-id"
    in_every_envelope(out, "tenant-suppression-list-bounce-notification", notification)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=Path, default=DEFAULT_EXAMPLES)
    parser.add_argument("--out", type=Path, default=ROOT / "events")
    args = parser.parse_args()
    out = args.out

    for generated in ["ses", "sns", "sqs", "eventbridge", "oddities", "malformed", "dlq", "skipped", "tenants"]:
        shutil.rmtree(out / generated, ignore_errors=True)

    examples = load_examples(args.examples)
    by_name = {}
    every = []
    for folder, items in examples.items():
        for stem, text, ses in items:
            by_name[stem] = ses
            every.append((stem, ses))
            # The official text as published, byte for byte.
            target = out / "ses" / folder / f"{stem}.json"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")

            in_every_envelope(out, stem, ses, bare=False)

    write(
        out / "sns" / "batch-all-types.json",
        sns_event([sns_record(f"batch/{stem}", compact(ses), sns_time(ses)) for stem, ses in every]),
    )
    oddities(by_name, out)
    skipped(out)
    tenants(by_name, out)
    malformed(by_name, out)
    dead_letters(by_name, out)


if __name__ == "__main__":
    main()
