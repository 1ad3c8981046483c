//! What the route table implies, written out: one Lambda binary per route and one
//! template function per route (its HTTP event, its IAM policy, and for routes that
//! embed the models layer and memory). `cargo xtask routes` writes them; the test in
//! `tests/` fails when the committed files differ from what this would write.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use sluice_api::{Permission, Route, ROUTES};
use sluice_core::ports::QueueName;

/// A queue, event or schedule worker: one Lambda binary each, written from this table
/// as the route binaries are from the route table.
pub struct Worker {
    pub function: &'static str,
    /// The crate whose `src/bin` holds it (the batch worker embeds, so it lives apart).
    pub crate_dir: &'static str,
    /// What it does, for its binary's doc line.
    pub doc: &'static str,
    /// The expression its `main` returns.
    pub main: &'static str,
}

pub const WORKERS: &[Worker] = &[
    Worker {
        function: "batch-worker",
        crate_dir: "functions/lambda-models",
        doc: "SQS: chunks of submitted batches, through the namespace's feature extractors.",
        main: "sluice_lambda::work_queue_with(\n        sluice_core::ports::QueueName::Batches,\n        sluice_lambda_models::with_models,\n    )",
    },
    Worker {
        function: "tasks-worker",
        crate_dir: "functions/lambda",
        doc: "Works the tasks queue (purges, bulk upload confirms, clones' document copies).",
        main: "sluice_lambda::work_queue(sluice_core::ports::QueueName::Tasks)",
    },
    Worker {
        function: "upload-events",
        crate_dir: "functions/lambda",
        doc: "S3 Object Created (EventBridge) → confirms the upload the bytes belong to.",
        main: "sluice_lambda::confirm_stored_uploads()",
    },
    Worker {
        function: "sweeper",
        crate_dir: "functions/lambda",
        doc: "Scheduled: fails expired uploads and stalled batches; purges soft deletes past their window.",
        main: "sluice_lambda::sweep()",
    },
    Worker {
        function: "webhook-dispatcher",
        crate_dir: "functions/lambda",
        doc: "SQS: events from the bus (fanned out to subscribed webhooks) and delivery retries.",
        main: "sluice_lambda::work_queue(sluice_core::ports::QueueName::Webhooks)",
    },
    Worker {
        function: "sync-poller",
        crate_dir: "functions/lambda",
        doc: "Scheduled (every minute): starts the syncs that are due and resumes lapsed runs.",
        main: "sluice_lambda::poll_syncs()",
    },
    Worker {
        function: "sync-worker",
        crate_dir: "functions/lambda",
        doc: "Works the syncs queue: one page of a sync run per message.",
        main: "sluice_lambda::work_queue(sluice_core::ports::QueueName::Syncs)",
    },
];

/// A worker's binary: its doc line and its `main`.
pub fn worker_source(w: &Worker) -> String {
    format!(
        "//! {}\nfn main() -> Result<(), sluice_lambda::Error> {{\n    {}\n}}\n",
        w.doc, w.main
    )
}

/// The configuration reference, from `sluice_core::config`.
pub const CONFIGURATION_PATH: &str = "docs/configuration.md";

/// The committed OpenAPI document the server serves.
pub const OPENAPI_PATH: &str = "shared/api/openapi.json";

pub const BEGIN: &str =
    "  # BEGIN route stacks: written by `cargo xtask routes` from the route table (shared/api/src/routes); edit that, not this.\n";
pub const END: &str = "  # END route stacks\n";

/// The crate whose `src/bin` holds a route's binary: routes that embed live apart, so
/// the others do not link the models, Bedrock or the extractors.
pub fn crate_dir(route: &Route) -> &'static str {
    if route.embeds {
        "functions/lambda-models"
    } else {
        "functions/lambda"
    }
}

pub fn bin_path(route: &Route) -> PathBuf {
    Path::new(crate_dir(route))
        .join("src/bin")
        .join(format!("{}.rs", route.function()))
}

