//! SNS adapter for alerts: the subject and body for email subscribers, message attributes for
//! subscription filter policies.

use aws_sdk_sns::types::MessageAttributeValue;
use aws_sdk_sns::Client;

use ses_ledger::alarm::Alert;
use ses_ledger::ports::{AlertPublisher, StoreError};

pub struct SnsAlertPublisher {
    client: Client,
    topic_arn: String,
}

impl SnsAlertPublisher {
    pub fn new(client: Client, topic_arn: impl Into<String>) -> Self {
        SnsAlertPublisher {
            client,
            topic_arn: topic_arn.into(),
        }
    }
}

fn attribute(value: &str) -> Result<MessageAttributeValue, StoreError> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| StoreError::service("build MessageAttributeValue", e))
}

impl AlertPublisher for SnsAlertPublisher {
    async fn publish(&self, alert: &Alert) -> Result<(), StoreError> {
        self.client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(&alert.subject)
            .message(&alert.body)
            .message_attributes("severity", attribute(alert.severity.as_str())?)
            .message_attributes("scope", attribute(&alert.scope)?)
            .message_attributes("metric", attribute(alert.metric.as_str())?)
            .send()
            .await
            .map_err(|e| StoreError::service("Publish (alert)", e))?;
        Ok(())
    }
}
