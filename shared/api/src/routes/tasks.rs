//! Tasks: the background work of deletes, confirms and batches.

use super::prelude::*;

routes! {
    /// Get an asynchronous task
    TASKS_GET: GET "/v1/tasks/{task_id}" => tasks_get -> TaskView {
        access: Access::Org,
    }

    /// List tasks, newest first
    TASKS_LIST: POST "/v1/tasks/list" => tasks_list -> Page<TaskView> {
        access: Access::Org,
        request_body: Some(optional::<ListTasks>()),
    }

    /// Cancel a running task, or delete a finished one
    TASKS_DELETE: DELETE "/v1/tasks/{task_id}" => tasks_delete -> Done {
        access: Access::Org,
        permissions: &[ReadTable, WriteTable],
    }
}

async fn tasks_get(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<TaskView> {
    let id = req.param("task_id")?;
    let task = tasks::get(&ctx, c.org()?, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("task {id:?}")))?;
    Ok(TaskView::from(&task))
}

async fn tasks_list(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<Page<TaskView>> {
    let body: ListTasks = req.json_or_default()?;
    let list = ListRequest::default().merge_query(&req.query)?;
    Ok(tasks::list(&ctx, c.org()?, &body, &list).await?)
}

async fn tasks_delete(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<Done> {
    let message = batches::kill_task(&ctx, c.org()?, req.param("task_id")?).await?;
    Ok(Done::new(message))
}
