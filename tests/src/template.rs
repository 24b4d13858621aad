//! A CloudFormation template as a deployment would see it: the SAM expansion (with its parameters
//! and conditions resolved for one set of values) or the CDK output. The template tests use it to
//! hold both stacks to rules that the local stack cannot check: key and topic policies, names
//! unique to the stack, deletion policies, alarms.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

/// The synthesised templates, written by scripts/test.sh before the tests run.
pub fn synth_dir() -> PathBuf {
    crate::repo_root().join(".cache")
}

pub fn sam_expansion() -> PathBuf {
    synth_dir().join("sam-expanded/template.json")
}

pub fn cdk_output(variant: &str) -> PathBuf {
    synth_dir().join(format!("cdk-synth/{variant}/SesLedger.template.json"))
}

/// One resource, with `Fn::If` resolved and `AWS::NoValue` removed.
#[derive(Debug, Clone)]
pub struct Resource {
    pub id: String,
    pub kind: String,
    pub properties: Value,
    pub deletion_policy: Option<String>,
    pub update_replace_policy: Option<String>,
}

impl Resource {
    pub fn prop(&self, name: &str) -> Option<&Value> {
        self.properties.get(name)
    }
}

/// The resources that one deployment creates, and its outputs.
#[derive(Debug)]
pub struct Deployment {
    pub source: String,
    pub resources: BTreeMap<String, Resource>,
    pub outputs: BTreeMap<String, Value>,
}

impl Deployment {
    /// Loads `path` and resolves it for `parameters` (the rest take their defaults).
    pub fn load(path: &Path, parameters: &[(&str, &str)]) -> Deployment {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; scripts/test.sh writes it (scripts/lint-template.sh, scripts/cdk.sh synth)",
                path.display()
            )
        });
        let template: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
        Deployment::resolve(&template, parameters, &path.display().to_string())
    }

    pub fn resolve(template: &Value, parameters: &[(&str, &str)], source: &str) -> Deployment {
        let mut values: HashMap<String, Value> = HashMap::new();
        if let Some(params) = template.get("Parameters").and_then(Value::as_object) {
            for (name, spec) in params {
                if let Some(default) = spec.get("Default") {
                    values.insert(name.clone(), Value::String(scalar(default)));
                }
            }
        }
        for (name, value) in parameters {
            assert!(
                values.contains_key(*name),
                "{source}: no parameter {name} to set"
            );
            values.insert((*name).to_string(), Value::String((*value).to_string()));
        }
        let mut resolver = Resolver {
            parameters: values,
            conditions: HashMap::new(),
            definitions: template
                .get("Conditions")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
        };
        let mut resources = BTreeMap::new();
        for (id, resource) in template["Resources"].as_object().into_iter().flatten() {
            if let Some(condition) = resource.get("Condition").and_then(Value::as_str) {
                if !resolver.condition(condition) {
                    continue;
                }
            }
            let properties = resource
                .get("Properties")
                .map(|p| resolver.value(p))
                .unwrap_or(Value::Object(Map::new()));
            resources.insert(
                id.clone(),
                Resource {
                    id: id.clone(),
                    kind: resource["Type"].as_str().unwrap_or_default().to_string(),
                    properties,
                    deletion_policy: resource
                        .get("DeletionPolicy")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    update_replace_policy: resource
                        .get("UpdateReplacePolicy")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                },
            );
        }
        let mut outputs = BTreeMap::new();
        for (id, output) in template
            .get("Outputs")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            if let Some(condition) = output.get("Condition").and_then(Value::as_str) {
                if !resolver.condition(condition) {
                    continue;
                }
            }
            outputs.insert(id.clone(), resolver.value(output));
        }
        Deployment {
            source: source.to_string(),
            resources,
            outputs,
        }
    }

    pub fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Resource> + 'a {
        self.resources.values().filter(move |r| r.kind == kind)
    }

    pub fn get(&self, id: &str) -> Option<&Resource> {
        self.resources.get(id)
    }

    /// The resource a value points at through `Ref` or `Fn::GetAtt`, if it is one of ours.
    pub fn target(&self, value: &Value) -> Option<&Resource> {
        reference(value).and_then(|id| self.resources.get(&id))
    }

    /// The function a metric dimension, an event source or a permission names.
    pub fn functions(&self) -> impl Iterator<Item = &Resource> {
        self.of_kind("AWS::Lambda::Function")
    }

    /// Which function is which, across SAM and CDK: the description both give it.
    pub fn function_by_description(&self, starts_with: &str) -> &Resource {
        self.functions()
            .find(|f| {
                f.prop("Description")
                    .and_then(Value::as_str)
                    .is_some_and(|d| d.starts_with(starts_with))
            })
            .unwrap_or_else(|| panic!("{}: no function described as {starts_with:?}", self.source))
    }

    /// Allow statements of the resource policy that applies to `resource` (topic, queue or key).
    pub fn resource_policy_statements(&self, resource: &Resource) -> Vec<Value> {
        let mut out = Vec::new();
        match resource.kind.as_str() {
            "AWS::KMS::Key" => out.extend(statements(resource.prop("KeyPolicy"))),
            "AWS::SNS::Topic" | "AWS::SQS::Queue" => {
                let (policy_kind, list) = if resource.kind == "AWS::SNS::Topic" {
                    ("AWS::SNS::TopicPolicy", "Topics")
                } else {
                    ("AWS::SQS::QueuePolicy", "Queues")
                };
                for policy in self.of_kind(policy_kind) {
                    let applies = policy
                        .prop(list)
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .any(|t| reference(t).as_deref() == Some(resource.id.as_str()));
                    if applies {
                        out.extend(statements(policy.prop("PolicyDocument")));
                    }
                }
            }
            _ => {}
        }
        out
    }

    /// The IAM role a function runs as.
    pub fn role_of(&self, function: &Resource) -> &Resource {
        function
            .prop("Role")
            .and_then(|r| self.target(r))
            .unwrap_or_else(|| panic!("{}: {} has no role of ours", self.source, function.id))
    }

    /// Every statement the role's inline policies and attached AWS::IAM::Policy resources hold.
    pub fn role_statements(&self, role: &Resource) -> Vec<Value> {
        let mut out = Vec::new();
        for policy in role
            .prop("Policies")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            out.extend(statements(policy.get("PolicyDocument")));
        }
        for policy in self.of_kind("AWS::IAM::Policy") {
            let attached = policy
                .prop("Roles")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(|r| reference(r).as_deref() == Some(role.id.as_str()));
            if attached {
                out.extend(statements(policy.prop("PolicyDocument")));
            }
        }
        out
    }

    /// The actions a function's role allows, with the managed policies it carries.
    pub fn function_permissions(&self, function: &Resource) -> BTreeSet<String> {
        let role = self.role_of(function);
        let mut actions: BTreeSet<String> = self
            .role_statements(role)
            .iter()
            .filter(|s| s["Effect"] == "Allow")
            .flat_map(|s| strings(&s["Action"]))
            .collect();
        for arn in role
            .prop("ManagedPolicyArns")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let text = serde_json::to_string(arn).unwrap_or_default();
            let name = text.rsplit('/').next().unwrap_or_default();
            actions.insert(format!(
                "managed:{}",
                name.trim_matches(|c| c == '"' || c == ']' || c == '}')
            ));
        }
        actions
    }
}

