//! The single table on DynamoDB.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck, Delete, DeleteRequest,
    GlobalSecondaryIndex, KeySchemaElement, KeyType, KeysAndAttributes, Projection, ProjectionType,
    Put, PutRequest, ReturnValue, ScalarAttributeType, TransactWriteItem, Update as DdbUpdate,
    WriteRequest,
};
use aws_sdk_dynamodb::Client;
use futures::{stream, StreamExt};
use serde_json::Value;

use sluice_core::ports::{
    Cond, CursorPos, Item, Key, Page, Query, StoreError, StoreResult, Table, Update, Write,
};

type Attrs = HashMap<String, AttributeValue>;

const GSI1: &str = "gsi1";
const PREFIX_END: char = '\u{10FFFF}';

pub struct DynamoTable {
    client: Client,
    table: String,
    /// Only for emulators: moto rolls a cancelled transaction back by restoring a
    /// snapshot of the whole table, losing writes that landed meanwhile. With this set,
    /// transactions run alone and other writes wait for them. Real DynamoDB needs none.
    emulator_lock: Option<tokio::sync::RwLock<()>>,
}

impl DynamoTable {
    pub fn new(client: Client, table: String) -> Self {
        DynamoTable {
            client,
            table,
            emulator_lock: None,
        }
    }

    /// Serialises transactions against other writes (see `emulator_lock`).
    pub fn serialize_transactions(mut self) -> Self {
        self.emulator_lock = Some(tokio::sync::RwLock::new(()));
        self
    }

    /// Held by a plain write: waits while a transaction runs (emulators only).
    async fn beside_others(&self) -> Option<tokio::sync::RwLockReadGuard<'_, ()>> {
        match &self.emulator_lock {
            Some(lock) => Some(lock.read().await),
            None => None,
        }
    }

    /// Held by a transaction: runs alone (emulators only).
    async fn alone(&self) -> Option<tokio::sync::RwLockWriteGuard<'_, ()>> {
        match &self.emulator_lock {
            Some(lock) => Some(lock.write().await),
            None => None,
        }
    }
}

fn to_attrs(item: &Item) -> StoreResult<Attrs> {
    serde_dynamo::to_item(item).map_err(StoreError::backend)
}

fn from_attrs(attrs: Attrs) -> StoreResult<Item> {
    serde_dynamo::from_item(attrs).map_err(StoreError::backend)
}

fn to_attr(v: &Value) -> StoreResult<AttributeValue> {
    serde_dynamo::to_attribute_value(v).map_err(StoreError::backend)
}

fn key_attrs(key: &Key) -> Attrs {
    HashMap::from([
        ("pk".to_string(), AttributeValue::S(key.pk.clone())),
        ("sk".to_string(), AttributeValue::S(key.sk.clone())),
    ])
}

/// Names and values of one expression (DynamoDB wants placeholders for both).
#[derive(Default)]
struct Expr {
    names: HashMap<String, String>,
    values: Attrs,
}

impl Expr {
    fn name(&mut self, attr: &str) -> String {
        let placeholder = format!("#n{}", self.names.len());
        self.names.insert(placeholder.clone(), attr.to_string());
        placeholder
    }
    fn value(&mut self, v: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.insert(placeholder.clone(), v);
        placeholder
    }
    fn condition(&mut self, cond: &Cond) -> StoreResult<Option<String>> {
        Ok(match cond {
            Cond::None => None,
            Cond::NotExists => Some(format!("attribute_not_exists({})", self.name("pk"))),
            Cond::Exists => Some(format!("attribute_exists({})", self.name("pk"))),
            Cond::Equals(attr, v) => {
                let n = self.name(attr);
                let val = self.value(to_attr(v)?);
                Some(format!("{n} = {val}"))
            }
            Cond::In(attr, values) => {
                let n = self.name(attr);
                let vals = values
                    .iter()
                    .map(|v| Ok(self.value(to_attr(v)?)))
                    .collect::<StoreResult<Vec<_>>>()?;
                Some(format!("{n} IN ({})", vals.join(", ")))
            }
            Cond::MissingOrBelow(attr, bound) => {
                let pk = self.name("pk");
                let n = self.name(attr);
                let val = self.value(AttributeValue::N(bound.to_string()));
                Some(format!("attribute_not_exists({pk}) OR {n} < {val}"))
            }
        })
    }
    fn update(&mut self, updates: &[Update]) -> StoreResult<String> {
        let (mut set, mut add, mut remove) = (Vec::new(), Vec::new(), Vec::new());
        for u in updates {
            match u {
                Update::Set(a, v) => {
                    let n = self.name(a);
                    let val = self.value(to_attr(v)?);
                    set.push(format!("{n} = {val}"));
                }
                Update::Add(a, d) => {
                    let n = self.name(a);
                    let val = self.value(AttributeValue::N(d.to_string()));
                    add.push(format!("{n} {val}"));
                }
                Update::Remove(a) => remove.push(self.name(a)),
            }
        }
        let mut parts = Vec::new();
        if !set.is_empty() {
            parts.push(format!("SET {}", set.join(", ")));
        }
        if !add.is_empty() {
            parts.push(format!("ADD {}", add.join(", ")));
        }
        if !remove.is_empty() {
            parts.push(format!("REMOVE {}", remove.join(", ")));
        }
        Ok(parts.join(" "))
    }
    fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }
    fn values(&self) -> Option<Attrs> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