/// The AWS clients a route's binary builds: named here, so it links no others. Laid out
/// as rustfmt lays out a chain (one call a line past its 60-character chain width), so
/// `cargo fmt` leaves the file as written.
fn clients(route: &Route) -> String {
    let mut c = String::new();
    for (used, name) in [
        (route.uses_blobs(), "blobs"),
        (route.uses_queues(), "queues"),
        (route.may(Permission::PublishEvents), "events"),
        (route.uses_vectors(), "vectors"),
        (route.may(Permission::UseCredentials), "credentials"),
        (
            route.may(Permission::SealSecrets) && !route.may(Permission::UseCredentials),
            "sealer",
        ),
    ] {
        if used {
            let _ = match name {
                "credentials" => write!(c, ".credentials(sluice_lambda::connectors)"),
                _ => write!(c, ".{name}()"),
            };
        }
    }
    let chain = format!("Clients::table(){c}");
    if chain.len() <= 60 {
        return chain;
    }
    format!("Clients::table(){}", c.replace(".", "\n        ."))
}

pub fn bin_source(route: &Route) -> String {
    let serve = if route.embeds {
        format!(
            "    let route = &{}::{};\n    let clients = {};\n    sluice_lambda::serve_route_with(route, clients, sluice_lambda_models::with_models)\n",
            route.module,
            route.ident,
            clients(route),
        )
    } else {
        format!(
            "    let route = &{}::{};\n    let clients = {};\n    sluice_lambda::serve_route(route, clients)\n",
            route.module,
            route.ident,
            clients(route),
        )
    };
    format!(
        "//! {} {} (written by `cargo xtask routes`)\nuse sluice_lambda::Clients;\n\nfn main() -> Result<(), sluice_lambda::Error> {{\n{serve}}}\n",
        route.method, route.path
    )
}

fn resource_name(function: &str) -> String {
    let mut name = String::new();
    for part in function.split('-') {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            name.extend(first.to_uppercase());
            name.push_str(chars.as_str());
        }
    }
    name + "Function"
}

fn queue_resource(q: QueueName) -> &'static str {
    match q {
        QueueName::Tasks => "TasksQueue",
        QueueName::Batches => "BatchesQueue",
        QueueName::Webhooks => "WebhooksQueue",
        QueueName::Syncs => "SyncsQueue",
    }
}

/// What a route stack takes from the root stack: its parameter, and the root's value.
/// A stack declares (and is passed) only those its text refers to.
const SHARED: &[(&str, &str)] = &[
    ("HttpApiId", "!Ref HttpApi"),
    ("Architecture", "!Ref Architecture"),
    ("LogLevel", "!Ref LogLevel"),
    ("PurgeSettleSeconds", "!Ref PurgeSettleSeconds"),
    ("EmbeddingBackend", "!Ref EmbeddingBackend"),
    ("BedrockEmbeddingModel", "!Ref BedrockEmbeddingModel"),
    ("TableName", "!Ref Table"),
    ("TableArn", "!GetAtt Table.Arn"),
    ("BlobBucketName", "!Ref BlobBucket"),
    ("BlobBucketArn", "!GetAtt BlobBucket.Arn"),
    ("TasksQueueUrl", "!Ref TasksQueue"),
    ("TasksQueueArn", "!GetAtt TasksQueue.Arn"),
    ("BatchesQueueUrl", "!Ref BatchesQueue"),
    ("BatchesQueueArn", "!GetAtt BatchesQueue.Arn"),
    ("WebhooksQueueUrl", "!Ref WebhooksQueue"),
    ("WebhooksQueueArn", "!GetAtt WebhooksQueue.Arn"),
    ("SyncsQueueUrl", "!Ref SyncsQueue"),
    ("SyncsQueueArn", "!GetAtt SyncsQueue.Arn"),
    ("EventBusName", "!Ref EventBus"),
    ("EventBusArn", "!GetAtt EventBus.Arn"),
    ("VectorBucketArn", "!GetAtt VectorBucket.VectorBucketArn"),
    ("CredentialKeyId", "!Ref CredentialKey"),
    ("CredentialKeyArn", "!GetAtt CredentialKey.Arn"),
    ("ModelsLayerArn", "!Ref ModelsLayer"),
    ("AllowSameAccountRoles", "!Ref AllowSameAccountRoles"),
    ("Tracing", "!Ref Tracing"),
    ("FunctionLogGroup", "!Ref FunctionLogGroup"),
    ("ServiceName", "!Ref AWS::StackName"),
];

