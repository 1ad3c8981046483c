//! What an audio file is, without a model: decoded with symphonia (WAV, FLAC, MP3, Ogg
//! Vorbis), its duration, sample rate, channels, loudness and the stretches of sound
//! between silences.

use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::errors::Error as DecodeError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

/// Loudness is measured over windows of this length.
const WINDOW_SECS: f64 = 0.05;
/// Quieter than this (dBFS) is silence, unless the params say otherwise.
#[cfg(test)]
const DEFAULT_SILENCE_DB: f64 = -40.0;
/// Sound separated by a shorter silence stays one segment.
const MIN_GAP_SECS: f64 = 0.3;
/// Shorter bursts of sound are not segments.
const MIN_SEGMENT_SECS: f64 = 0.1;

#[derive(Debug, Clone, PartialEq)]
pub struct AudioFacts {
    pub duration_secs: f64,
    pub sample_rate: u32,
    pub channels: usize,
    /// RMS level of the whole file, dBFS.
    pub loudness_db: f64,
    pub peak_db: f64,
    /// `(start, end, loudness dBFS)` of each stretch of sound, in seconds.
    pub segments: Vec<(f64, f64, f64)>,
}

fn db(power: f64) -> f64 {
    if power <= 1e-12 {
        -120.0
    } else {
        10.0 * power.log10()
    }
}

/// Decodes in-memory audio; see [`describe_audio_from`].
#[cfg(test)]
pub fn describe_audio(
    bytes: &[u8],
    silence_db: f64,
    max_segment_secs: f64,
) -> Result<AudioFacts, String> {
    describe_audio_from(
        Box::new(std::io::Cursor::new(bytes.to_vec())),
        silence_db,
        max_segment_secs,
    )
}

/// Decodes the whole stream (mixed to mono for the measurements), a packet at a time:
/// a file source is never read whole into memory.
pub fn describe_audio_from(
    media: Box<dyn symphonia::core::io::MediaSource>,
    silence_db: f64,
    max_segment_secs: f64,
) -> Result<AudioFacts, String> {
    let source = MediaSourceStream::new(media, Default::default());
    let mut format = symphonia::default::get_probe()
        .probe(
            &Hint::new(),
            source,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|e| format!("unrecognised audio: {e}"))?;
    let track = format
        .default_track(TrackType::Audio)
        .ok_or("the file has no audio track")?;
    let track_id = track.id;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or("the audio track has no codec parameters")?
        .clone();
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default())
        .map_err(|e| format!("no decoder for this audio: {e}"))?;

    let mut rate = params.sample_rate.unwrap_or(0);
    let mut channels = 0usize;
    let mut interleaved: Vec<f32> = Vec::new();
    let mut windows: Vec<f64> = Vec::new();
    let (mut acc, mut acc_n, mut window_len) = (0f64, 0usize, 0usize);
    let (mut total, mut frames, mut peak) = (0f64, 0u64, 0f64);
    loop {
        let packet = match format.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(DecodeError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(format!("the audio cannot be read: {e}")),
        };
        if packet.track_id != track_id {
            continue;
        }
        let buf = match decoder.decode(&packet) {
            Ok(b) => b,
            // A damaged packet is skipped, as players do; a file of nothing else fails below.
            Err(DecodeError::DecodeError(_)) => continue,
            Err(e) => return Err(format!("the audio cannot be decoded: {e}")),
        };
        rate = buf.spec().rate();
        channels = buf.spec().channels().count().max(1);
        if window_len == 0 {
            window_len = ((rate as f64 * WINDOW_SECS) as usize).max(1);
        }
        interleaved.resize(buf.samples_interleaved(), 0.0);
        buf.copy_to_slice_interleaved(&mut interleaved);
        for frame in interleaved.chunks_exact(channels) {
            let mono = frame.iter().map(|&s| s as f64).sum::<f64>() / channels as f64;
            let p = mono * mono;
            peak = peak.max(mono.abs());
            total += p;
            frames += 1;
            acc += p;
            acc_n += 1;
            if acc_n == window_len {
                windows.push(db(acc / acc_n as f64));
                acc = 0.0;
                acc_n = 0;
            }
        }
    }
    if acc_n > 0 {
        windows.push(db(acc / acc_n as f64));
    }
    if frames == 0 || rate == 0 {
        return Err("the audio has no decodable samples".into());
    }
    let window_secs = window_len as f64 / rate as f64;
    Ok(AudioFacts {
        duration_secs: frames as f64 / rate as f64,
        sample_rate: rate,
        channels,
        loudness_db: db(total / frames as f64),
        peak_db: 20.0 * peak.max(1e-6).log10(),
        segments: segments(&windows, window_secs, silence_db, max_segment_secs),
    })
}