/// Maps an SDK error: condition failures and throttling become what the core acts on.
fn map_err<E, R>(e: SdkError<E, R>) -> StoreError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let code = e
        .as_service_error()
        .and_then(|s| s.code())
        .map(str::to_string);
    match code.as_deref() {
        Some("ConditionalCheckFailedException") => StoreError::ConditionFailed { index: None },
        Some(
            "ProvisionedThroughputExceededException"
            | "ThrottlingException"
            | "RequestLimitExceeded"
            | "TransactionConflictException",
        ) => StoreError::Busy,
        _ => StoreError::Backend(format!(
            "{}",
            aws_sdk_dynamodb::error::DisplayErrorContext(e)
        )),
    }
}

fn transact_item(table: &str, op: &Write) -> StoreResult<TransactWriteItem> {
    let mut e = Expr::default();
    let built = match op {
        Write::Put { item, cond } => {
            let c = e.condition(cond)?;
            let put = Put::builder()
                .table_name(table)
                .set_item(Some(to_attrs(item)?))
                .set_condition_expression(c)
                .set_expression_attribute_names(e.names())
                .set_expression_attribute_values(e.values())
                .build()
                .map_err(StoreError::backend)?;
            TransactWriteItem::builder().put(put).build()
        }
        Write::Update { key, updates, cond } => {
            let u = e.update(updates)?;
            let c = e.condition(cond)?;
            let update = DdbUpdate::builder()
                .table_name(table)
                .set_key(Some(key_attrs(key)))
                .update_expression(u)
                .set_condition_expression(c)
                .set_expression_attribute_names(e.names())
                .set_expression_attribute_values(e.values())
                .build()
                .map_err(StoreError::backend)?;
            TransactWriteItem::builder().update(update).build()
        }
        Write::Delete { key, cond } => {
            let c = e.condition(cond)?;
            let delete = Delete::builder()
                .table_name(table)
                .set_key(Some(key_attrs(key)))
                .set_condition_expression(c)
                .set_expression_attribute_names(e.names())
                .set_expression_attribute_values(e.values())
                .build()
                .map_err(StoreError::backend)?;
            TransactWriteItem::builder().delete(delete).build()
        }
        Write::Check { key, cond } => {
            let c = e
                .condition(cond)?
                .unwrap_or_else(|| "attribute_exists(pk) OR attribute_not_exists(pk)".into());
            let check = ConditionCheck::builder()
                .table_name(table)
                .set_key(Some(key_attrs(key)))
                .condition_expression(c)
                .set_expression_attribute_names(e.names())
                .set_expression_attribute_values(e.values())
                .build()
                .map_err(StoreError::backend)?;
            TransactWriteItem::builder().condition_check(check).build()
        }
    };
    Ok(built)
}

/// The key condition of a query: its partition, and its sort-key prefix or bound.
fn key_condition(q: &Query) -> (Expr, String) {
    let mut e = Expr::default();
    let pk_name = e.name(q.partition_attr());
    let pk_val = e.value(AttributeValue::S(q.pk.clone()));
    let mut key_cond = format!("{pk_name} = {pk_val}");
    let lo = q.sk_prefix.clone();
    let mut hi = q.sk_prefix.as_ref().map(|p| format!("{p}{PREFIX_END}"));
    if let Some(max) = &q.sk_max {
        hi = Some(match hi {
            Some(h) if h.as_str() < max.as_str() => h,
            _ => max.clone(),
        });
    }
    match (lo, hi) {
        (Some(lo), Some(hi)) => {
            let sk_name = e.name(q.sort_key_attr());
            let lo_val = e.value(AttributeValue::S(lo));
            let hi_val = e.value(AttributeValue::S(hi));
            key_cond.push_str(&format!(" AND {sk_name} BETWEEN {lo_val} AND {hi_val}"));
        }
        (None, Some(hi)) => {
            let sk_name = e.name(q.sort_key_attr());
            let hi_val = e.value(AttributeValue::S(hi));
            key_cond.push_str(&format!(" AND {sk_name} <= {hi_val}"));
        }
        _ => {}
    }
    (e, key_cond)
}