/// Conditions and parameters of one deployment.
struct Resolver {
    parameters: HashMap<String, Value>,
    conditions: HashMap<String, bool>,
    definitions: Map<String, Value>,
}

impl Resolver {
    fn condition(&mut self, name: &str) -> bool {
        if let Some(known) = self.conditions.get(name) {
            return *known;
        }
        let definition = self
            .definitions
            .get(name)
            .cloned()
            .unwrap_or_else(|| panic!("no condition {name}"));
        let value = self.truth(&definition);
        self.conditions.insert(name.to_string(), value);
        value
    }

    fn truth(&mut self, expr: &Value) -> bool {
        let Some((function, args)) = expr.as_object().and_then(|o| o.iter().next()) else {
            panic!("not a condition: {expr}");
        };
        match function.as_str() {
            "Fn::Equals" => {
                let a = self.value(&args[0]);
                let b = self.value(&args[1]);
                scalar(&a) == scalar(&b)
            }
            "Fn::Not" => !self.truth(&args[0]),
            "Fn::And" => args.as_array().into_iter().flatten().all(|a| self.truth(a)),
            "Fn::Or" => args.as_array().into_iter().flatten().any(|a| self.truth(a)),
            "Condition" => self.condition(args.as_str().unwrap_or_default()),
            other => panic!("condition function {other} is not modelled"),
        }
    }

