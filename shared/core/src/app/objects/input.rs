//! Reading a blob's value in the forms requests give it: URLs, text, JSON, base64, data URIs, uploads, synced files.

use std::collections::HashMap;

use base64::Engine;
use serde_json::{Map, Value};

use crate::domain::schema::FieldType;
pub use crate::domain::sync::SyncedFile;
use crate::error::Error;

use super::*;

pub(super) fn check_filename(name: Option<&str>, path: &str) -> Result<(), Error> {
    match name {
        Some(n) => {
            crate::domain::names::check_file_name(n).map_err(|reason| Error::field(path, reason))
        }
        None => Ok(()),
    }
}

/// Checks a blob URL's syntax now; the bytes are fetched when the object is processed.
pub(super) fn check_url(raw: &str, path: &str) -> Result<url::Url, Error> {
    if raw.len() > MAX_URL {
        return Err(Error::field(
            path,
            format!("URLs are at most {MAX_URL} characters"),
        ));
    }
    let url =
        url::Url::parse(raw).map_err(|e| Error::field(path, format!("not a valid URL: {e}")))?;
    match url.scheme() {
        "http" | "https" => {
            if url.host_str().is_none_or(str::is_empty) {
                return Err(Error::field(path, "URL has no host"));
            }
        }
        "s3" => {
            if url.host_str().is_none_or(str::is_empty)
                || url.path().trim_start_matches('/').is_empty()
            {
                return Err(Error::field(path, "s3 URLs are s3://<bucket>/<key>"));
            }
        }
        other => {
            return Err(Error::field(
                path,
                format!("unsupported URL scheme {other:?}: use http, https or s3"),
            ))
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::field(path, "URLs must not carry credentials"));
    }
    Ok(url)
}

pub(super) enum Source {
    Url(url::Url),
    Synced(SyncedFile),
    Stored(StoredFile),
    Bytes {
        bytes: Vec<u8>,
        mime: Option<String>,
        filename: Option<String>,
    },
}

pub(super) fn decode_base64(s: &str, path: &str) -> Result<Vec<u8>, Error> {
    let cleaned: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(&cleaned)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(&cleaned))
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(&cleaned))
        .map_err(|_| Error::field(path, "is not valid base64"))
}

pub(super) fn decode_data_uri(s: &str, path: &str) -> Result<(Vec<u8>, Option<String>), Error> {
    let rest = &s[5..];
    let (head, payload) = rest
        .split_once(',')
        .ok_or_else(|| Error::field(path, "data URI has no ','"))?;
    let mime = head
        .split(';')
        .next()
        .filter(|m| !m.is_empty())
        .map(str::to_string);
    if head.ends_with(";base64") {
        Ok((decode_base64(payload, path)?, mime))
    } else {
        let text = percent_decode(payload);
        Ok((text.into_bytes(), mime))
    }
}

pub(super) fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Reads a blob's value in any accepted form.
pub(super) fn read_source(
    b: &CreateBlob,
    ty: FieldType,
    path: &str,
    uploads: &HashMap<String, StoredFile>,
) -> Result<Source, Error> {
    if let Some(file) = &b.synced {
        return Ok(Source::Synced(file.clone()));
    }
    let given = [
        b.url.is_some(),
        b.content.is_some(),
        b.data.is_some(),
        b.upload_id.is_some(),
    ];
    match given.iter().filter(|g| **g).count() {
        0 => {
            return Err(Error::field(
                path,
                "give one of url, content, data or upload_id",
            ))
        }
        1 => {}
        _ => {
            return Err(Error::field(
                path,
                "give only one of url, content, data or upload_id",
            ))
        }
    }
    if let Some(upload_id) = &b.upload_id {
        return uploads
            .get(upload_id)
            .cloned()
            .map(Source::Stored)
            .ok_or_else(|| {
                Error::field(
                    format!("{path}.upload_id"),
                    format!("upload {upload_id:?} not found in this bucket"),
                )
            });
    }
    check_filename(b.filename.as_deref(), &format!("{path}.filename"))?;
    if let Some(url) = &b.url {
        return Ok(Source::Url(check_url(url, &format!("{path}.url"))?));
    }
    let (value, field) = match (&b.content, &b.data) {
        (Some(v), _) => (v, format!("{path}.content")),
        (_, Some(v)) => (v, format!("{path}.data")),
        _ => unreachable!("one source is present"),
    };
    let inline = Inline {
        ty,
        field,
        mime: b.mime_type.clone().or_else(|| b.content_type.clone()),
        filename: b.filename.clone(),
    };
    match value {
        Value::String(s) => inline.string(s),
        other => inline.structured(other),
    }
}

