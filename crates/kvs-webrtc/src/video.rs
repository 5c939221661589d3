//! H.264 for the master to send and the viewer to check: an Annex-B file sent one access
//! unit per frame interval and looped ([`AnnexBFile`]), or a moving test pattern encoded
//! in-process with OpenH264 ([`TestPattern`]); and a decoder that says whether received
//! frames decode and how each picture differs from the last ([`Decoded`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use openh264::OpenH264API;
use openh264::decoder::Decoder;
use openh264::encoder::{
    BitRate, Encoder, EncoderConfig, FrameRate, IntraFramePeriod, Profile, RateControlMode,
};
use openh264::formats::{YUVBuffer, YUVSource};
use rtc::rtp_transceiver::rtp_sender::RTCRtpCodec;

use crate::core::annexb;

/// The largest video file read into memory.
pub const MAX_FILE_BYTES: u64 = 256 << 20;

/// The RTP codec for an H.264 fmtp line.
pub(crate) fn h264_codec(fmtp: &str) -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: "video/H264".to_owned(),
        clock_rate: 90_000,
        channels: 0,
        sdp_fmtp_line: fmtp.to_owned(),
        rtcp_feedback: vec![],
    }
}

/// Why video could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum VideoError {
    /// The file could not be read.
    #[error("cannot read the video file {path}: {source}")]
    Read {
        /// Which file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_FILE_BYTES`].
    #[error("the video file {path} is {size} bytes; at most {MAX_FILE_BYTES} are read")]
    TooLarge {
        /// Which file.
        path: PathBuf,
        /// Its size.
        size: u64,
    },
    /// The file holds no H.264 access unit in Annex-B.
    #[error(
        "the video file {path} holds no H.264 frame: expected an Annex-B stream (start codes 00 00 01), as `ffmpeg -i in.mp4 -c:v libx264 -profile:v baseline -bsf:v h264_mp4toannexb -f h264 out.h264` writes"
    )]
    NotAnnexB {
        /// Which file.
        path: PathBuf,
    },
    /// The encoder or decoder failed.
    #[error("H.264 codec: {0}")]
    Codec(String),
}

/// Frames to send, forever.
pub trait FrameSource: Send {
    /// The next access unit (Annex-B).
    fn next_frame(&mut self) -> Result<Vec<u8>, VideoError>;
    /// The viewer asked for a key frame (PLI or FIR): the next frame should let a decoder
    /// start.
    fn request_key_frame(&mut self);
}

/// What the master sends.
#[derive(Debug, Clone)]
pub enum VideoSpec {
    /// An Annex-B file, looped.
    File {
        /// The file.
        path: PathBuf,
        /// Frames per second.
        fps: u32,
    },
    /// The generated test pattern.
    Pattern {
        /// Width in pixels (even).
        width: u32,
        /// Height in pixels (even).
        height: u32,
        /// Frames per second.
        fps: u32,
    },
}

impl Default for VideoSpec {
    fn default() -> Self {
        Self::Pattern {
            width: 320,
            height: 240,
            fps: 30,
        }
    }
}

impl VideoSpec {
    /// The time between frames.
    pub fn frame_interval(&self) -> Duration {
        let fps = match self {
            Self::File { fps, .. } | Self::Pattern { fps, .. } => *fps,
        };
        Duration::from_secs(1) / fps.clamp(1, 240)
    }

    /// A fresh source, starting at the first frame (each viewer gets its own, so each starts
    /// on a key frame).
    pub fn open(&self) -> Result<Box<dyn FrameSource>, VideoError> {
        Ok(match self {
            Self::File { path, .. } => Box::new(AnnexBFile::open(path)?),
            Self::Pattern { width, height, fps } => {
                Box::new(TestPattern::new(*width, *height, *fps)?)
            }
        })
    }
}

/// An Annex-B file's access units, looped.
#[derive(Debug)]
pub struct AnnexBFile {
    data: Vec<u8>,
    units: Vec<std::ops::Range<usize>>,
    next: usize,
}