fn statement(out: &mut String, actions: &[&str], resources: &[&str]) {
    out.push_str("            - Effect: Allow\n              Action:\n");
    for a in actions {
        let _ = writeln!(out, "                - {a}");
    }
    out.push_str("              Resource:\n");
    for r in resources {
        let _ = writeln!(out, "                - {r}");
    }
}

fn policies(route: &Route) -> String {
    use Permission::*;
    let mut s = String::new();
    let has = |p| route.permissions.contains(&p);
    let mut table = Vec::new();
    if has(ReadTable) {
        table.extend([
            "dynamodb:GetItem",
            "dynamodb:Query",
            "dynamodb:BatchGetItem",
        ]);
    }
    if has(WriteTable) {
        table.extend([
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:ConditionCheckItem",
            "dynamodb:BatchWriteItem",
        ]);
    }
    if !table.is_empty() {
        statement(
            &mut s,
            &table,
            &["!Ref TableArn", "!Sub \"${TableArn}/index/*\""],
        );
    }
    let blobs: Vec<&str> = [
        (GetBlobs, "s3:GetObject"),
        (PutBlobs, "s3:PutObject"),
        (DeleteBlobs, "s3:DeleteObject"),
        (ListBlobParts, "s3:ListMultipartUploadParts"),
        (AbortBlobUploads, "s3:AbortMultipartUpload"),
    ]
    .into_iter()
    .filter(|(p, _)| has(*p))
    .map(|(_, a)| a)
    .collect();
    if !blobs.is_empty() {
        statement(&mut s, &blobs, &["!Sub \"${BlobBucketArn}/*\""]);
    }
    if has(PublishEvents) {
        statement(&mut s, &["events:PutEvents"], &["!Ref EventBusArn"]);
    }
    for p in route.permissions {
        if let Send(q) = p {
            let arn = format!("!Ref {}Arn", queue_resource(*q));
            statement(&mut s, &["sqs:SendMessage"], &[&arn]);
        }
    }
    let vectors: Vec<&str> = [
        (QueryVectors, "s3vectors:QueryVectors"),
        (GetVectors, "s3vectors:GetVectors"),
        (PutVectors, "s3vectors:PutVectors"),
        (PutVectors, "s3vectors:CreateIndex"),
        (PutVectors, "s3vectors:GetIndex"),
        (DeleteVectors, "s3vectors:DeleteVectors"),
        (DeleteVectorIndexes, "s3vectors:DeleteIndex"),
    ]
    .into_iter()
    .filter(|(p, _)| has(*p))
    .map(|(_, a)| a)
    .collect();
    if !vectors.is_empty() {
        statement(
            &mut s,
            &vectors,
            &[
                "!Ref VectorBucketArn",
                "!Sub \"${VectorBucketArn}/index/*\"",
            ],
        );
    }
    if has(UseCredentials) || has(SealSecrets) {
        statement(
            &mut s,
            &["kms:GenerateDataKey", "kms:Decrypt"],
            &["!Ref CredentialKeyArn"],
        );
    }
    if has(UseCredentials) {
        // A connection's iam_role credentials: the role's trust policy decides, but never
        // a role of Sluice's own account unless the operator allows it.
        statement(&mut s, &["sts:AssumeRole"], &["\"*\""]);
        s.push_str(SAME_ACCOUNT_DENY);
    }
    if has(InvokeBedrock) {
        let models: Vec<String> = sluice_core::domain::embedding::bedrock_models()
            .map(|m| format!("!Sub \"arn:${{AWS::Partition}}:bedrock:${{AWS::Region}}::foundation-model/{m}\""))
            .collect();
        let models: Vec<&str> = models.iter().map(String::as_str).collect();
        statement(&mut s, &["bedrock:InvokeModel"], &models);
    }
    if s.is_empty() {
        return s;
    }
    format!("      Policies:\n        - Version: \"2012-10-17\"\n          Statement:\n{s}")
}

