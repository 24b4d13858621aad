//! An SQS queue subscribed to an SNS topic, to read what a test's alarm published.

use aws_config::SdkConfig;

/// An SQS queue subscribed to an SNS topic: a test reads exactly what the topic published.
pub struct Inbox {
    pub sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
    sns: aws_sdk_sns::Client,
    topic: String,
}

impl Inbox {
    /// Creates the topic (idempotent) and a queue subscribed to it; returns the topic ARN too.
    pub async fn subscribe(aws: &SdkConfig, topic_name: &str, queue_name: &str) -> (String, Inbox) {
        let sns = aws_sdk_sns::Client::new(aws);
        let sqs = aws_sdk_sqs::Client::new(aws);
        let topic = sns
            .create_topic()
            .name(topic_name)
            .send()
            .await
            .expect("topic")
            .topic_arn
            .expect("topic arn");
        let queue_url = sqs
            .create_queue()
            .queue_name(queue_name)
            .send()
            .await
            .expect("queue")
            .queue_url
            .expect("queue url");
        sns.subscribe()
            .topic_arn(&topic)
            .protocol("sqs")
            .endpoint(format!("arn:aws:sqs:us-east-1:123456789012:{queue_name}"))
            .send()
            .await
            .expect("subscribe");
        (
            topic.clone(),
            Inbox {
                sqs,
                queue_url,
                sns,
                topic,
            },
        )
    }

    /// Every message the topic published since the last call (SNS envelopes as JSON), removed
    /// from the queue. Call it once what published has returned: it publishes a marker of its own
    /// to the topic and reads until the marker arrives, so whatever was published before it is in
    /// hand, and a "nothing more" assertion is not fooled by a message that is only late (a quiet
    /// spell proves nothing). Fails after 30 s without the marker.
    pub async fn receive(&self) -> Vec<serde_json::Value> {
        let marker = format!("inbox-marker-{}", uuid::Uuid::new_v4());
        self.sns
            .publish()
            .topic_arn(&self.topic)
            .message(&marker)
            .send()
            .await
            .expect("publish the marker");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let mut out = Vec::new();
        let mut marked = false;
        // After the marker, one more read takes anything a looser queue returned after it.
        let mut reads_after_marker = 0;
        while reads_after_marker < 1 {
            assert!(
                std::time::Instant::now() < deadline,
                "the inbox's marker did not arrive within 30 s ({} messages before it)",
                out.len()
            );
            let got = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(if marked { 0 } else { 1 })
                .send()
                .await
                .expect("receive");
            if marked {
                reads_after_marker += 1;
            }
            for m in got.messages() {
                let envelope: serde_json::Value =
                    serde_json::from_str(m.body().unwrap_or("null")).expect("SNS envelope");
                self.sqs
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .set_receipt_handle(m.receipt_handle().map(str::to_string))
                    .send()
                    .await
                    .expect("delete");
                if envelope["Message"] == marker.as_str() {
                    marked = true;
                } else {
                    out.push(envelope);
                }
            }
        }
        out
    }
}