    /// Resolves `Fn::If`, parameter `Ref`s and `AWS::NoValue`, and `Fn::Split`, `Fn::Join` and
    /// `Fn::Sub`'s variables where their arguments resolve to text; other intrinsics stay as they
    /// are.
    fn value(&mut self, value: &Value) -> Value {
        match value {
            Value::Object(map) if map.len() == 1 && map.contains_key("Fn::Split") => {
                let args = self.value(&map["Fn::Split"]);
                match (args[0].as_str(), args[1].as_str()) {
                    (Some(delimiter), Some(text)) => {
                        Value::Array(text.split(delimiter).map(Value::from).collect())
                    }
                    _ => serde_json::json!({ "Fn::Split": args }),
                }
            }
            Value::Object(map) if map.len() == 1 && map.contains_key("Fn::Join") => {
                let args = self.value(&map["Fn::Join"]);
                let parts: Option<Vec<&str>> = args[1]
                    .as_array()
                    .and_then(|items| items.iter().map(Value::as_str).collect());
                match (args[0].as_str(), parts) {
                    (Some(delimiter), Some(parts)) => Value::from(parts.join(delimiter)),
                    _ => serde_json::json!({ "Fn::Join": args }),
                }
            }
            Value::Object(map)
                if map.len() == 1 && map.get("Fn::Sub").is_some_and(Value::is_array) =>
            {
                let args = self.value(&map["Fn::Sub"]);
                let mut text = args[0].as_str().unwrap_or_default().to_string();
                let mut unresolved = Map::new();
                for (name, v) in args[1].as_object().into_iter().flatten() {
                    match v.as_str() {
                        Some(v) => text = text.replace(&format!("${{{name}}}"), v),
                        None => {
                            unresolved.insert(name.clone(), v.clone());
                        }
                    }
                }
                if unresolved.is_empty() && !text.contains("${") {
                    Value::from(text)
                } else {
                    serde_json::json!({ "Fn::Sub": [text, unresolved] })
                }
            }
            Value::Object(map) if map.len() == 1 && map.contains_key("Fn::If") => {
                let args = &map["Fn::If"];
                let chosen = if self.condition(args[0].as_str().unwrap_or_default()) {
                    &args[1]
                } else {
                    &args[2]
                };
                self.value(chosen)
            }
            Value::Object(map) if map.len() == 1 && map.contains_key("Ref") => {
                let name = map["Ref"].as_str().unwrap_or_default();
                self.parameters
                    .get(name)
                    .cloned()
                    .unwrap_or_else(|| value.clone())
            }
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), self.value(v)))
                    .filter(|(_, v)| !is_no_value(v))
                    .collect(),
            ),
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|v| self.value(v))
                    .filter(|v| !is_no_value(v))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

fn is_no_value(value: &Value) -> bool {
    value.get("Ref").and_then(Value::as_str) == Some("AWS::NoValue")
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The logical id behind `{"Ref": id}` or `{"Fn::GetAtt": [id, attr]}`.
pub fn reference(value: &Value) -> Option<String> {
    if let Some(id) = value.get("Ref").and_then(Value::as_str) {
        return Some(id.to_string());
    }
    match value.get("Fn::GetAtt") {
        Some(Value::Array(parts)) => parts.first().and_then(Value::as_str).map(str::to_string),
        Some(Value::String(path)) => path.split('.').next().map(str::to_string),
        _ => None,
    }
}

/// The statements of a policy document (an object or a list).
pub fn statements(document: Option<&Value>) -> Vec<Value> {
    match document.and_then(|d| d.get("Statement")) {
        Some(Value::Array(list)) => list.clone(),
        Some(one @ Value::Object(_)) => vec![one.clone()],
        _ => Vec::new(),
    }
}

/// A string or a list of strings, as a list.
pub fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

/// The service principals an Allow statement names, e.g. `ses.amazonaws.com`.
pub fn service_principals(statement: &Value) -> Vec<String> {
    if statement["Effect"] != "Allow" {
        return Vec::new();
    }
    strings(&statement["Principal"]["Service"])
}

/// Whether a statement allows `action`, directly or through a trailing wildcard.
pub fn allows(statement: &Value, action: &str) -> bool {
    statement["Effect"] == "Allow"
        && strings(&statement["Action"]).iter().any(|a| {
            a == action
                || a == "*"
                || a.strip_suffix('*')
                    .is_some_and(|prefix| action.starts_with(prefix))
        })
}

/// Whether a statement only applies to requests made on behalf of this account.
pub fn limited_to_this_account(statement: &Value) -> bool {
    let conditions = statement.get("Condition").and_then(Value::as_object);
    conditions.into_iter().flatten().any(|(_, keys)| {
        keys.as_object().into_iter().flatten().any(|(key, value)| {
            let key = key.to_ascii_lowercase();
            let text = value.to_string();
            (key == "aws:sourceaccount" && text.contains("AWS::AccountId"))
                || (key == "kms:encryptioncontext:aws:sns:topicarn"
                    && text.contains("AWS::AccountId"))
                || (key == "aws:sourcearn"
                    && (text.contains("AWS::AccountId")
                        || value.get("Ref").is_some()
                        || text.contains("arn:")))
        })
    })
}

/// Whether a name property can only be the same in two stacks if the stacks have the same name.
pub fn carries_stack_name(value: &Value) -> bool {
    value.to_string().contains("AWS::StackName")
}
