//! What a viewer's offer asks for, and what the master can serve of it, without IO.
//!
//! Viewers in the field differ: a browser with the KVS JS SDK often offers only the data
//! channel (`kvsDataChannel`), the KVS test page offers receive-only video, our viewer offers
//! both. The master serves whatever it can: the data channel when one is offered, video when
//! the viewer will receive it in H.264 (the baseline profiles, packetization-mode 1, which is
//! what browsers decode). Only when nothing is left does negotiation fail, with an error that
//! names what was offered and what we support (the seed's "SDP negotiation failures").

use rtc_sdp::description::session::SessionDescription;
use serde::Deserialize;

/// What we send video as.
pub const SUPPORTED_VIDEO: &str =
    "H.264 baseline or constrained baseline (profile-level-id 42xxxx), packetization-mode=1";

/// The signaling payload of an SDP message: `{"type":"offer","sdp":"v=0..."}`.
#[derive(Deserialize)]
struct Payload {
    #[serde(rename = "type")]
    kind: String,
    sdp: String,
}

/// The video part of an offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoOffer {
    /// The viewer will receive (`recvonly` or `sendrecv`).
    pub receives: bool,
    /// Payload types of the H.264 formats we can send.
    pub h264: Vec<u8>,
    /// Every codec offered, as `NAME` or `NAME (fmtp)`, for error messages.
    pub codecs: Vec<String>,
}

/// What an offer asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    /// An SCTP data channel m-line.
    pub data_channel: bool,
    /// The first video m-line.
    pub video: Option<VideoOffer>,
    /// Every m-line's media kind, in order (`audio`, `video`, `application`).
    pub media: Vec<String>,
}

/// What the master answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Serve {
    /// The data channel.
    pub data_channel: bool,
    /// H.264 video to the viewer.
    pub video: bool,
}

/// Why an offer cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    /// The payload is not `{"type":"offer","sdp":...}`.
    #[error("the SDP payload is not an offer as JSON {{\"type\":\"offer\",\"sdp\":...}}: {0}")]
    NotAnOffer(String),
    /// The SDP does not parse.
    #[error("malformed SDP offer: {0}")]
    Malformed(String),
    /// Nothing in the offer is something the master serves.
    #[error(
        "SDP negotiation failed: the offer has {offered}; this master serves a data channel, and video as {SUPPORTED_VIDEO} to a viewer that receives it{why}"
    )]
    NothingToServe {
        /// The offer's m-lines, e.g. `audio, video (sendonly; VP8, VP9)`.
        offered: String,
        /// Why its video, if any, could not be served.
        why: String,
    },
}

/// Reads a viewer's offer payload.
pub fn read_offer(payload: &[u8]) -> Result<Offer, SdpError> {
    let payload: Payload =
        serde_json::from_slice(payload).map_err(|e| SdpError::NotAnOffer(e.to_string()))?;
    if payload.kind != "offer" {
        return Err(SdpError::NotAnOffer(format!(
            "type is '{}', not 'offer'",
            payload.kind
        )));
    }
    let mut reader = std::io::Cursor::new(payload.sdp.as_bytes());
    let sdp = SessionDescription::unmarshal(&mut reader)
        .map_err(|e| SdpError::Malformed(e.to_string()))?;
    let mut offer = Offer {
        data_channel: false,
        video: None,
        media: Vec::new(),
    };
    for m in &sdp.media_descriptions {
        let kind = m.media_name.media.clone();
        match kind.as_str() {
            "application" => {
                offer.data_channel |= m.media_name.protos.iter().any(|p| p == "SCTP");
            }
            "video" if offer.video.is_none() => {
                let receives = !(m.has_attribute("sendonly") || m.has_attribute("inactive"));
                let mut codecs: Vec<_> = m.codecs().into_values().collect();
                codecs.sort_by_key(|c| c.payload_type);
                let h264 = codecs
                    .iter()
                    .filter(|c| c.name.eq_ignore_ascii_case("H264") && servable_h264(&c.fmtp))
                    .map(|c| c.payload_type)
                    .collect();
                let names = codecs
                    .iter()
                    .map(|c| match c.fmtp.as_str() {
                        "" => c.name.clone(),
                        fmtp => format!("{} ({fmtp})", c.name),
                    })
                    .collect();
                offer.video = Some(VideoOffer {
                    receives,
                    h264,
                    codecs: names,
                });
            }
            _ => {}
        }
        offer.media.push(kind);
    }
    Ok(offer)
}

/// True for H.264 parameters we can send: packetization-mode 1 and a baseline profile
/// (profile_idc 0x42, any constraint flags, so constrained baseline too).
fn servable_h264(fmtp: &str) -> bool {
    let mut mode_1 = false;
    let mut baseline = false;
    for param in fmtp.split(';') {
        match param.trim().split_once('=') {
            Some(("packetization-mode", v)) => mode_1 = v.trim() == "1",
            Some(("profile-level-id", v)) => {
                baseline = v
                    .trim()
                    .get(..2)
                    .is_some_and(|p| p.eq_ignore_ascii_case("42"))
            }
            _ => {}
        }
    }
    mode_1 && baseline
}

