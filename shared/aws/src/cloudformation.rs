//! A deployed stack's outputs, read with CloudFormation's `DescribeStacks`: what the CLI's
//! `--stack` names the table, the log group, the topics and the functions by. The SAM template
//! and the CDK app write the same output names (a parity test holds them equal), so either
//! stack works.

use std::collections::BTreeMap;

use aws_sdk_cloudformation::Client;

/// The outputs every ses-ledger stack has, whichever way it was deployed; a stack with none of
/// them is not one of ours.
pub const REQUIRED_OUTPUTS: [&str; 2] = ["LedgerTableName", "EventLogGroupName"];

/// The outputs `ses-ledger doctor` reads, in every deployment of the stack (SAM or CDK, either
/// transport, with or without a topic of the operator's): the template tests hold both stacks to
/// them.
pub const DOCTOR_OUTPUTS: [&str; 9] = [
    "LedgerTableName",
    "EventLogGroupName",
    "SesEventTopicArn",
    "AlertTopicArn",
    "IngestFunctionName",
    "CountFunctionName",
    "AlarmFunctionName",
    "IngestDeadLetterQueueUrl",
    "CountDeadLetterQueueUrl",
];

/// A stack's outputs and parameters by key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StackOutputs {
    /// The stack as the caller named it (a name or a stack id).
    pub stack: String,
    /// Its name as CloudFormation has it (what `${AWS::StackName}` was in its resources).
    pub name: String,
    pub outputs: BTreeMap<String, String>,
    /// The SAM stack's parameter values (a CDK stack's settings are context, not parameters).
    pub parameters: BTreeMap<String, String>,
}

impl StackOutputs {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.outputs.get(key).map(String::as_str)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("CloudFormation has no stack {stack:?} in this account and region ({message}); name the stack as `sam deploy` or `cdk deploy` named it, and check --region / AWS_REGION")]
    Missing { stack: String, message: String },
    #[error("stack {stack:?} has none of ses-ledger's outputs ({}): is it a ses-ledger stack? (its outputs: {found})", REQUIRED_OUTPUTS.join(", "))]
    NotOurs { stack: String, found: String },
    #[error("stack {stack:?}: {output} is missing; its outputs: {found}")]
    MissingOutput {
        stack: String,
        output: String,
        found: String,
    },
    #[error("DescribeStacks {stack:?} failed: {message}")]
    Unreadable { stack: String, message: String },
}

/// The outputs of `stack` (a name or a stack id).
pub async fn stack_outputs(client: &Client, stack: &str) -> Result<StackOutputs, StackError> {
    let out = client
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| {
            let message = aws_sdk_cloudformation::error::DisplayErrorContext(&e).to_string();
            // CloudFormation answers an unknown stack with a ValidationError that says so.
            if message.contains("does not exist") {
                StackError::Missing {
                    stack: stack.to_string(),
                    message: "it does not exist".into(),
                }
            } else {
                StackError::Unreadable {
                    stack: stack.to_string(),
                    message,
                }
            }
        })?;
    let Some(found) = out.stacks().first() else {
        return Err(StackError::Missing {
            stack: stack.to_string(),
            message: "DescribeStacks returned no stack".into(),
        });
    };
    let outputs: BTreeMap<String, String> = found
        .outputs()
        .iter()
        .filter_map(|o| Some((o.output_key()?.to_string(), o.output_value()?.to_string())))
        .collect();
    let parameters: BTreeMap<String, String> = found
        .parameters()
        .iter()
        .filter_map(|p| {
            Some((
                p.parameter_key()?.to_string(),
                p.parameter_value()?.to_string(),
            ))
        })
        .collect();
    let ours = StackOutputs {
        stack: stack.to_string(),
        name: found.stack_name().unwrap_or(stack).to_string(),
        outputs,
        parameters,
    };
    if REQUIRED_OUTPUTS.iter().all(|k| ours.get(k).is_none()) {
        return Err(StackError::NotOurs {
            stack: stack.to_string(),
            found: ours.listed(),
        });
    }
    Ok(ours)
}

impl StackOutputs {
    /// `key`'s value, or an error naming the stack and what it has.
    pub fn require(&self, key: &str) -> Result<&str, StackError> {
        self.get(key).ok_or_else(|| StackError::MissingOutput {
            stack: self.stack.clone(),
            output: key.to_string(),
            found: self.listed(),
        })
    }

    fn listed(&self) -> String {
        if self.outputs.is_empty() {
            "none".into()
        } else {
            self.outputs.keys().cloned().collect::<Vec<_>>().join(", ")
        }
    }
}