impl AnnexBFile {
    /// Reads and splits the file.
    pub fn open(path: &Path) -> Result<Self, VideoError> {
        let read = |source| VideoError::Read {
            path: path.to_owned(),
            source,
        };
        let size = std::fs::metadata(path).map_err(read)?.len();
        if size > MAX_FILE_BYTES {
            return Err(VideoError::TooLarge {
                path: path.to_owned(),
                size,
            });
        }
        let data = std::fs::read(path).map_err(read)?;
        let units = annexb::access_units(&data);
        if units.is_empty() {
            return Err(VideoError::NotAnnexB {
                path: path.to_owned(),
            });
        }
        Ok(Self {
            data,
            units,
            next: 0,
        })
    }

    /// The access units, in order.
    pub fn frames(&self) -> impl Iterator<Item = &[u8]> {
        self.units.iter().map(|r| &self.data[r.clone()])
    }
}

impl FrameSource for AnnexBFile {
    fn next_frame(&mut self) -> Result<Vec<u8>, VideoError> {
        let unit = &self.data[self.units[self.next].clone()];
        self.next = (self.next + 1) % self.units.len();
        Ok(unit.to_vec())
    }

    /// A file cannot make a key frame: it goes back to the one that began the group of
    /// pictures just sent, so the viewer gets it and everything after it again.
    fn request_key_frame(&mut self) {
        let n = self.units.len();
        let sent = (self.next + n - 1) % n;
        let key = |i: usize| annexb::is_key_frame(&self.data[self.units[i].clone()]);
        if let Some(back) = (0..n).map(|k| (sent + n - k) % n).find(|&i| key(i)) {
            self.next = back;
        }
    }
}

/// A moving test pattern (diagonal bands that scroll, and a square that crosses the picture)
/// encoded as H.264 constrained baseline, a key frame every two seconds.
pub struct TestPattern {
    encoder: Encoder,
    picture: YUVBuffer,
    width: usize,
    height: usize,
    frame: u64,
}

impl TestPattern {
    /// An encoder for `width` x `height` (rounded down to even, at least 16) at `fps`.
    pub fn new(width: u32, height: u32, fps: u32) -> Result<Self, VideoError> {
        let width = (width.max(16) & !1) as usize;
        let height = (height.max(16) & !1) as usize;
        let fps = fps.clamp(1, 240);
        let config = EncoderConfig::new()
            .profile(Profile::Baseline)
            .bitrate(BitRate::from_bps(600_000))
            .max_frame_rate(FrameRate::from_hz(fps as f32))
            .intra_frame_period(IntraFramePeriod::from_num_frames(fps * 2))
            .rate_control_mode(RateControlMode::Off)
            .skip_frames(false);
        let encoder = Encoder::with_api_config(OpenH264API::from_source(), config)
            .map_err(|e| VideoError::Codec(e.to_string()))?;
        Ok(Self {
            encoder,
            picture: YUVBuffer::new(width, height),
            width,
            height,
            frame: 0,
        })
    }

    fn paint(&mut self) {
        let (w, h, t) = (self.width, self.height, self.frame as usize);
        let mut yuv = vec![0u8; w * h * 3 / 2];
        let (luma, chroma) = yuv.split_at_mut(w * h);
        let side = h / 4;
        let (bx, by) = (
            (t * 4) % w.saturating_sub(side).max(1),
            (t * 2) % h.saturating_sub(side).max(1),
        );
        for y in 0..h {
            for x in 0..w {
                let in_box = (bx..bx + side).contains(&x) && (by..by + side).contains(&y);
                luma[y * w + x] = if in_box {
                    235
                } else {
                    ((x + y + t * 3) % 160 + 40) as u8
                };
            }
        }
        let (u, v) = chroma.split_at_mut(w * h / 4);
        for (i, (u, v)) in u.iter_mut().zip(v.iter_mut()).enumerate() {
            *u = (128 + (i + t) % 64) as u8;
            *v = (160 - (i / (w / 2) + t) % 64) as u8;
        }
        self.picture = YUVBuffer::from_vec(yuv, w, h);
    }
}

impl FrameSource for TestPattern {
    fn request_key_frame(&mut self) {
        self.encoder.force_intra_frame();
    }

    fn next_frame(&mut self) -> Result<Vec<u8>, VideoError> {
        self.paint();
        self.frame += 1;
        let encoded = self
            .encoder
            .encode(&self.picture)
            .map_err(|e| VideoError::Codec(e.to_string()))?;
        Ok(encoded.to_vec())
    }
}

