//! The command-line tools extraction runs (Debian packages): ffprobe and ffmpeg for
//! video, pdftoppm for scanned PDF pages, tesseract for OCR. A tool that is missing,
//! fails or hangs is an error naming it, never an empty result.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::AsyncWriteExt;

/// Longest one tool run may take.
const TOOL_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs `program` with `args`, feeding it `stdin`, and returns what it wrote to stdout.
pub async fn run(
    program: &str,
    package: &str,
    args: &[&str],
    stdin: Option<Vec<u8>>,
) -> Result<Vec<u8>, String> {
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => format!(
                "this needs {program}, which is not installed here (Debian: apt-get install {package})"
            ),
            _ => format!("{program} did not start: {e}"),
        })?;
    // Written beside the wait, so a large input cannot deadlock on a full pipe.
    let writer = match (stdin, child.stdin.take()) {
        (Some(bytes), Some(mut pipe)) => Some(tokio::spawn(async move {
            let _ = pipe.write_all(&bytes).await;
        })),
        _ => None,
    };
    let out = tokio::time::timeout(TOOL_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| format!("{program} took longer than {} s", TOOL_TIMEOUT.as_secs()))?
        .map_err(|e| format!("{program} failed: {e}"))?;
    if let Some(w) = writer {
        let _ = w.await;
    }
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        return Err(format!("{program} failed: {}", last.trim()));
    }
    Ok(out.stdout)
}

/// The text in an image, read by tesseract, whitespace-folded.
pub async fn ocr(image: &[u8]) -> Result<String, String> {
    let out = run(
        "tesseract",
        "tesseract-ocr",
        &["stdin", "stdout"],
        Some(image.to_vec()),
    )
    .await?;
    Ok(String::from_utf8_lossy(&out)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" "))
}

/// One page of a PDF as a PNG at `dpi`, for OCR.
pub async fn pdf_page_png(pdf: &Path, page: u32, dpi: u32) -> Result<Vec<u8>, String> {
    let (page, dpi) = (page.to_string(), dpi.to_string());
    let path = pdf.to_string_lossy();
    run(
        "pdftoppm",
        "poppler-utils",
        &[
            "-f",
            &page,
            "-l",
            &page,
            "-r",
            &dpi,
            "-png",
            "-singlefile",
            &path,
        ],
        None,
    )
    .await
}

/// What ffprobe says about a video file.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoFacts {
    pub duration_secs: f64,
    pub container: String,
    pub codec: String,
    pub width: u32,
    pub height: u32,
    pub frame_rate: Option<f64>,
    pub audio_codec: Option<String>,
}

pub async fn probe_video(path: &Path) -> Result<VideoFacts, String> {
    let out = run(
        "ffprobe",
        "ffmpeg",
        &[
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_format",
            "-show_streams",
            &path.to_string_lossy(),
        ],
        None,
    )
    .await
    .map_err(|e| format!("the video cannot be read: {e}"))?;
    let info: Value = serde_json::from_slice(&out).map_err(|e| format!("ffprobe's answer: {e}"))?;
    video_facts(&info)
}

/// The facts in ffprobe's JSON (`-show_format -show_streams`).
pub fn video_facts(info: &Value) -> Result<VideoFacts, String> {
    let streams = info["streams"].as_array().cloned().unwrap_or_default();
    let of_type = |t: &str| {
        streams
            .iter()
            .find(|s| s["codec_type"] == t && s["disposition"]["attached_pic"] != 1)
    };
    let video = of_type("video").ok_or("the file has no video stream")?;
    let number = |v: &Value| {
        v.as_f64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
    };
    let duration_secs = number(&info["format"]["duration"])
        .or_else(|| number(&video["duration"]))
        .filter(|d| *d > 0.0)
        .ok_or("the video has no duration")?;
    // "30000/1001" → 29.97.
    let frame_rate = video["avg_frame_rate"].as_str().and_then(|r| {
        let (n, d) = r.split_once('/')?;
        let (n, d) = (n.parse::<f64>().ok()?, d.parse::<f64>().ok()?);
        (d > 0.0 && n > 0.0).then(|| n / d)
    });
    Ok(VideoFacts {
        duration_secs,
        container: info["format"]["format_name"]
            .as_str()
            .unwrap_or("unknown")
            .to_string(),
        codec: video["codec_name"]
            .as_str()
            .unwrap_or("unknown")
            .to_string(),
        width: video["width"].as_u64().unwrap_or(0) as u32,
        height: video["height"].as_u64().unwrap_or(0) as u32,
        frame_rate,
        audio_codec: of_type("audio").and_then(|a| a["codec_name"].as_str().map(str::to_string)),
    })
}