const SAME_ACCOUNT_DENY: &str = "            - !If
              - SameAccountRolesAllowed
              - !Ref AWS::NoValue
              - Effect: Deny
                Action: sts:AssumeRole
                Resource: !Sub \"arn:${AWS::Partition}:iam::${AWS::AccountId}:role/*\"
";

/// The API Gateway source ARN of a route: path parameters match any segment.
fn source_arn(route: &Route) -> String {
    let path: Vec<&str> = route
        .path
        .split('/')
        .map(|seg| if seg.starts_with('{') { "*" } else { seg })
        .collect();
    format!(
        "!Sub \"arn:${{AWS::Partition}}:execute-api:${{AWS::Region}}:${{AWS::AccountId}}:${{HttpApiId}}/*/{}{}\"",
        route.method,
        path.join("/")
    )
}

/// A route's resources in its stack: the function (its IAM role comes with it), and its
/// API Gateway integration, route and invoke permission.
pub fn template_block(route: &Route) -> String {
    let function = resource_name(&route.function());
    let base = function.trim_end_matches("Function");
    let mut s = format!(
        "  {function}:\n    Type: AWS::Serverless::Function\n    Metadata:\n      BuildMethod: rust-cargolambda\n      BuildProperties:\n        Binary: {}\n    Properties:\n      Description: {} {}\n",
        route.function(),
        route.method,
        route.path
    );
    if route.embeds {
        s.push_str("      # The model is loaded once per container; it needs the memory (and the CPU share).\n      MemorySize: 1024\n      Layers:\n        - !Ref ModelsLayerArn\n");
    }
    s.push_str(&policies(route));
    let _ = write!(
        s,
        "  {base}Integration:\n    Type: AWS::ApiGatewayV2::Integration\n    Properties:\n      ApiId: !Ref HttpApiId\n      IntegrationType: AWS_PROXY\n      IntegrationUri: !GetAtt {function}.Arn\n      PayloadFormatVersion: \"2.0\"\n\
         \x20 {base}Route:\n    Type: AWS::ApiGatewayV2::Route\n    Properties:\n      ApiId: !Ref HttpApiId\n      RouteKey: {} {}\n      Target: !Sub \"integrations/${{{base}Integration}}\"\n\
         \x20 {base}Permission:\n    Type: AWS::Lambda::Permission\n    Properties:\n      Action: lambda:InvokeFunction\n      FunctionName: !Ref {function}\n      Principal: apigateway.amazonaws.com\n      SourceArn: {}\n",
        route.method,
        route.path,
        source_arn(route),
    );
    s
}

/// The route modules, in the table's order: each is one nested stack.
pub fn route_groups() -> Vec<&'static str> {
    let mut groups: Vec<&'static str> = Vec::new();
    for r in ROUTES.iter() {
        let group = group_of(r);
        if !groups.contains(&group) {
            groups.push(group);
        }
    }
    groups
}

fn group_of(route: &Route) -> &'static str {
    route.module.rsplit("::").next().unwrap_or(route.module)
}

pub fn stack_path(group: &str) -> PathBuf {
    PathBuf::from(format!("stacks/routes-{group}.yaml"))
}

