//! The ledger table, as template.yaml declares it.

use super::items::attr;
use super::*;

/// Creates the ledger table as template.yaml declares it (for local stacks and tests; in AWS the
/// stack creates it). Waits until it is active.
pub async fn create_table(client: &Client, table_name: &str) -> Result<(), StoreError> {
    create(client, table_name, false).await
}

/// The same table with a change stream of new and old images, which the counting consumer reads
/// (as in AWS; DynamoDB Local writes much slower with a stream, so tests that count nothing skip
/// it).
pub async fn create_table_with_stream(client: &Client, table_name: &str) -> Result<(), StoreError> {
    create(client, table_name, true).await
}

async fn create(client: &Client, table_name: &str, stream: bool) -> Result<(), StoreError> {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
        Projection, ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
        TimeToLiveSpecification,
    };
    let attr = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(|e| StoreError::service("build AttributeDefinition", e))
    };
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .map_err(|e| StoreError::service("build KeySchemaElement", e))
    };
    client
        .create_table()
        .table_name(table_name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr(keys::PK)?)
        .attribute_definitions(attr(keys::SK)?)
        .attribute_definitions(attr(attr::RECIPIENT)?)
        .attribute_definitions(attr(attr::EVENT_TIME)?)
        .key_schema(key(keys::PK, KeyType::Hash)?)
        .key_schema(key(keys::SK, KeyType::Range)?)
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(RECIPIENT_INDEX)
                .key_schema(key(attr::RECIPIENT, KeyType::Hash)?)
                .key_schema(key(attr::EVENT_TIME, KeyType::Range)?)
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::Include)
                        .set_non_key_attributes(Some(
                            RECIPIENT_INDEX_PROJECTION
                                .iter()
                                .map(|a| a.to_string())
                                .collect(),
                        ))
                        .build(),
                )
                .build()
                .map_err(|e| StoreError::service("build GlobalSecondaryIndex", e))?,
        )
        .set_stream_specification(
            stream
                .then(|| {
                    StreamSpecification::builder()
                        .stream_enabled(true)
                        .stream_view_type(StreamViewType::NewAndOldImages)
                        .build()
                })
                .transpose()
                .map_err(|e| StoreError::service("build StreamSpecification", e))?,
        )
        .send()
        .await
        .map_err(|e| StoreError::service("CreateTable", e))?;
    client
        .update_time_to_live()
        .table_name(table_name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(keys::EXPIRES_AT)
                .enabled(true)
                .build()
                .map_err(|e| StoreError::service("build TimeToLiveSpecification", e))?,
        )
        .send()
        .await
        .map_err(|e| StoreError::service("UpdateTimeToLive", e))?;
    Ok(())
}
