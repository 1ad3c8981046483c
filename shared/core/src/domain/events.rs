//! What Sluice tells webhooks about. Each variant is emitted somewhere, and only these
//! can be subscribed to: the accepted list, the OpenAPI enum and the payloads' names
//! all come from this one declaration.

use super::wire::wire_enum;

wire_enum! {
    /// An event's `event_type`, as webhooks receive it.
    pub enum EventType {
        ObjectCreated = "object.created",
        ObjectUpdated = "object.updated",
        ObjectDeleted = "object.deleted",
        /// One event for a bulk create, in place of one per object.
        ObjectsCreatedBatch = "objects.created.batch",
        UploadCompleted = "upload.completed",
        DocumentCreated = "document.created",
        DocumentUpdated = "document.updated",
        DocumentDeleted = "document.deleted",
        BatchCompleted = "batch.completed",
        BatchFailed = "batch.failed",
        SyncCompleted = "sync.completed",
        SyncFailed = "sync.failed",
        SyncSuspended = "sync.suspended",
        NamespaceDeleted = "namespace.deleted",
        BucketDeleted = "bucket.deleted",
    }
}

impl EventType {
    /// What the event is about (`object`, `batch`, `sync`, …), for `resource_types`.
    pub fn resource(self) -> &'static str {
        let head = self.as_str().split('.').next().unwrap_or_default();
        head.strip_suffix('s').unwrap_or(head)
    }
}

#[cfg(test)]
mod tests {
    use super::EventType;

    #[test]
    fn resources_are_singular() {
        assert_eq!(EventType::ObjectsCreatedBatch.resource(), "object");
        assert_eq!(EventType::SyncSuspended.resource(), "sync");
        assert_eq!(EventType::NamespaceDeleted.resource(), "namespace");
    }
}

#[cfg(test)]
mod emitted {
    use super::EventType;

    /// Every event type is emitted by some use case: none is offered to subscribers that
    /// nothing sends.
    #[test]
    fn every_event_type_is_emitted_somewhere() {
        let mut sources = String::new();
        let app = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/app");
        let mut dirs = vec![app];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() && !path.ends_with("tests") {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    sources += text.split("#[cfg(test)]").next().unwrap_or_default();
                }
            }
        }
        for t in EventType::ALL {
            let name = format!("EventType::{t:?}");
            assert!(sources.contains(&name), "{name} ({t}) is never emitted");
        }
    }
}