/// A blob's `content` or `data`, with what the request says of it.
pub(super) struct Inline {
    pub(super) ty: FieldType,
    /// Where it is in the request, for refusals.
    pub(super) field: String,
    pub(super) mime: Option<String>,
    pub(super) filename: Option<String>,
}

impl Inline {
    fn bytes(&self, bytes: Vec<u8>, mime: Option<String>) -> Source {
        Source::Bytes {
            bytes,
            mime,
            filename: self.filename.clone(),
        }
    }

    /// A string: a URL, a data URI, text, JSON text or base64, by the blob's type.
    fn string(self, s: &str) -> Result<Source, Error> {
        let field = &self.field;
        if s.starts_with("http://") || s.starts_with("https://") || s.starts_with("s3://") {
            return Ok(Source::Url(check_url(s, field)?));
        }
        if s.starts_with("file://") {
            return Err(Error::field(
                field,
                "file:// URLs are not readable by the server",
            ));
        }
        if s.starts_with("data:") {
            let (bytes, m) = decode_data_uri(s, field)?;
            return Ok(self.bytes(bytes, m.or(self.mime.clone())));
        }
        match self.ty {
            FieldType::Text => {
                let mime = self.mime.clone().or(Some("text/plain".into()));
                Ok(self.bytes(s.as_bytes().to_vec(), mime))
            }
            FieldType::Json => {
                serde_json::from_str::<Value>(s)
                    .map_err(|e| Error::field(field, format!("is not valid JSON: {e}")))?;
                Ok(self.bytes(s.as_bytes().to_vec(), Some("application/json".into())))
            }
            _ => Ok(self.bytes(decode_base64(s, field)?, self.mime.clone())),
        }
    }

    /// An object (`{base64, mime_type, filename}`, `{url}`, `{text}`) or, for a JSON
    /// blob, any JSON value.
    fn structured(self, value: &Value) -> Result<Source, Error> {
        let field = &self.field;
        let text_like = self.ty == FieldType::Text;
        let str_of =
            |m: &Map<String, Value>, k: &str| m.get(k).and_then(Value::as_str).map(str::to_string);
        match value {
            Value::Object(m) if m.contains_key("base64") => {
                let encoded = str_of(m, "base64")
                    .ok_or_else(|| Error::field(field, "base64 must be a string"))?;
                let filename = str_of(m, "filename");
                check_filename(filename.as_deref(), &format!("{field}.filename"))?;
                Ok(Source::Bytes {
                    bytes: decode_base64(&encoded, &format!("{field}.base64"))?,
                    mime: str_of(m, "mime_type").or(self.mime.clone()),
                    filename: filename.or_else(|| self.filename.clone()),
                })
            }
            Value::Object(m) if m.contains_key("url") && m.len() <= 2 => {
                let u =
                    str_of(m, "url").ok_or_else(|| Error::field(field, "url must be a string"))?;
                Ok(Source::Url(check_url(&u, &format!("{field}.url"))?))
            }
            Value::Object(m) if text_like && m.contains_key("text") => {
                let t = str_of(m, "text")
                    .ok_or_else(|| Error::field(field, "text must be a string"))?;
                Ok(self.bytes(t.into_bytes(), Some("text/plain".into())))
            }
            v @ (Value::Object(_) | Value::Array(_)) if self.ty == FieldType::Json => {
                let bytes = serde_json::to_vec(v).map_err(|e| Error::Internal(e.into()))?;
                Ok(self.bytes(bytes, Some("application/json".into())))
            }
            _ => Err(Error::field(
                field,
                format!("is not a valid value for a {} blob", self.ty.as_str()),
            )),
        }
    }
}

pub(super) fn filename_of(url: &url::Url) -> Option<String> {
    url.path_segments()
        .and_then(|mut s| s.next_back())
        .filter(|s| !s.is_empty())
        .map(percent_decode)
}
