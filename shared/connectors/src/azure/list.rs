//! `List Blobs`: a page of a container's blobs in name order, with `marker`.

use sluice_core::domain::connections::MAX_PREFIX_BYTES;
use sluice_core::ports::{
    SourceEntry, SourceError, SourcePage, SourceResult, MAX_CONTINUATION_BYTES,
};

use super::{errors, AzureSource};
use crate::http;

/// The most of one page's answer (5 000 blobs with 1 KiB names fit).
const MAX_PAGE_BYTES: usize = 16 * 1024 * 1024;

impl AzureSource {
    pub(super) async fn list_page(
        &self,
        prefix: &str,
        marker: Option<&str>,
        limit: usize,
    ) -> SourceResult<SourcePage> {
        if prefix.len() > MAX_PREFIX_BYTES {
            return Err(SourceError::Invalid(format!(
                "the prefix is {} bytes; this server keeps names up to {MAX_PREFIX_BYTES}",
                prefix.len()
            )));
        }
        let what = format!("listing {}", self.at(prefix));
        let mut url = self.url(None);
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("restype", "container")
                .append_pair("comp", "list")
                .append_pair("prefix", prefix)
                .append_pair("maxresults", &limit.clamp(1, 5000).to_string());
            if let Some(m) = marker {
                q.append_pair("marker", m);
            }
        }
        let request = self.signed("GET", url, &[]).await?;
        let response = http::send("azure_blob", &what, request).await?;
        if !response.status().is_success() {
            return Err(http::refusal("azure_blob", &what, response, errors::said).await);
        }
        let body = http::text("azure_blob", &what, response, MAX_PAGE_BYTES).await?;
        parse(&body).map_err(|why| {
            SourceError::Failed(format!(
                "azure_blob sent a listing that could not be read when {what}: {why}"
            ))
        })
    }
}

/// An `EnumerationResults` document: its blobs and `NextMarker`.
fn parse(xml: &str) -> Result<SourcePage, String> {
    let doc = roxmltree::Document::parse(xml.trim_start_matches('\u{feff}'))
        .map_err(|e| e.to_string())?;
    let root = doc.root_element();
    let mut entries = Vec::new();
    if let Some(blobs) = child(root, "Blobs") {
        for blob in blobs.children().filter(|n| n.has_tag_name("Blob")) {
            let name_node = child(blob, "Name").ok_or("a blob without a Name")?;
            let raw = name_node.text().unwrap_or("");
            // Names XML cannot carry come percent-encoded, and say so.
            let key = if name_node.attribute("Encoded") == Some("true") {
                percent_encoding::percent_decode_str(raw)
                    .decode_utf8()
                    .map_err(|e| e.to_string())?
                    .into_owned()
            } else {
                raw.to_string()
            };
            let props = child(blob, "Properties").ok_or("a blob without Properties")?;
            entries.push(SourceEntry {
                key,
                size: text(props, "Content-Length")
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0),
                etag: text(props, "Etag")
                    .unwrap_or_default()
                    .trim_matches('"')
                    .to_string(),
                version_id: None,
                last_modified: text(props, "Last-Modified").and_then(|t| rfc3339(&t)),
                ..Default::default()
            });
        }
    }
    let next = text(root, "NextMarker").filter(|m| !m.is_empty());
    if next
        .as_ref()
        .is_some_and(|m| m.len() > MAX_CONTINUATION_BYTES)
    {
        return Err(format!("a marker over {MAX_CONTINUATION_BYTES} bytes"));
    }
    Ok(SourcePage {
        entries,
        next,
        ..Default::default()
    })
}

fn child<'a, 'i>(node: roxmltree::Node<'a, 'i>, name: &str) -> Option<roxmltree::Node<'a, 'i>> {
    node.children().find(|n| n.has_tag_name(name))
}

fn text(node: roxmltree::Node<'_, '_>, name: &str) -> Option<String> {
    child(node, name).and_then(|n| n.text()).map(str::to_string)
}

/// An HTTP date (`Mon, 07 Dec 2026 16:00:00 GMT`) as RFC 3339.
fn rfc3339(http_date: &str) -> Option<String> {
    let at = httpdate::parse_http_date(http_date).ok()?;
    let at = time::OffsetDateTime::from(at);
    at.format(&time::format_description::well_known::Rfc3339)
        .ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_listing_reads_encoded_names_sizes_versions_and_the_marker() {
        let xml = r#"<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="http://x/" ContainerName="c"><Prefix>p/</Prefix><MaxResults>2</MaxResults><Blobs><Blob><Name>p/a b.txt</Name><Properties><Last-Modified>Mon, 07 Dec 2026 16:00:00 GMT</Last-Modified><Etag>"0x8DE1"</Etag><Content-Length>12</Content-Length></Properties></Blob><Blob><Name Encoded="true">p%2Fodd%01.txt</Name><Properties><Etag>0x8DE2</Etag><Content-Length>0</Content-Length></Properties></Blob></Blobs><NextMarker>2!72!xyz</NextMarker></EnumerationResults>"#;
        let page = super::parse(xml).unwrap();
        assert_eq!(page.entries[0].key, "p/a b.txt");
        assert_eq!(
            (page.entries[0].size, page.entries[0].etag.as_str()),
            (12, "0x8DE1")
        );
        assert_eq!(
            page.entries[0].last_modified.as_deref(),
            Some("2026-12-07T16:00:00Z")
        );
        assert_eq!(page.entries[1].key, "p/odd\u{1}.txt");
        assert_eq!(page.next.as_deref(), Some("2!72!xyz"));
        let last =
            super::parse(r#"<EnumerationResults><Blobs/><NextMarker/></EnumerationResults>"#)
                .unwrap();
        assert!(last.entries.is_empty() && last.next.is_none());
    }
}
