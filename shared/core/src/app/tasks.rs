//! Tasks: the record of an asynchronous operation, polled by clients.

use serde_json::{json, Map, Value};

use super::views::{record, Page, TaskView};
use super::{from_item, keys, to_item};
use crate::context::AppContext;
use crate::domain::entities::Task;
use crate::domain::ids::IdKind;
use crate::domain::status::TaskStatus;
use crate::domain::time::now_rfc3339;
use crate::error::Error;
use crate::ports::{Cond, Update, Write};

pub fn new_task(
    org_id: &str,
    namespace_id: Option<&str>,
    task_type: &str,
    inputs: Vec<Value>,
) -> Task {
    let now = now_rfc3339();
    Task {
        task_id: IdKind::Task.new_id(),
        task_type: task_type.to_string(),
        status: TaskStatus::Pending,
        org_id: org_id.to_string(),
        namespace_id: namespace_id.map(str::to_string),
        inputs,
        outputs: Vec::new(),
        additional_data: Map::new(),
        error: None,
        created_at: now.clone(),
        updated_at: now,
    }
}

pub fn create_write(task: &Task) -> Write {
    Write::create(to_item(&keys::task(&task.org_id, &task.task_id), task))
}

/// A message whose task never appeared is dropped after this many deliveries.
const ORPHAN_AFTER_RECEIVES: u32 = 3;

/// The task a queued message works for. Messages are sent before their task record is
/// committed (so no committed task lacks its work); until the record appears the message
/// is retried, and a message whose request never committed is dropped. `Ok(None)`: drop it.
pub async fn for_message(
    ctx: &AppContext,
    org_id: &str,
    task_id: &str,
    receive_count: u32,
) -> Result<Option<Task>, Error> {
    if let Some(task) = get(ctx, org_id, task_id).await? {
        return Ok(Some(task));
    }
    if receive_count >= ORPHAN_AFTER_RECEIVES {
        tracing::warn!(
            task_id,
            "message without a task: its request never committed; dropped"
        );
        return Ok(None);
    }
    Err(Error::NotYet(format!(
        "task {task_id} is not committed yet"
    )))
}

pub async fn get(ctx: &AppContext, org_id: &str, task_id: &str) -> Result<Option<Task>, Error> {
    match ctx.table.get(&keys::task(org_id, task_id)).await? {
        Some(item) => Ok(Some(from_item(item)?)),
        None => Ok(None),
    }
}

/// Moves a task to `status`; terminal statuses carry outputs or an error.
pub async fn set_status(
    ctx: &AppContext,
    org_id: &str,
    task_id: &str,
    status: TaskStatus,
    outputs: Option<Vec<Value>>,
    error: Option<String>,
) -> Result<(), Error> {
    let mut updates = vec![
        Update::Set("status".into(), json!(status)),
        Update::Set("updated_at".into(), json!(now_rfc3339())),
    ];
    if let Some(o) = outputs {
        updates.push(Update::Set("outputs".into(), json!(o)));
    }
    if let Some(e) = error {
        updates.push(Update::Set("error".into(), json!(e)));
    }
    ctx.table
        .write(Write::Update {
            key: keys::task(org_id, task_id),
            updates,
            cond: Cond::Exists,
        })
        .await?;
    Ok(())
}

#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListTasks {
    pub status: Option<String>,
    pub task_type: Option<String>,
    pub filters: Option<Value>,
    pub sort: Option<Value>,
    pub search: Option<String>,
}

/// The org's tasks, newest first.
pub async fn list(
    ctx: &AppContext,
    org_id: &str,
    req: &ListTasks,
    page: &super::lists::ListRequest,
) -> Result<Page<TaskView>, Error> {
    let size = page.page_size()?;
    let list = super::lists::ListRequest {
        filters: req.filters.clone(),
        search: req.search.clone(),
        ..super::lists::ListRequest::default()
    };
    let filter = list.filter(&["task_type", "task_id", "status"])?;
    let query = crate::ports::Query::partition(keys::org_pk(org_id))
        .prefix("TASK#")
        .cursor(page.cursor()?)
        .descending(true);
    let (results, next) = super::lists::collect(ctx.table.as_ref(), query, size, &filter, |item| {
        let t: Task = from_item(item)?;
        let wanted = req
            .status
            .as_ref()
            .is_none_or(|s| s.eq_ignore_ascii_case(t.status.as_str()))
            && req
                .task_type
                .as_ref()
                .is_none_or(|k| k.eq_ignore_ascii_case(&t.task_type));
        wanted.then(|| record(&TaskView::from(&t))).transpose()
    })
    .await?;
    Ok(Page::new(results, next, size, None))
}