#[async_trait]
impl Table for DynamoTable {
    async fn get(&self, key: &Key) -> StoreResult<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_attrs(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(map_err)?;
        out.item.map(from_attrs).transpose()
    }

    async fn write(&self, op: Write) -> StoreResult<Option<Item>> {
        if let check @ Write::Check { .. } = op {
            return self.transact(vec![check]).await.map(|_| None);
        }
        let _shared = self.beside_others().await;
        let mut e = Expr::default();
        match op {
            Write::Put { item, cond } => {
                let c = e.condition(&cond)?;
                self.client
                    .put_item()
                    .table_name(&self.table)
                    .set_item(Some(to_attrs(&item)?))
                    .set_condition_expression(c)
                    .set_expression_attribute_names(e.names())
                    .set_expression_attribute_values(e.values())
                    .send()
                    .await
                    .map_err(map_err)?;
                Ok(None)
            }
            Write::Update { key, updates, cond } => {
                let u = e.update(&updates)?;
                let c = e.condition(&cond)?;
                let out = self
                    .client
                    .update_item()
                    .table_name(&self.table)
                    .set_key(Some(key_attrs(&key)))
                    .update_expression(u)
                    .set_condition_expression(c)
                    .set_expression_attribute_names(e.names())
                    .set_expression_attribute_values(e.values())
                    .return_values(ReturnValue::AllNew)
                    .send()
                    .await
                    .map_err(map_err)?;
                out.attributes.map(from_attrs).transpose()
            }
            Write::Delete { key, cond } => {
                let c = e.condition(&cond)?;
                self.client
                    .delete_item()
                    .table_name(&self.table)
                    .set_key(Some(key_attrs(&key)))
                    .set_condition_expression(c)
                    .set_expression_attribute_names(e.names())
                    .set_expression_attribute_values(e.values())
                    .send()
                    .await
                    .map_err(map_err)?;
                Ok(None)
            }
            Write::Check { .. } => unreachable!("checks run as transactions above"),
        }
    }

