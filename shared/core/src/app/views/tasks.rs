//! The response views of tasks.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::domain::entities::Task;
use crate::domain::status::TaskStatus;

#[derive(Debug, Serialize, JsonSchema)]
pub struct TaskView {
    pub task_id: String,
    pub task_type: String,
    pub status: TaskStatus,
    pub namespace_id: Option<String>,
    pub inputs: Vec<Value>,
    pub outputs: Vec<Value>,
    pub additional_data: Map<String, Value>,
    pub error: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Task> for TaskView {
    fn from(t: &Task) -> Self {
        TaskView {
            task_id: t.task_id.clone(),
            task_type: t.task_type.clone(),
            status: t.status,
            namespace_id: t.namespace_id.clone(),
            inputs: t.inputs.clone(),
            outputs: t.outputs.clone(),
            additional_data: t.additional_data.clone(),
            error: t.error.clone(),
            created_at: t.created_at.clone(),
            updated_at: t.updated_at.clone(),
        }
    }
}