/// The frame shown at `secs`, as a PNG.
pub async fn frame_at(path: &Path, secs: f64) -> Result<Vec<u8>, String> {
    let at = format!("{secs:.3}");
    let frame = run(
        "ffmpeg",
        "ffmpeg",
        &[
            "-v",
            "error",
            "-ss",
            &at,
            "-i",
            &path.to_string_lossy(),
            "-frames:v",
            "1",
            "-f",
            "image2pipe",
            "-c:v",
            "png",
            "-",
        ],
        None,
    )
    .await?;
    if frame.is_empty() {
        return Err(format!("no frame at {at} s"));
    }
    Ok(frame)
}

/// What [`clip`] cuts out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ClipKind {
    /// H.264 and AAC in a fragmented MP4 (written to a pipe, so no seekable index).
    Video,
    /// 16 kHz mono WAV.
    Audio,
}

/// `duration` seconds of a media file from `start`, re-encoded as `kind`, for a model that
/// embeds clips.
pub async fn clip(
    path: &Path,
    start: f64,
    duration: f64,
    kind: ClipKind,
) -> Result<Vec<u8>, String> {
    let (ss, t) = (format!("{start:.3}"), format!("{duration:.3}"));
    let input = path.to_string_lossy();
    let mut args = vec!["-v", "error", "-ss", &ss, "-t", &t, "-i", &input];
    match kind {
        ClipKind::Video => args.extend([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-movflags",
            "frag_keyframe+empty_moov",
            "-f",
            "mp4",
            "-",
        ]),
        ClipKind::Audio => args.extend(["-vn", "-ac", "1", "-ar", "16000", "-f", "wav", "-"]),
    }
    let out = run("ffmpeg", "ffmpeg", &args, None).await?;
    if out.is_empty() {
        return Err(format!("no {kind:?} between {ss} s and {t} s later"));
    }
    Ok(out)
}

/// Fixed-length time segments `[start, end)` covering `duration`.
pub fn time_segments(duration: f64, interval: f64) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    let mut start = 0.0;
    while start < duration {
        let end = (start + interval).min(duration);
        // A sliver under a tenth of a second joins the segment before it.
        if duration - end < 0.1 {
            out.push((start, duration));
            break;
        }
        out.push((start, end));
        start = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn segments_cover_the_video() {
        assert_eq!(
            time_segments(25.0, 10.0),
            vec![(0.0, 10.0), (10.0, 20.0), (20.0, 25.0)]
        );
        assert_eq!(time_segments(20.05, 10.0), vec![(0.0, 10.0), (10.0, 20.05)]);
        assert_eq!(time_segments(3.0, 10.0), vec![(0.0, 3.0)]);
    }

    #[test]
    fn ffprobe_json_becomes_facts() {
        let info = json!({
            "streams": [
                {"codec_type": "audio", "codec_name": "aac"},
                {"codec_type": "video", "codec_name": "h264", "width": 320, "height": 240, "avg_frame_rate": "30000/1001"},
            ],
            "format": {"format_name": "mov,mp4,m4a,3gp,3g2,mj2", "duration": "12.5"}
        });
        let f = video_facts(&info).unwrap();
        assert_eq!((f.codec.as_str(), f.width, f.height), ("h264", 320, 240));
        assert!((f.frame_rate.unwrap() - 29.97).abs() < 0.01);
        assert_eq!(f.audio_codec.as_deref(), Some("aac"));
        assert_eq!(f.duration_secs, 12.5);
        assert!(video_facts(&json!({"streams": [{"codec_type": "audio"}], "format": {}})).is_err());
    }
}