    async fn transact(&self, ops: Vec<Write>) -> StoreResult<()> {
        let items = ops
            .iter()
            .map(|op| transact_item(&self.table, op))
            .collect::<StoreResult<Vec<_>>>()?;
        let _alone = self.alone().await;
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => {
                if let Some(aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c)) =
                    err.as_service_error()
                {
                    let reasons = c.cancellation_reasons();
                    if let Some(i) = reasons.iter().position(|r| r.code() == Some("ConditionalCheckFailed")) {
                        return Err(StoreError::ConditionFailed { index: Some(i) });
                    }
                    if reasons.iter().any(|r| matches!(r.code(), Some("TransactionConflict" | "ThrottlingError" | "ProvisionedThroughputExceeded"))) {
                        return Err(StoreError::Busy);
                    }
                }
                Err(map_err(err))
            }
        }
    }

    async fn transact_each(&self, groups: Vec<Vec<Write>>) -> Vec<StoreResult<()>> {
        stream::iter(groups.into_iter().map(|group| async move {
            if group.len() == 1 {
                // One write needs no transaction (and costs half as much).
                let op = group.into_iter().next().expect("one op");
                self.write(op).await.map(|_| ()).map_err(|e| match e {
                    StoreError::ConditionFailed { .. } => {
                        StoreError::ConditionFailed { index: Some(0) }
                    }
                    other => other,
                })
            } else {
                self.transact(group).await
            }
        }))
        .buffered(16)
        .collect()
        .await
    }

    async fn count(&self, q: &Query) -> StoreResult<u64> {
        let (e, key_cond) = key_condition(q);
        let mut start = None;
        let mut n = 0u64;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .set_index_name(q.index.map(|_| GSI1.to_string()))
                .key_condition_expression(&key_cond)
                .set_expression_attribute_names(e.names())
                .set_expression_attribute_values(e.values())
                .select(aws_sdk_dynamodb::types::Select::Count)
                .set_exclusive_start_key(start)
                .set_consistent_read(q.index.is_none().then_some(true))
                .send()
                .await
                .map_err(map_err)?;
            n += out.count.max(0) as u64;
            match out.last_evaluated_key {
                Some(k) => start = Some(k),
                None => return Ok(n),
            }
        }
    }

    async fn query(&self, q: &Query) -> StoreResult<Page> {
        let (e, key_cond) = key_condition(q);
        let start = match &q.cursor {
            Some(c) => {
                let pos = CursorPos::decode(c, q)?;
                let mut k = HashMap::from([("sk".to_string(), AttributeValue::S(pos.sk.clone()))]);
                match q.index {
                    None => {
                        k.insert("pk".into(), AttributeValue::S(q.pk.clone()));
                    }
                    Some(_) => {
                        k.insert(
                            "pk".into(),
                            AttributeValue::S(pos.pk.clone().unwrap_or_default()),
                        );
                        k.insert(q.partition_attr().into(), AttributeValue::S(q.pk.clone()));
                        k.insert(
                            q.sort_key_attr().into(),
                            AttributeValue::S(pos.isk.clone().unwrap_or_default()),
                        );
                    }
                }
                Some(k)
            }
            None => None,
        };
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(q.index.map(|_| GSI1.to_string()))
            .key_condition_expression(key_cond)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .set_exclusive_start_key(start)
            .scan_index_forward(!q.descending)
            .set_consistent_read(q.index.is_none().then_some(true))
            .limit((q.limit + 1) as i32)
            .send()
            .await
            .map_err(map_err)?;
        let more_upstream = out.last_evaluated_key.is_some();
        let mut items = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(from_attrs)
            .collect::<StoreResult<Vec<_>>>()?;
        let cursor = if items.len() > q.limit {
            items.truncate(q.limit);
            items
                .last()
                .and_then(|l| CursorPos::after(l, q))
                .map(|p| p.encode())
        } else if more_upstream {
            // DynamoDB stopped at its 1 MB page: continue after what it returned.
            items
                .last()
                .and_then(|l| CursorPos::after(l, q))
                .map(|p| p.encode())
        } else {
            None
        };
        Ok(Page { items, cursor })
    }

    async fn delete_many(&self, keys: Vec<Key>) -> StoreResult<()> {
        let requests = keys
            .iter()
            .map(|k| {
                DeleteRequest::builder()
                    .set_key(Some(key_attrs(k)))
                    .build()
                    .map(|d| WriteRequest::builder().delete_request(d).build())
                    .map_err(StoreError::backend)
            })
            .collect::<StoreResult<Vec<_>>>()?;
        self.batch_write(requests).await
    }

    async fn put_many(&self, items: Vec<Item>) -> StoreResult<()> {
        let requests = items
            .iter()
            .map(|item| {
                PutRequest::builder()
                    .set_item(Some(to_attrs(item)?))
                    .build()
                    .map(|p| WriteRequest::builder().put_request(p).build())
                    .map_err(StoreError::backend)
            })
            .collect::<StoreResult<Vec<_>>>()?;
        self.batch_write(requests).await
    }

    async fn get_many(&self, keys: Vec<Key>) -> StoreResult<Vec<Item>> {
        let mut found = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(100) {
            let mut wanted = KeysAndAttributes::builder()
                .set_keys(Some(chunk.iter().map(key_attrs).collect()))
                .consistent_read(true)
                .build()
                .map_err(StoreError::backend)?;
            let mut backoff = std::time::Duration::from_millis(50);
            for attempt in 0.. {
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, wanted.clone())
                    .send()
                    .await
                    .map_err(map_err)?;
                if let Some(mut responses) = out.responses {
                    for attrs in responses.remove(&self.table).unwrap_or_default() {
                        found.push(from_attrs(attrs)?);
                    }
                }
                match out.unprocessed_keys.and_then(|mut m| m.remove(&self.table)) {
                    Some(rest) if !rest.keys().is_empty() => wanted = rest,
                    _ => break,
                }
                if attempt >= 8 {
                    return Err(StoreError::Busy);
                }
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
        }
        Ok(found)
    }
}

impl DynamoTable {
    /// BatchWriteItem in chunks of 25, retrying unprocessed items with backoff.
    async fn batch_write(&self, requests: Vec<WriteRequest>) -> StoreResult<()> {
        let _shared = self.beside_others().await;
        for chunk in requests.chunks(25) {
            let mut pending = chunk.to_vec();
            let mut backoff = std::time::Duration::from_millis(50);
            for attempt in 0.. {
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, pending.clone())
                    .send()
                    .await
                    .map_err(map_err)?;
                pending = out
                    .unprocessed_items
                    .and_then(|mut m| m.remove(&self.table))
                    .unwrap_or_default();
                if pending.is_empty() {
                    break;
                }
                if attempt >= 8 {
                    return Err(StoreError::Busy);
                }
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
        }
        Ok(())
    }
}

/// Creates the table as the SAM template declares it (for stand-ins and the admin CLI).
pub async fn create_table(client: &Client, table: &str) -> anyhow::Result<()> {
    let attr = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
    };
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
    };
    let result = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("pk")?)
        .attribute_definitions(attr("sk")?)
        .attribute_definitions(attr("gsi1pk")?)
        .attribute_definitions(attr("gsi1sk")?)
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?)
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(GSI1)
                .key_schema(key("gsi1pk", KeyType::Hash)?)
                .key_schema(key("gsi1sk", KeyType::Range)?)
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()?,
        )
        .send()
        .await;
    match result {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_in_use_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(anyhow::anyhow!(
            "create table {table}: {}",
            aws_sdk_dynamodb::error::DisplayErrorContext(e)
        )),
    }
}