fn stack_resource(group: &str) -> String {
    let mut name: String = group
        .split('_')
        .map(|part| {
            let mut c = part.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect();
    name.push_str("Routes");
    name
}

/// The settings every function of a route stack shares, as the root's `Globals`.
const STACK_GLOBALS: &str = "Globals:
  Function:
    # Paths are relative to this file: the workspace is one level up.
    CodeUri: ..
    Handler: bootstrap
    Runtime: provided.al2023
    Architectures:
      - !Ref Architecture
    MemorySize: 256
    Timeout: 29
    Tracing: !Ref Tracing
    LoggingConfig:
      LogFormat: JSON
      LogGroup: !Ref FunctionLogGroup
    Environment:
      Variables:
        SLUICE_TABLE: !Ref TableName
        SLUICE_BUCKET: !Ref BlobBucketName
        SLUICE_TASKS_QUEUE_URL: !Ref TasksQueueUrl
        SLUICE_BATCHES_QUEUE_URL: !Ref BatchesQueueUrl
        SLUICE_WEBHOOKS_QUEUE_URL: !Ref WebhooksQueueUrl
        SLUICE_SYNCS_QUEUE_URL: !Ref SyncsQueueUrl
        SLUICE_CREDENTIAL_KEY: !Ref CredentialKeyId
        SLUICE_EVENT_BUS: !Ref EventBusName
        SLUICE_VECTOR_BUCKET: !Select [1, !Split [\"/\", !Ref VectorBucketArn]]
        SLUICE_MODELS_DIR: /opt/models
        SLUICE_EMBEDDING_BACKEND: !Ref EmbeddingBackend
        SLUICE_BEDROCK_MODEL: !Ref BedrockEmbeddingModel
        SLUICE_LOG: !Ref LogLevel
        SLUICE_PURGE_SETTLE_SECS: !Ref PurgeSettleSeconds
        SLUICE_AWS_ACCOUNT_ID: !Ref AWS::AccountId
        SLUICE_ALLOW_SAME_ACCOUNT_ROLES: !Ref AllowSameAccountRoles
        POWERTOOLS_METRICS_NAMESPACE: Sluice
        POWERTOOLS_SERVICE_NAME: !Ref ServiceName
        SSL_CERT_FILE: /etc/pki/tls/certs/ca-bundle.crt
";

/// The parameters of `SHARED` that `text` refers to.
fn used_parameters(text: &str) -> Vec<(&'static str, &'static str)> {
    SHARED
        .iter()
        .copied()
        .filter(|(name, _)| {
            text.contains(&format!("!Ref {name}\n"))
                || text.contains(&format!("!Ref {name}]"))
                || text.contains(&format!("${{{name}}}"))
        })
        .collect()
}

/// A route module's nested stack: its routes' functions and API resources.
pub fn stack_template(group: &str) -> String {
    let blocks: Vec<String> = ROUTES
        .iter()
        .filter(|r| group_of(r) == group)
        .map(|r| template_block(r))
        .collect();
    let body = format!("{STACK_GLOBALS}\nResources:\n{}", blocks.join("\n"));
    let mut params = String::new();
    for (name, _) in used_parameters(&body) {
        let _ = write!(params, "  {name}:\n    Type: String\n");
    }
    let conditions = if body.contains("- SameAccountRolesAllowed\n") {
        "Conditions:\n  SameAccountRolesAllowed: !Equals [!Ref AllowSameAccountRoles, \"true\"]\n\n"
    } else {
        ""
    };
    format!(
        "AWSTemplateFormatVersion: \"2010-09-09\"\nTransform: AWS::Serverless-2016-10-31\nDescription: Sluice routes of {group} (written by `cargo xtask routes` from the route table; edit that, not this)\n\nParameters:\n{params}\n{conditions}{body}"
    )
}

/// The root stack's entry for a route module's nested stack.
fn stack_entry(group: &str) -> String {
    let mut s = format!(
        "  {}:\n    Type: AWS::Serverless::Application\n    Properties:\n      Location: {}\n      Parameters:\n",
        stack_resource(group),
        stack_path(group).display()
    );
    for (name, value) in used_parameters(&stack_template(group)) {
        let _ = writeln!(s, "        {name}: {value}");
    }
    s
}

/// `template` with its route-stack section replaced by the table's.
pub fn template_with_routes(template: &str) -> anyhow::Result<String> {
    let start = template
        .find(BEGIN)
        .ok_or_else(|| anyhow::anyhow!("template.yaml has no {BEGIN:?} line"))?;
    let end = template[start..]
        .find(END)
        .map(|i| start + i)
        .ok_or_else(|| anyhow::anyhow!("template.yaml has no {END:?} line"))?;
    let entries: Vec<String> = route_groups().iter().map(|g| stack_entry(g)).collect();
    Ok(format!(
        "{}{BEGIN}{}{}",
        &template[..start],
        entries.join("\n"),
        &template[end..]
    ))
}

/// A file the table implies, and what it should hold (`None`: it should not exist).
pub struct Expected {
    pub path: PathBuf,
    pub contents: Option<String>,
}

/// Every generated file under `root`, and every stale binary to remove.
pub fn expected(root: &Path) -> anyhow::Result<Vec<Expected>> {
    let mut out = Vec::new();
    for r in ROUTES.iter() {
        out.push(Expected {
            path: bin_path(r),
            contents: Some(bin_source(r)),
        });
    }
    for w in WORKERS {
        out.push(Expected {
            path: Path::new(w.crate_dir)
                .join("src/bin")
                .join(format!("{}.rs", w.function)),
            contents: Some(worker_source(w)),
        });
    }
    out.push(Expected {
        path: PathBuf::from(CONFIGURATION_PATH),
        contents: Some(sluice_core::config::reference()),
    });
    out.push(Expected {
        path: PathBuf::from(OPENAPI_PATH),
        contents: Some(serde_json::to_string_pretty(&sluice_api::openapi::document())? + "\n"),
    });
    for dir in ["functions/lambda", "functions/lambda-models"] {
        for entry in std::fs::read_dir(root.join(dir).join("src/bin"))? {
            let path = entry?.path();
            let stem = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_string();
            let known = WORKERS
                .iter()
                .any(|w| w.function == stem && w.crate_dir == dir)
                || ROUTES.iter().any(|r| {
                    bin_path(r) == Path::new(dir).join("src/bin").join(format!("{stem}.rs"))
                });
            if !known {
                out.push(Expected {
                    path: Path::new(dir)
                        .join("src/bin")
                        .join(path.file_name().unwrap()),
                    contents: None,
                });
            }
        }
    }
    for group in route_groups() {
        out.push(Expected {
            path: stack_path(group),
            contents: Some(stack_template(group)),
        });
    }
    let template = std::fs::read_to_string(root.join("template.yaml"))?;
    out.push(Expected {
        path: "template.yaml".into(),
        contents: Some(template_with_routes(&template)?),
    });
    Ok(out)
}

/// The files under `root` that differ from what the table implies.
pub fn drift(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut differ = Vec::new();
    for e in expected(root)? {
        let now = std::fs::read_to_string(root.join(&e.path)).ok();
        if now != e.contents {
            differ.push(e.path);
        }
    }
    Ok(differ)
}

/// Writes (and removes) what the table implies under `root`; returns what changed.
pub fn write(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut changed = Vec::new();
    for e in expected(root)? {
        let path = root.join(&e.path);
        let now = std::fs::read_to_string(&path).ok();
        if now == e.contents {
            continue;
        }
        match &e.contents {
            Some(c) => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                std::fs::write(&path, c)?
            }
            None => std::fs::remove_file(&path)?,
        }
        changed.push(e.path);
    }
    Ok(changed)
}

/// The workspace root (this crate's parent).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}