/// Stretches of windows louder than `silence_db`, joined across short gaps, split to at
/// most `max_secs`, with their mean loudness.
pub fn segments(
    windows_db: &[f64],
    window_secs: f64,
    silence_db: f64,
    max_secs: f64,
) -> Vec<(f64, f64, f64)> {
    let mut runs: Vec<(usize, usize)> = Vec::new();
    let gap = (MIN_GAP_SECS / window_secs).ceil() as usize;
    for (i, &level) in windows_db.iter().enumerate() {
        if level < silence_db {
            continue;
        }
        match runs.last_mut() {
            Some((_, end)) if i - *end <= gap => *end = i + 1,
            _ => runs.push((i, i + 1)),
        }
    }
    let max_windows = ((max_secs / window_secs).floor() as usize).max(1);
    let mut out = Vec::new();
    for (start, end) in runs {
        if ((end - start) as f64) * window_secs < MIN_SEGMENT_SECS {
            continue;
        }
        let mut s = start;
        while s < end {
            let e = (s + max_windows).min(end);
            let power: f64 = windows_db[s..e]
                .iter()
                .map(|d| 10f64.powf(d / 10.0))
                .sum::<f64>()
                / (e - s) as f64;
            out.push((s as f64 * window_secs, e as f64 * window_secs, db(power)));
            s = e;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 16-bit PCM WAV file.
    pub fn wav(rate: u32, channels: u16, samples: &[f32]) -> Vec<u8> {
        let data: Vec<u8> = samples
            .iter()
            .flat_map(|s| ((s.clamp(-1.0, 1.0) * 32767.0) as i16).to_le_bytes())
            .collect();
        let mut out = Vec::new();
        out.extend_from_slice(b"RIFF");
        out.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
        out.extend_from_slice(b"WAVEfmt ");
        out.extend_from_slice(&16u32.to_le_bytes());
        out.extend_from_slice(&1u16.to_le_bytes());
        out.extend_from_slice(&channels.to_le_bytes());
        out.extend_from_slice(&rate.to_le_bytes());
        out.extend_from_slice(&(rate * channels as u32 * 2).to_le_bytes());
        out.extend_from_slice(&(channels * 2).to_le_bytes());
        out.extend_from_slice(&16u16.to_le_bytes());
        out.extend_from_slice(b"data");
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(&data);
        out
    }

    #[test]
    fn tone_silence_tone_is_two_segments() {
        let rate = 8000;
        let tone = |secs: f64| -> Vec<f32> {
            (0..(secs * rate as f64) as usize)
                .map(|i| 0.5 * (i as f32 * 440.0 * std::f32::consts::TAU / rate as f32).sin())
                .collect()
        };
        let mut samples = tone(1.0);
        samples.extend(std::iter::repeat_n(0.0, rate as usize));
        samples.extend(tone(0.5));
        let f = describe_audio(&wav(rate, 1, &samples), DEFAULT_SILENCE_DB, 30.0).unwrap();
        assert_eq!((f.sample_rate, f.channels), (8000, 1));
        assert!((f.duration_secs - 2.5).abs() < 1e-6);
        assert_eq!(f.segments.len(), 2, "{:?}", f.segments);
        assert!((f.segments[0].1 - 1.0).abs() < 0.06 && (f.segments[1].0 - 2.0).abs() < 0.06);
        // A 0.5-amplitude sine is about −9 dBFS; over the file, with silence, lower.
        assert!((f.segments[0].2 + 9.0).abs() < 0.5, "{}", f.segments[0].2);
        assert!(f.loudness_db < f.segments[0].2 && f.peak_db > -6.5);
        assert!(describe_audio(&wav(rate, 1, &samples)[..30], DEFAULT_SILENCE_DB, 30.0).is_err());
        assert!(describe_audio(b"not audio at all", DEFAULT_SILENCE_DB, 30.0).is_err());
    }

    #[test]
    fn long_sound_is_split() {
        let windows = vec![-10.0; 100]; // 5 s of sound in 50 ms windows
        let s = segments(&windows, 0.05, -40.0, 2.0);
        assert_eq!(s.len(), 3);
        assert!((s[2].1 - 5.0).abs() < 1e-9);
        assert!(segments(&[-80.0; 10], 0.05, -40.0, 2.0).is_empty());
    }
}
