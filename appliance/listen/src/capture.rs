//! The microphone: cpal on a configurable input device, opened only for a
//! listening window (push-to-talk), downmixed and resampled to 16 kHz mono.
//! Audio stays in memory and is dropped after transcription.

use std::sync::mpsc;
use std::time::Duration;

use cpal::traits::{DeviceTrait, StreamTrait};
use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

use super::ListenError;
use super::vad::RATE;

/// Downmixes interleaved frames to mono and resamples to 16 kHz, in chunks.
pub struct ToMono16k {
    channels: usize,
    resampler: Option<Fft<f32>>,
    mono: Vec<f32>,
}

impl ToMono16k {
    pub fn new(rate: u32, channels: u16) -> Result<ToMono16k, ListenError> {
        let resampler = if rate == RATE {
            None
        } else {
            Some(
                Fft::<f32>::new(rate as usize, RATE as usize, 1024, 1, FixedSync::Input)
                    .map_err(|e| ListenError::Device(format!("resampler {rate} Hz: {e}")))?,
            )
        };
        Ok(ToMono16k {
            channels: channels.max(1) as usize,
            resampler,
            mono: Vec::new(),
        })
    }

    /// A whole mono clip at `rate` as 16 kHz (files, tests, benchmarks):
    /// the resampler's last partial chunk is flushed with silence.
    pub fn convert_all(samples: &[f32], rate: u32) -> Result<Vec<f32>, ListenError> {
        let mut conv = ToMono16k::new(rate, 1)?;
        let mut out = conv.push(samples);
        out.extend(conv.push(&vec![0.0; rate as usize / 4]));
        Ok(out)
    }

    /// Feeds interleaved samples; returns whatever 16 kHz audio is ready.
    pub fn push(&mut self, interleaved: &[f32]) -> Vec<f32> {
        let c = self.channels;
        self.mono.extend(
            interleaved
                .chunks_exact(c)
                .map(|f| f.iter().sum::<f32>() / c as f32),
        );
        let Some(r) = self.resampler.as_mut() else {
            return std::mem::take(&mut self.mono);
        };
        let mut out = Vec::new();
        let mut used = 0;
        loop {
            let need = r.input_frames_next();
            if self.mono.len() - used < need {
                break;
            }
            let Ok(input) = InterleavedSlice::new(&self.mono[used..used + need], 1, need) else {
                break;
            };
            match r.process(&input, None) {
                Ok(chunk) => out.extend(chunk.take_data()),
                Err(e) => {
                    tracing::warn!(error = %e, "resampling failed; chunk dropped");
                }
            }
            used += need;
        }
        self.mono.drain(..used);
        out
    }
}

pub fn input_devices() -> Result<Vec<sos_speech::audio::DeviceInfo>, ListenError> {
    sos_speech::audio::list(sos_speech::audio::Direction::Input).map_err(ListenError::Device)
}

fn find_device(selector: Option<&str>) -> Result<cpal::Device, ListenError> {
    sos_speech::audio::find(sos_speech::audio::Direction::Input, selector)
        .map_err(ListenError::Device)
}

/// A live capture: 16 kHz mono chunks arrive on `chunks` until dropped.
pub struct Capture {
    _stream: cpal::Stream,
    pub chunks: mpsc::Receiver<Vec<f32>>,
    pub label: String,
}

/// Opens the microphone and starts capturing.
pub fn open(selector: Option<&str>) -> Result<Capture, ListenError> {
    let device = find_device(selector)?;
    let label = device
        .id()
        .map(|i| i.to_string())
        .unwrap_or_else(|_| device.to_string());
    let supported = device
        .default_input_config()
        .map_err(|e| ListenError::Device(format!("{label}: {e}")))?;
    let format = supported.sample_format();
    let config = supported.config();
    let mut conv = ToMono16k::new(config.sample_rate, config.channels)?;
    // Bounded: if the pipeline stalls, capture drops audio instead of
    // growing without limit (an unpaced device can flood).
    let (tx, rx) = mpsc::sync_channel::<Vec<f32>>(256);
    let err_label = label.clone();
    let on_error = move |e: cpal::Error| {
        tracing::warn!(device = %err_label, error = %e, "microphone error");
    };
    let stream = match format {
        cpal::SampleFormat::F32 => device.build_input_stream::<f32, _, _>(
            config,
            move |data: &[f32], _| {
                let out = conv.push(data);
                if !out.is_empty() {
                    let _ = tx.try_send(out);
                }
            },
            on_error,
            Some(Duration::from_secs(2)),
        ),
        cpal::SampleFormat::I16 => device.build_input_stream::<i16, _, _>(
            config,
            move |data: &[i16], _| {
                let f: Vec<f32> = data.iter().map(|&s| s as f32 / 32768.0).collect();
                let out = conv.push(&f);
                if !out.is_empty() {
                    let _ = tx.try_send(out);
                }
            },
            on_error,
            Some(Duration::from_secs(2)),
        ),
        other => {
            return Err(ListenError::Device(format!(
                "{label}: unsupported sample format {other}"
            )));
        }
    }
    .map_err(|e| ListenError::Device(format!("{label}: {e}")))?;
    stream
        .play()
        .map_err(|e| ListenError::Device(format!("{label}: {e}")))?;
    Ok(Capture {
        _stream: stream,
        chunks: rx,
        label,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stereo_48k_becomes_mono_16k_at_the_same_pitch() {
        let Ok(mut conv) = ToMono16k::new(48_000, 2) else {
            panic!("resampler");
        };
        // One second of a 440 Hz tone, left and right equal.
        let frames = 48_000;
        let mut inter = Vec::with_capacity(frames * 2);
        for i in 0..frames {
            let s = 0.5 * (i as f32 * 2.0 * std::f32::consts::PI * 440.0 / 48_000.0).sin();
            inter.push(s);
            inter.push(s);
        }
        let mut out = Vec::new();
        for chunk in inter.chunks(960) {
            out.extend(conv.push(chunk));
        }
        // About a second at 16 kHz (less the resampler's last partial chunk).
        assert!((14_000..=16_000).contains(&out.len()), "{}", out.len());
        // Same pitch: count zero crossings in the steady middle part.
        let mid = &out[4000..12000];
        let crossings = mid
            .windows(2)
            .filter(|w| (w[0] < 0.0) != (w[1] < 0.0))
            .count();
        let hz = crossings as f32 / 2.0 / (mid.len() as f32 / 16_000.0);
        assert!((430.0..450.0).contains(&hz), "{hz} Hz");
        let peak = mid.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        assert!((0.45..0.55).contains(&peak), "peak {peak}");
    }

    #[test]
    fn sixteen_k_mono_passes_through() {
        let Ok(mut conv) = ToMono16k::new(16_000, 1) else {
            panic!("converter");
        };
        assert_eq!(conv.push(&[0.1, 0.2, 0.3]), vec![0.1, 0.2, 0.3]);
    }
}