/// A decoder that checks received video: counts pictures and how much each differs from the
/// one before.
pub struct Decoded {
    decoder: Decoder,
    last_luma: Option<Vec<u8>>,
    /// Pictures that came out.
    pub pictures: u64,
    /// Pictures that differ from the previous one.
    pub changed: u64,
    /// Frames the decoder refused.
    pub errors: u64,
}

impl Decoded {
    /// A fresh decoder.
    pub fn new() -> Result<Self, VideoError> {
        let decoder = Decoder::with_api_config(OpenH264API::from_source(), Default::default())
            .map_err(|e| VideoError::Codec(e.to_string()))?;
        Ok(Self {
            decoder,
            last_luma: None,
            pictures: 0,
            changed: 0,
            errors: 0,
        })
    }

    /// Decodes one access unit; the picture's size when one came out.
    pub fn push(&mut self, frame: &[u8]) -> Option<(usize, usize)> {
        match self.decoder.decode(frame) {
            Ok(Some(picture)) => {
                let size = picture.dimensions();
                let stride = picture.strides().0;
                let luma: Vec<u8> = picture
                    .y()
                    .chunks(stride.max(1))
                    .take(size.1)
                    .flat_map(|row| &row[..size.0.min(row.len())])
                    .copied()
                    .collect();
                self.pictures += 1;
                if self.last_luma.as_ref().is_some_and(|l| *l != luma) {
                    self.changed += 1;
                }
                self.last_luma = Some(luma);
                Some(size)
            }
            Ok(None) => None,
            Err(_) => {
                self.errors += 1;
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pattern_encodes_to_baseline_frames_that_decode_and_move() {
        let mut pattern = TestPattern::new(160, 120, 30).unwrap();
        let mut decoded = Decoded::new().unwrap();
        for n in 0..10 {
            let frame = pattern.next_frame().unwrap();
            assert_eq!(
                annexb::access_units(&frame).len(),
                1,
                "one access unit per frame"
            );
            if n == 0 {
                assert!(annexb::is_key_frame(&frame));
                // SPS profile_idc 66 (baseline): byte after the 0x67 header.
                let sps = frame
                    .windows(2)
                    .position(|w| w == [0, 1])
                    .map(|p| frame[p + 3]);
                assert_eq!(sps, Some(66));
            }
            assert_eq!(
                annexb::normalized(&frame),
                frame,
                "4-byte start codes, no delimiters"
            );
            assert_eq!(decoded.push(&frame), Some((160, 120)));
        }
        assert_eq!(decoded.pictures, 10);
        assert_eq!(decoded.changed, 9);
    }

    #[test]
    fn a_key_frame_request_rewinds_a_file_to_its_group_of_pictures_and_the_pattern_makes_one() {
        let dir = std::env::temp_dir().join(format!("kvs-webrtc-gop-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("gop.h264");
        let mut pattern = TestPattern::new(64, 48, 2).unwrap(); // a key frame every 4 frames
        let frames: Vec<Vec<u8>> = (0..8).map(|_| pattern.next_frame().unwrap()).collect();
        assert!(annexb::is_key_frame(&frames[4]) && !annexb::is_key_frame(&frames[6]));
        std::fs::write(&path, frames.concat()).unwrap();
        let mut file = AnnexBFile::open(&path).unwrap();
        for _ in 0..7 {
            file.next_frame().unwrap(); // frames 0..=6 sent
        }
        file.request_key_frame();
        assert_eq!(
            file.next_frame().unwrap(),
            frames[4],
            "back to the GOP's key frame"
        );
        assert_eq!(file.next_frame().unwrap(), frames[5]);
        std::fs::remove_dir_all(&dir).unwrap();

        assert!(annexb::is_key_frame(&pattern.next_frame().unwrap())); // frame 8
        assert!(!annexb::is_key_frame(&pattern.next_frame().unwrap()));
        pattern.request_key_frame();
        assert!(annexb::is_key_frame(&pattern.next_frame().unwrap()));
    }

    #[test]
    fn a_file_without_start_codes_is_refused_with_how_to_make_one() {
        let dir = std::env::temp_dir().join(format!("kvs-webrtc-video-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("not.h264");
        std::fs::write(&path, b"RIFF....WAVEfmt ").unwrap();
        let err = AnnexBFile::open(&path).unwrap_err();
        assert!(err.to_string().contains("Annex-B"), "{err}");
        let err = AnnexBFile::open(&dir.join("missing.h264")).unwrap_err();
        assert!(matches!(err, VideoError::Read { .. }), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