impl Offer {
    /// What the master answers with, or why it cannot answer.
    pub fn serve(&self) -> Result<Serve, SdpError> {
        let video = self
            .video
            .as_ref()
            .is_some_and(|v| v.receives && !v.h264.is_empty());
        if self.data_channel || video {
            return Ok(Serve {
                data_channel: self.data_channel,
                video,
            });
        }
        let why = match &self.video {
            None => String::new(),
            Some(v) if !v.receives => "; the offered video is send-only or inactive".into(),
            Some(v) => format!(
                "; the offered video codecs are {}",
                if v.codecs.is_empty() {
                    "none".to_owned()
                } else {
                    v.codecs.join(", ")
                }
            ),
        };
        let offered = if self.media.is_empty() {
            "no media".to_owned()
        } else {
            self.media.join(", ")
        };
        Err(SdpError::NothingToServe { offered, why })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sdp(media: &str) -> String {
        format!("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n{media}")
    }

    fn payload(sdp: &str) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({"type": "offer", "sdp": sdp})).unwrap()
    }

    const DATA: &str = "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\na=sctp-port:5000\r\n";

    fn video(direction: &str, codecs: &[(u8, &str, &str)]) -> String {
        let pts: Vec<String> = codecs.iter().map(|(pt, ..)| pt.to_string()).collect();
        let mut m = format!(
            "m=video 9 UDP/TLS/RTP/SAVPF {}\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na={direction}\r\n",
            pts.join(" ")
        );
        for (pt, name, fmtp) in codecs {
            m.push_str(&format!("a=rtpmap:{pt} {name}/90000\r\n"));
            if !fmtp.is_empty() {
                m.push_str(&format!("a=fmtp:{pt} {fmtp}\r\n"));
            }
        }
        m
    }

    const CHROME_H264: (u8, &str, &str) = (
        102,
        "H264",
        "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
    );

    #[test]
    fn a_data_channel_only_offer_gets_a_data_channel() {
        let offer = read_offer(&payload(&sdp(DATA))).unwrap();
        assert_eq!(
            offer.serve(),
            Ok(Serve {
                data_channel: true,
                video: false
            })
        );
    }

    #[test]
    fn receive_only_video_in_h264_mode_1_gets_video_and_both_get_both() {
        let codecs = [(96, "VP8", ""), CHROME_H264];
        let only_video = read_offer(&payload(&sdp(&video("recvonly", &codecs)))).unwrap();
        assert_eq!(only_video.video.as_ref().unwrap().h264, [102]);
        assert_eq!(
            only_video.serve(),
            Ok(Serve {
                data_channel: false,
                video: true
            })
        );
        let both = format!("{}{DATA}", video("recvonly", &codecs));
        let both = read_offer(&payload(&sdp(&both))).unwrap();
        assert_eq!(
            both.serve(),
            Ok(Serve {
                data_channel: true,
                video: true
            })
        );
    }

    #[test]
    fn video_we_cannot_send_leaves_the_data_channel() {
        let vp8 = format!("{}{DATA}", video("recvonly", &[(96, "VP8", "")]));
        let offer = read_offer(&payload(&sdp(&vp8))).unwrap();
        assert_eq!(
            offer.serve(),
            Ok(Serve {
                data_channel: true,
                video: false
            })
        );
    }

    #[test]
    fn negotiation_failures_name_what_was_offered_and_what_we_support() {
        let cases = [
            (
                video("recvonly", &[(96, "VP8", ""), (98, "VP9", "profile-id=0")]),
                "VP8, VP9 (profile-id=0)",
            ),
            (
                video(
                    "recvonly",
                    &[(100, "H264", "packetization-mode=0;profile-level-id=42e01f")],
                ),
                "H264 (packetization-mode=0;profile-level-id=42e01f)",
            ),
            (
                video(
                    "recvonly",
                    &[(100, "H264", "packetization-mode=1;profile-level-id=64001f")],
                ),
                "profile-level-id=64001f",
            ),
            (video("sendonly", &[CHROME_H264]), "send-only or inactive"),
        ];
        for (media, says) in cases {
            let err = read_offer(&payload(&sdp(&media)))
                .unwrap()
                .serve()
                .unwrap_err();
            let text = err.to_string();
            assert!(text.contains("the offer has video"), "{text}");
            assert!(text.contains(SUPPORTED_VIDEO), "{text}");
            assert!(text.contains(says), "{says} in {text}");
        }
        let audio = "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n";
        let err = read_offer(&payload(&sdp(audio)))
            .unwrap()
            .serve()
            .unwrap_err();
        assert!(err.to_string().contains("the offer has audio;"), "{err}");
    }

    #[test]
    fn garbage_is_refused_with_the_reason() {
        assert!(matches!(
            read_offer(b"not json"),
            Err(SdpError::NotAnOffer(_))
        ));
        let answer = br#"{"type":"answer","sdp":"v=0"}"#;
        assert!(
            matches!(read_offer(answer), Err(SdpError::NotAnOffer(m)) if m.contains("'answer'"))
        );
        for bad in [
            "",
            "x=1",
            "v=0\r\nm=video\r\n",
            "v=0\r\no=- 1\r\n",
            "\u{0}\u{ffff}",
        ] {
            assert!(
                matches!(read_offer(&payload(bad)), Err(SdpError::Malformed(_))),
                "{bad:?}"
            );
        }
        // Cut a valid offer anywhere: refused or read, never a panic.
        let full = sdp(&format!("{}{DATA}", video("recvonly", &[CHROME_H264])));
        for cut in 0..full.len() {
            if let Some(prefix) = full.get(..cut) {
                let _ = read_offer(&payload(prefix));
            }
        }
    }
}
